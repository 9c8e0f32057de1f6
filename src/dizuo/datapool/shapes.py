"""Pure shape functions of the data pool: storage-class parameters and dataset labels."""

from __future__ import annotations

from typing import Any

from dizuo.cloud.shapes import LIMIT_FACTOR, container_limits, mebibytes, millicores, per_storage_class
from dizuo.declaration.model import Dataset, Declaration, StoragePool, exact
from dizuo.naming import label, metadata_key

# CSI provisioners of the backends the government cloud offers (Ceph via ceph-csi).
PROVISIONERS = {
    "ceph-rbd": "rbd.csi.ceph.com",
    "cephfs": "cephfs.csi.ceph.com",
    "local": "kubernetes.io/no-provisioner",
}

CLASSIFICATION_LEVEL = {"一般": "general", "重要": "important", "核心": "core"}


# The Secret holding ceph-csi's Ceph credentials, and its namespace, as the ceph-csi Helm charts install them.
CSI_SECRETS = {"ceph-rbd": ("csi-rbd-secret", "ceph-csi-rbd"), "cephfs": ("csi-cephfs-secret", "ceph-csi-cephfs")}


def storage_class_parameters(pool: StoragePool) -> dict[str, str]:
    """ceph-csi's parameters: which Ceph cluster (fsid) and pool, and the credentials for each of its steps.

    StorageClass parameters cannot change after creation: everything a volume needs is set here from the start
    (expansion needs the controller-expand secret, since allowVolumeExpansion is on).
    """
    if pool.backend not in CSI_SECRETS:
        return {}
    secret, namespace = CSI_SECRETS[pool.backend]
    credentials = {
        f"csi.storage.k8s.io/{step}-secret-{field}": value
        for step in ("provisioner", "controller-expand", "node-stage")
        for field, value in (("name", secret), ("namespace", namespace))
    }
    where = (
        {"pool": pool.name, "imageFeatures": "layering", "csi.storage.k8s.io/fstype": "xfs"}
        if pool.backend == "ceph-rbd"
        else {"fsName": pool.name}
    )
    return {"clusterID": str(pool.ceph_cluster_id), **where, **credentials}


def storage_class_mount_options(pool: StoragePool) -> list[str] | None:
    """Mount options of a pool's volumes: RBD volumes without access times. A dataset's freshness counts the bytes
    written to its RBD image (`dizuo capacity serve`): with relatime, every file a consumer reads rewrites its inode
    once a day, and a dataset read nightly by its consumers would pass for loaded. Set at creation, as parameters."""
    return ["noatime"] if pool.backend == "ceph-rbd" else None


def storage_class_expands(pool: StoragePool) -> bool:
    """Whether a pool's claims may grow: ceph-csi expands its volumes; a local pool's volumes are disks set up by hand
    (no provisioner), which nothing resizes. Allowed there, the API would take a grown claim and the update succeed,
    while the claim waits for a resize that never comes; refused, the update fails and names the claim."""
    return pool.backend != "local"


def dataset_labels(ds: Dataset, city: str) -> dict[str, str]:
    """Ownership, classification and freshness labels every dataset carries (一数一源: one owner)."""
    return {
        "app.kubernetes.io/part-of": city,
        "app.kubernetes.io/managed-by": "dizuo",
        label("dataset"): ds.code,
        label("owner"): ds.owner,
        label("classification"): CLASSIFICATION_LEVEL[ds.classification.value],
        label("retention-days"): str(ds.retention_days),
        label("refresh-days"): str(ds.refresh_days),
    }


GIB = 2**30


def bucket_metadata(ds: Dataset, city: str) -> dict[str, str]:
    """A dataset bucket's container metadata (X-Container-Meta-<key>, as pulumi-openstack sends each key): its labels,
    and its declared size as Swift's container quota (Quota-Bytes, enforced by the container_quotas middleware of the
    proxy pipeline: an upload past it is refused). The quota is also what the capacity exporter reads as the bucket's
    capacity where the object store publishes it."""
    labels = {metadata_key(key): value for key, value in dataset_labels(ds, city).items()}
    return {**labels, "Quota-Bytes": str(ds.size_gib * GIB)}


