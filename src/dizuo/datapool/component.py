"""DataPool: storage classes that retain, and one protected volume or bucket per dataset."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_openstack as openstack

from dizuo.aliases import aliased
from dizuo.cloud.providers import configured_openstack_region
from dizuo.cloud.shapes import loader_egress
from dizuo.contracts import BaselineContract
from dizuo.datapool import shapes
from dizuo.declaration.model import Declaration
from dizuo.naming import label, storage_class
from dizuo.naming import name as dz_name

# Data outlives stacks: Pulumi refuses to delete these (protect) and, should protection be lifted on purpose,
# a destroy still only forgets them (retain_on_delete) instead of deleting the data.
KEEP_DATA = pulumi.ResourceOptions(protect=True, retain_on_delete=True)


@dataclass(frozen=True, kw_only=True)
class DataPoolArgs:
    """Inputs of :class:`DataPool`."""

    declaration: Declaration
    """The city: storage pools, datasets and their owners."""
    baseline: pulumi.Output[BaselineContract]
    """The baseline stack's contract: the role owners get in their dataset namespace."""
    providers: dict[str, k8s.Provider]
    """Kubernetes provider per cluster."""
    region: str | None = None
    """The OpenStack region of the buckets (``openstack:region``, :func:`configured_region`); None without buckets."""


def configured_region(declaration: Declaration) -> str | None:
    """``openstack:region`` of the stack's config: the region every dataset bucket is made in; required, as
    :func:`~dizuo.cloud.providers.configured_openstack_region` says, when the declaration has a bucket."""
    buckets = [ds.code for ds in declaration.datasets if ds.kind == "bucket"]
    named = ", ".join(buckets[:3]) + (", ..." if len(buckets) > 3 else "")
    return configured_openstack_region(
        f"datasets.yaml declares {len(buckets)} bucket(s) ({named})" if buckets else None
    )


