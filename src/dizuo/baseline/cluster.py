"""ClusterBaseline: the cluster-wide security settings every namespace relies on.

三权分立 (separation of the system, security and audit administrators) as three ClusterRoles bound to three
groups, the department roles namespaces bind to, and an admission policy that refuses privileged workloads in
managed namespaces even where Pod Security labels were removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from dizuo.aliases import aliased
from dizuo.contracts import SYSADMIN_GROUP, SYSADMIN_WORKLOADS, BaselineContract
from dizuo.declaration.model import Declaration
from dizuo.naming import label, storage_class

READ = ["get", "list", "watch"]
WRITE = ["create", "update", "patch", "delete"]
WORKLOADS = ["pods", "pods/log", "services", "endpoints", "configmaps", "persistentvolumeclaims", "events"]
APPS = ["deployments", "statefulsets", "daemonsets", "replicasets"]
SECURITY = ["roles", "rolebindings", "clusterroles", "clusterrolebindings"]


def cluster_roles() -> dict[str, list[dict[str, Any]]]:
    """The rules of each dizuo ClusterRole (pure data, tested without Pulumi)."""
    return {
        # A department runs its systems: workloads yes; quotas, RBAC and network policy no (that is the
        # security administrator's), secrets only in its own namespaces through RoleBindings.
        "dizuo-department-admin": [
            {"apiGroups": [""], "resources": [*WORKLOADS, "secrets"], "verbs": READ + WRITE},
            {"apiGroups": ["apps"], "resources": APPS, "verbs": READ + WRITE},
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": READ + WRITE},
            {"apiGroups": [""], "resources": ["resourcequotas", "limitranges"], "verbs": READ},
        ],
        "dizuo-department-viewer": [
            {"apiGroups": [""], "resources": WORKLOADS, "verbs": READ},
            {"apiGroups": ["apps"], "resources": APPS, "verbs": READ},
        ],
        # 系统管理员: operates the platform, cannot grant rights or read secrets. Cluster-wide it reads and
        # drains nodes; it runs workloads only in the namespaces dizuo manages (SYSADMIN_WORKLOADS, bound there
        # per namespace): the right to create pods in kube-system would be the right to become cluster-admin
        # through its service accounts, and the right to relabel namespaces would switch off Pod Security.
        "dizuo-sysadmin": [
            {
                "apiGroups": ["", "apps", "batch"],
                "resources": [*WORKLOADS, *APPS, "nodes", "namespaces"],
                "verbs": READ,
            },
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch", "update"]},  # cordon, taints
            {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},  # drain
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": READ},
        ],
        SYSADMIN_WORKLOADS: [
            {"apiGroups": [""], "resources": WORKLOADS, "verbs": READ + WRITE},
            {"apiGroups": ["apps"], "resources": APPS, "verbs": READ + WRITE},
            {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": READ + WRITE},
        ],
        # 安全管理员: owns RBAC, network policy, quotas and admission policy; runs no workloads.
        "dizuo-secadmin": [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": SECURITY, "verbs": READ + WRITE},
            {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": READ + WRITE},
            {
                "apiGroups": [""],
                "resources": ["resourcequotas", "limitranges", "namespaces"],
                "verbs": [*READ, "update", "patch"],
            },
            {
                "apiGroups": ["admissionregistration.k8s.io"],
                "resources": ["validatingadmissionpolicies", "validatingadmissionpolicybindings"],
                "verbs": READ + WRITE,
            },
        ],
        # 审计管理员: reads everything but secrets, changes nothing.
        "dizuo-auditadmin": [
            {
                "apiGroups": ["", "apps", "batch", "networking.k8s.io", "rbac.authorization.k8s.io"],
                "resources": [
                    *WORKLOADS,
                    *APPS,
                    *SECURITY,
                    "namespaces",
                    "nodes",
                    "networkpolicies",
                    "resourcequotas",
                    "jobs",
                    "cronjobs",
                ],
                "verbs": READ,
            },
        ],
    }


SEPARATION_OF_DUTIES = {
    "dizuo-sysadmin": SYSADMIN_GROUP,
    "dizuo-secadmin": "dizuo:secadmins",
    "dizuo-auditadmin": "dizuo:auditadmins",
}

# Checked on every pod, however it is made (Deployment, Job, CronJob, a bare pod, `kubectl debug`): a pod is
# where a privileged container would run. Pod Security admission says much the same through namespace labels;
# this holds even where those labels were removed.
RESTRICTED_POD_VARIABLES = [
    {
        "name": "containers",
        "expression": "object.spec.containers"
        " + (has(object.spec.initContainers) ? object.spec.initContainers : [])"
        " + (has(object.spec.ephemeralContainers) ? object.spec.ephemeralContainers : [])",
    },
]
RESTRICTED_POD_VALIDATIONS = [
    {
        "expression": "variables.containers.all(c, !has(c.securityContext) || "
        "!has(c.securityContext.privileged) || c.securityContext.privileged == false)",
        "message": "privileged containers are not allowed in dizuo-managed namespaces (等保 DZ 入侵防范)",
    },
    {
        "expression": "variables.containers.all(c, !has(c.securityContext) || "
        "!has(c.securityContext.capabilities) || !has(c.securityContext.capabilities.add) || "
        "c.securityContext.capabilities.add.all(a, a == 'NET_BIND_SERVICE'))",
        "message": "containers may add no capability but NET_BIND_SERVICE in dizuo-managed namespaces",
    },
    {
        "expression": "(!has(object.spec.hostNetwork) || object.spec.hostNetwork == false) && "
        "(!has(object.spec.hostPID) || object.spec.hostPID == false) && "
        "(!has(object.spec.hostIPC) || object.spec.hostIPC == false)",
        "message": "host namespaces (hostNetwork, hostPID, hostIPC) are not allowed in dizuo-managed namespaces",
    },
    {
        "expression": "!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.hostPath))",
        "message": "hostPath volumes are not allowed in dizuo-managed namespaces",
    },
]


# Pulumi's protect guards data against `pulumi destroy`; this guards it against `kubectl delete`, by anyone. What
# holds data is told by the labels of the object deleted (a dataset's claim, the namespace holding an owner's
# datasets, a system's namespace) and, for a claim, by its namespace's: every claim in an owner's dataset namespace
# (dizuo.io/owner) is a dataset's (its quota admits the declared datasets' claims and nothing more) and every claim in
# a system's namespace (dizuo.io/system) holds the system's data. The namespace's label is what counts: the claim's
# own labels are the department's to change (its admins may update claims), so taking them off must not make a
# dataset deletable. A claim's namespace can be relabelled by the security administrator alone.
# Deleting data is a deliberate step: the cloud and data-pool stacks only forget what is retired (retain_on_delete);
# the security administrator then takes the namespace's label off, a retired dataset's claim loses its own labels
# (the stack that forgot it leaves them on), and the claim or the namespace is deleted.
_DATA_LABELS = (label("dataset"), label("owner"), label("system"))
_DATA_NAMESPACE_LABELS = (label("owner"), label("system"))
KEEP_DATA_VALIDATIONS = [
    {
        "expression": "!has(oldObject.metadata.labels) || !("
        + " || ".join(f"'{key}' in oldObject.metadata.labels" for key in _DATA_LABELS)
        + ")",
        "message": "holds data (a dataset of the data pool: dizuo.io/dataset or dizuo.io/owner label; a system's "
        "volumes: dizuo.io/system): not deleted; retire the dataset in datasets.yaml, or the system in systems.yaml, "
        "and have the security administrator remove the namespace's dizuo.io/owner or dizuo.io/system label, first",
    },
    {
        # namespaceObject is null for a cluster-scoped object (a Namespace): the rule above judges those.
        "expression": "namespaceObject == null || !has(namespaceObject.metadata.labels) || !("
        + " || ".join(f"'{key}' in namespaceObject.metadata.labels" for key in _DATA_NAMESPACE_LABELS)
        + ")",
        "message": "a claim in an owner's dataset namespace (labelled dizuo.io/owner) or a system's namespace "
        "(dizuo.io/system) holds a dataset or the system's data, whatever its own labels say: not deleted while the "
        "namespace carries the label; the security administrator removes it first",
    },
]


# The annotation Kubernetes reads a claim's class from before spec.storageClassName (GetPersistentVolumeClaimClass:
# the quota evaluator and the provisioner use it), without checking that the two agree.
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def _claim_class(claim: str) -> str:
    """CEL of the class Kubernetes charges and provisions ``claim`` (``object``, ``oldObject``) on: its beta annotation
    if present, else spec.storageClassName, else "" (no class, as Kubernetes reads it)."""
    annotations = f"{claim}.metadata.annotations"
    field = f"{claim}.spec.storageClassName"
    return (
        f"has({annotations}) && '{BETA_STORAGE_CLASS_ANNOTATION}' in {annotations}"
        f" ? {annotations}['{BETA_STORAGE_CLASS_ANNOTATION}'] : has({field}) ? {field} : ''"
    )


# oldObject is null on CREATE: no class to keep.
CLAIM_CLASS_VARIABLES = [
    {"name": "claimClass", "expression": _claim_class("object")},
    {"name": "oldClaimClass", "expression": f"request.operation == 'CREATE' ? '' : {_claim_class('oldObject')}"},
]


def storage_class_validations(classes: Sequence[str]) -> list[dict[str, str]]:
    """A claim in a managed namespace (a system's, a dataset owner's) is on one of the city's StorageClasses on this
    cluster (``classes``), or, updated, stays on the class it was on.

    The namespace's ResourceQuota caps each of those classes (a system's own pool at its allocation, an owner's pools
    at its datasets, the others at zero) and no total: a total would count the claims a migration wave leaves bound
    on the old pool, or a moved dataset's kept claim, against the new one. A claim on any other class (the cluster's
    default, a chart's own) would then be capped by nothing, so it is refused here. The class judged is the one the
    quota charges (``claimClass``: the beta annotation first), not only the spec field, which a claim may set to a
    city class while its annotation names another. An empty class ("") binds a pre-made volume past every quota; a
    missing one is what is left when the cluster has no default class (the DefaultStorageClass admission plugin runs
    before this policy and fills it in when there is one, so a claim that names no class is judged by the class it
    gets). An update that keeps the class (a resize, a label) is admitted, even of a claim made before the policy.
    """
    listed = ", ".join(f"'{c}'" for c in sorted(classes))
    return [
        {
            "expression": f"variables.claimClass in [{listed}]"
            " || (request.operation == 'UPDATE' && variables.claimClass == variables.oldClaimClass)",
            "message": "a system's or dataset owner's claims use the city's storage classes on this cluster "
            f"({', '.join(sorted(classes)) or 'none'}), in spec.storageClassName and in the "
            f"{BETA_STORAGE_CLASS_ANNOTATION} annotation, and keep their class: its namespace's quota counts nothing "
            "else",
        }
    ]


def city_storage_classes(d: Declaration, cluster: str) -> tuple[str, ...]:
    """The StorageClasses the data-pool stack makes on ``cluster``: one per block or file storage pool."""
    return tuple(storage_class(d.city.prefix, pool.name) for pool in d.claimable_pools(cluster))


# A system's or dataset owner's namespace, as the cloud and data-pool stacks label them (cloud.shapes.system_labels,
# DataPool._owner_namespace); the policy pack refuses such a namespace without the label, or a patch taking it off.
MANAGED_NAMESPACES = {"matchLabels": {label("managed"): "true"}}


@dataclass(frozen=True, kw_only=True)
class ClusterBaselineArgs:
    """Inputs of :class:`ClusterBaseline`."""

    cluster: str
    """The cluster's name (for logical names)."""
    storage_classes: tuple[str, ...] = ()
    """The city's StorageClasses on this cluster (``city_storage_classes``): the only ones systems and dataset owners
    may claim from."""
    former_name: str | None = None
    """The component's name before its cluster was renamed (clusters.yaml ``renamed_from``, :func:`baseline_name`):
    its alias and, after it, each of its children's."""