def dataset_annotations(ds: Dataset, pool: StoragePool) -> dict[str, str]:
    """What a dataset's claim says of itself. On a local pool (WaitForFirstConsumer) the claim binds only when a
    loader mounts it, so Pulumi must not wait for it to bind: older pulumi-kubernetes releases waited until their
    timeout and failed the update (pulumi-kubernetes#895, #4179)."""
    annotations = {label("title"): ds.name, label("records"): str(ds.records), label("size-gib"): str(ds.size_gib)}
    if pool.backend == "local":
        annotations["pulumi.com/skipAwait"] = "true"
    return annotations


def dataset_quota(d: Declaration, owner: str, cluster: str) -> dict[str, str]:
    """ResourceQuota of an owner's dataset namespace on ``cluster``: its declared volumes, and nothing more, and what
    its loaders may run with (departments.yaml ``data_loaders``: requests, and LIMIT_FACTOR times that as limits).

    The volumes are granted per storage class (each dataset's pool), the cluster's other classes at zero: with a
    total, a claim grown or added on one pool past its datasets would be admitted while room lasts on another, and the
    dataset declared there refused when it comes.

    There is no storage total (``requests.storage``), as in a system's quota (``quota_hard``), nor a claim count
    (``persistentvolumeclaims``, which a system's quota keeps at 20: an owner's claims are its datasets): a
    dataset moved to another pool (retired, and declared again there) leaves its claim in the namespace, kept and
    still counted, and a total would refuse the new claim that its class grants until the old data were deleted.
    Counting the kept claims in a total instead would have the declaration list every claim the stack has forgotten,
    and forget it again when it is deleted by hand. The kept claim counts against its own class, which no longer
    grants it: that pool takes no new claim of the owner until it is deleted, which is where its data still is.
    Without a total, a claim on a class that is not the city's on this cluster (the cluster's default, a chart's own;
    no quota key can cap the classes it does not name) would be capped by nothing: the baseline's admission policy
    ``dizuo-city-storage-classes`` refuses it in every managed namespace, a dataset owner's too (the data-pool stack
    reads that policy from the baseline's contract, ``storage_class_policy``, so it stops under a baseline published
    before the policy bound owners' namespaces)."""
    volumes = [ds for ds in d.datasets if ds.owner == owner and d.loader_cluster(ds) == cluster]
    pools = dict.fromkeys(ds.storage_pool for ds in volumes)
    on = {pool: [ds for ds in volumes if ds.storage_pool == pool] for pool in pools}
    storage = {pool: f"{sum(ds.size_gib for ds in held)}Gi" for pool, held in on.items()}
    claims = {pool: str(len(held)) for pool, held in on.items()}
    loaders = d.department(owner).data_loaders
    cpu, memory = exact(loaders.cpu), exact(loaders.memory_gib)
    return {
        "requests.cpu": f"{millicores(cpu)}m",
        "requests.memory": f"{mebibytes(memory)}Mi",
        "limits.cpu": f"{millicores(cpu * LIMIT_FACTOR)}m",
        "limits.memory": f"{mebibytes(memory * LIMIT_FACTOR)}Mi",
        **per_storage_class(d, cluster, "requests.storage", storage),
        **per_storage_class(d, cluster, "persistentvolumeclaims", claims),
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }


def loader_limits(d: Declaration, owner: str) -> list[dict[str, Any]]:
    """LimitRange limits of an owner's dataset namespace: no loader container above the namespace's limits, and
    defaults for one that declares no resources (a core at most), which the quota on CPU and memory would refuse."""
    loaders = d.department(owner).data_loaders
    cpu = exact(loaders.cpu)
    return container_limits(cpu, exact(loaders.memory_gib), millicores(cpu))


def dataset_namespace(owner: str) -> str:
    """Datasets live in one namespace per owning department."""
    return f"dp-{owner}"


def owner_namespace_resource(cluster: str, owner: str) -> str:
    """What the Pulumi names of ``owner``'s namespace on ``cluster`` and of what fences it start with (after the
    component's name): ``<cluster>-dp-<owner>``. Both codes hold hyphens, so two pairs can spell it alike
    (declaration.checks refuses them); it stays as deployed stacks have it, since a new name would replace them."""
    return f"{cluster}-{dataset_namespace(owner)}"