class DataPool(pulumi.ComponentResource):
    """The city's data pool on the government cloud."""

    def __init__(self, name: str, args: DataPoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dizuo:datapool:DataPool", name, None, opts)
        d = args.declaration
        prefix = d.city.prefix
        pools = {p.name: p for p in d.storage_pools()}
        classes: dict[str, k8s.storage.v1.StorageClass] = {}

        for cluster in d.clusters:
            provider = args.providers.get(cluster.name)
            if provider is None:
                continue
            for pool in cluster.storage_pools:
                if pool.backend == "s3":
                    continue  # object pools hold buckets, not volumes
                classes[pool.name] = k8s.storage.v1.StorageClass(
                    f"{name}-{pool.name}-sc",
                    metadata={
                        "name": storage_class(prefix, pool.name),
                        "labels": {label("storage-pool"): pool.name},
                    },
                    provisioner=shapes.PROVISIONERS[pool.backend],
                    parameters=shapes.storage_class_parameters(pool),
                    mount_options=shapes.storage_class_mount_options(pool),
                    # Retain: deleting a claim must never delete the volume behind it.
                    reclaim_policy="Retain",
                    allow_volume_expansion=shapes.storage_class_expands(pool),
                    volume_binding_mode="WaitForFirstConsumer" if pool.backend == "local" else "Immediate",
                    opts=pulumi.ResourceOptions(parent=self, provider=provider),
                )

        # An owner's namespace and its quota in each cluster holding its volumes: a claim waits for both, so that a
        # dataset grown in the declaration is admitted only after the quota has grown with it (the API refuses a claim
        # beyond the quota).
        # A renamed cluster's owner namespaces are the deployed ones, named after it: as new ones, the protected
        # namespaces would fail the update, and the rest would be created beside the objects of their names.
        formerly = d.former_cluster_names()
        namespaces = {
            (cluster, owner): self._owner_namespace(
                name, cluster, owner, d, args.providers[cluster], args, formerly.get(cluster)
            )
            for owner in dict.fromkeys(ds.owner for ds in d.datasets)
            for cluster in d.loader_clusters(owner)
        }
        for ds in d.datasets:
            pool = pools[ds.storage_pool]
            labels = shapes.dataset_labels(ds, d.city.code)
            annotations = shapes.dataset_annotations(ds, pool)
            if ds.kind == "bucket":
                openstack.objectstorage.Container(
                    f"{name}-{ds.code}-bucket",
                    name=dz_name(prefix, "dp", ds.code),
                    metadata=shapes.bucket_metadata(ds, d.city.code),
                    versioning=True,
                    # Pinned, not left to the provider: where the region is unset, it takes the operator's environment.
                    # A region is fixed at creation (the provider replaces a container whose region changes).
                    region=args.region,
                    opts=pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self), KEEP_DATA),
                )
                continue
            cluster_name = d.loader_cluster(ds)
            assert cluster_name is not None  # noqa: S101 - a volume on one of pools, each a declared cluster's
            provider = args.providers[cluster_name]
            ns_name = shapes.dataset_namespace(ds.owner)
            ns, quota = namespaces[(cluster_name, ds.owner)]
            k8s.core.v1.PersistentVolumeClaim(
                f"{name}-{ds.code}-pvc",
                metadata={
                    "name": ds.code,
                    "namespace": ns_name,
                    "labels": labels,
                    "annotations": annotations,
                },
                spec={
                    "accessModes": ["ReadWriteOnce"],
                    "storageClassName": storage_class(prefix, pool.name),
                    "resources": {"requests": {"storage": f"{ds.size_gib}Gi"}},
                },
                # Its storage class first: a claim made before it waits for a provisioner's retry instead of binding.
                opts=pulumi.ResourceOptions.merge(
                    pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns, quota, classes[pool.name]]),
                    KEEP_DATA,
                ),
            )
        self.register_outputs({"datasets": len(d.datasets)})

    def _owner_namespace(
        self,
        name: str,
        cluster: str,
        owner: str,
        d: Declaration,
        provider: k8s.Provider,
        args: DataPoolArgs,
        cluster_was: str | None = None,
    ) -> tuple[k8s.core.v1.Namespace, k8s.core.v1.ResourceQuota]:
        """``owner``'s namespace on ``cluster`` and what fences it; ``cluster_was``: the cluster's former name (its
        ``renamed_from``), after which the deployed ones are named (their aliases)."""
        ns_name = shapes.dataset_namespace(owner)
        named = f"{name}-{shapes.owner_namespace_resource(cluster, owner)}"
        was = cluster_was and f"{name}-{shapes.owner_namespace_resource(cluster_was, owner)}"
        labels = {
            "app.kubernetes.io/managed-by": "dizuo",
            label("owner"): owner,
            label("managed"): "true",
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "latest",
        }
        # Deleting a namespace deletes every claim in it: the namespace holds data too.
        ns = k8s.core.v1.Namespace(
            named,
            metadata={
                "name": ns_name,
                "labels": labels,
                "annotations": {label("owner-title"): d.department(owner).name},
            },
            opts=aliased(
                pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=self, provider=provider), KEEP_DATA), was
            ),
        )
        k8s.rbac.v1.RoleBinding(
            f"{named}-owner",
            metadata={"name": "dataset-owner", "namespace": ns_name, "labels": labels},
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": args.baseline.apply(lambda c: c.department_admin_role),
            },
            subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": f"dept:{owner}:admins"}],
            opts=aliased(
                pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns]), was and f"{was}-owner"
            ),
        )
        # Like every system namespace: what it may claim and run is what the declaration says, and no traffic flows
        # in or out unless a policy says so (the owner's loaders bring their own). The fence is retained on delete:
        # when the owner's last dataset is retired, the stack forgets its namespace, which keeps the data, and its
        # quota, LimitRange and default-deny with it. What opens it goes, as a retired system's does: the owner's
        # RoleBinding (a retired dataset is no longer the department's to use) and the declared flows, which would
        # still let the next pod there send to the retired datasets' source systems.
        in_ns = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[ns])
        fence = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(retain_on_delete=True))
        quota = k8s.core.v1.ResourceQuota(
            f"{named}-quota",
            # The quota caps only the city's classes (no total): the baseline's policy, named here for whoever reads
            # the quota, refuses the others. An older baseline is refused by the contract itself: from_output fails on
            # its missing storage_class_policy whichever field of it is read.
            metadata={
                "name": "quota",
                "namespace": ns_name,
                "labels": labels,
                "annotations": {label("storage-class-policy"): args.baseline.apply(lambda c: c.storage_class_policy)},
            },
            spec={"hard": shapes.dataset_quota(d, owner, cluster)},
            opts=aliased(fence, was and f"{was}-quota"),
        )
        # With CPU and memory in the quota, the API refuses a pod whose containers declare no requests or limits: the
        # LimitRange gives them defaults, and caps any one container at the namespace's limits.
        k8s.core.v1.LimitRange(
            f"{named}-limits",
            metadata={"name": "limits", "namespace": ns_name, "labels": labels},
            spec={"limits": shapes.loader_limits(d, owner)},
            opts=aliased(fence, was and f"{was}-limits"),
        )
        k8s.networking.v1.NetworkPolicy(
            f"{named}-default-deny",
            metadata={"name": "default-deny", "namespace": ns_name, "labels": labels},
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=aliased(fence, was and f"{was}-default-deny"),
        )
        # The owner's loaders resolve names and pull from each dataset's source_system (its namespace accepts this
        # one: cloud.shapes.dataset_loaders); the owner's role may not write network policies, so they come from here.
        k8s.networking.v1.NetworkPolicy(
            f"{named}-declared-flows",
            metadata={"name": "declared-flows", "namespace": ns_name, "labels": labels},
            spec={"podSelector": {}, "policyTypes": ["Egress"], "egress": loader_egress(d, owner, cluster)},
            opts=aliased(in_ns, was and f"{was}-declared-flows"),
        )
        return ns, quota