def baseline_name(cluster: str) -> str:
    """Pulumi logical name of a cluster's baseline."""
    return f"{cluster}-baseline"


class ClusterBaseline(pulumi.ComponentResource):
    """Cluster-wide roles and admission policy of one cluster."""

    contract: BaselineContract

    def __init__(self, name: str, args: ClusterBaselineArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # A renamed cluster's baseline is the deployed one, and so is each of its objects (named after the component):
        # a new one would be created beside the deployed object of its name, which the API refuses (AlreadyExists).
        was = args.former_name
        super().__init__("dizuo:baseline:ClusterBaseline", name, None, aliased(opts or pulumi.ResourceOptions(), was))
        child = pulumi.ResourceOptions(parent=self)
        meta_labels = {"app.kubernetes.io/managed-by": "dizuo"}
        for role, rules in cluster_roles().items():
            k8s.rbac.v1.ClusterRole(
                f"{name}-{role}",
                metadata={"name": role, "labels": meta_labels},
                rules=rules,
                opts=aliased(child, was and f"{was}-{role}"),
            )
        for role, group in SEPARATION_OF_DUTIES.items():
            k8s.rbac.v1.ClusterRoleBinding(
                f"{name}-{role}-binding",
                metadata={"name": role, "labels": meta_labels},
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
                opts=aliased(child, was and f"{was}-{role}-binding"),
            )
        policy = "dizuo-restricted-workloads"
        keep = "dizuo-keep-data"
        classes = "dizuo-city-storage-classes"
        # (name, operations, resources, variables, validations, binding's matchResources)
        admission: tuple[
            tuple[str, list[str], list[str], list[dict[str, str]], list[dict[str, str]], dict[str, Any]], ...
        ] = (
            (
                policy,
                ["CREATE", "UPDATE"],
                # pods/ephemeralcontainers: `kubectl debug` adds containers through it.
                ["pods", "pods/ephemeralcontainers"],
                RESTRICTED_POD_VARIABLES,
                RESTRICTED_POD_VALIDATIONS,
                {"matchResources": {"namespaceSelector": MANAGED_NAMESPACES}},
            ),
            (keep, ["DELETE"], ["persistentvolumeclaims", "namespaces"], [], KEEP_DATA_VALIDATIONS, {}),
            # UPDATE too: a claim without a class may be given one later, and its annotation may change the class
            # the quota charges; an update that keeps the class (a resize) is admitted.
            (
                classes,
                ["CREATE", "UPDATE"],
                ["persistentvolumeclaims"],
                CLAIM_CLASS_VARIABLES,
                storage_class_validations(args.storage_classes),
                {"matchResources": {"namespaceSelector": MANAGED_NAMESPACES}},
            ),
        )
        for policy_name, operations, resources, variables, validations, binding in admission:
            rule = {"apiGroups": [""], "apiVersions": ["v1"], "operations": operations, "resources": resources}
            k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
                f"{name}-{policy_name}",
                metadata={"name": policy_name, "labels": meta_labels},
                spec={
                    "failurePolicy": "Fail",
                    "matchConstraints": {"resourceRules": [rule]},
                    **({"variables": variables} if variables else {}),
                    "validations": validations,
                },
                opts=aliased(child, was and f"{was}-{policy_name}"),
            )
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                f"{name}-{policy_name}-binding",
                metadata={"name": policy_name, "labels": meta_labels},
                spec={"policyName": policy_name, "validationActions": ["Deny"], **binding},
                opts=aliased(child, was and f"{was}-{policy_name}-binding"),
            )
        self.contract = BaselineContract(
            department_admin_role="dizuo-department-admin",
            department_viewer_role="dizuo-department-viewer",
            sysadmin_workloads_role=SYSADMIN_WORKLOADS,
            sysadmin_group=SYSADMIN_GROUP,
            audit_admin_role="dizuo-auditadmin",
            restricted_policy=policy,
            storage_class_policy=classes,
        )
        self.register_outputs({"cluster": args.cluster})
