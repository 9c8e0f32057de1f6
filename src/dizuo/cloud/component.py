"""SystemTenant: a system's namespace with quota, limits, RBAC, default-deny network policy, workload and disruption
budget."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from dizuo.cloud import shapes
from dizuo.contracts import BaselineContract, NetworkContract
from dizuo.declaration.model import Declaration, System
from dizuo.naming import label
from dizuo.naming import name as dz_name

# Where the clusters' ingress controller runs (ingress-nginx's own default); it serves the IngressClass
# shapes.INGRESS_CLASS.
INGRESS_NAMESPACE = "ingress-nginx"


@dataclass(frozen=True, kw_only=True)
class SystemTenantArgs:
    """Inputs of :class:`SystemTenant`."""

    declaration: Declaration
    """The whole city (for labels, placement and dependencies)."""
    system: System
    """The system this tenant hosts."""
    network: pulumi.Output[NetworkContract]
    """The network stack's contract: zone CIDRs for egress rules."""
    baseline: pulumi.Output[BaselineContract]
    """The baseline stack's contract: cluster roles to bind."""
    registry: str
    """Image registry host (the city's air-gapped registry)."""
    registry_password: pulumi.Output[str] | None = None
    """Pull secret for the registry; a Pulumi secret, never written in plaintext."""
    registry_user: str | None = None
    """The account the pull secret logs in to the registry as (``dizuo:registryUser``); None: the system's code."""


def configured_registry(config: pulumi.Config) -> str:
    """``dizuo:registry`` of the stack's config, the registry every image is pulled from; a RunError naming the key,
    its value and the config file when it is none (blank, a URL with a scheme, a trailing slash): every Deployment
    would name an image no runtime can pull, and no rollout would finish."""
    registry = config.require("registry")
    if shapes.REGISTRY.fullmatch(registry) is None:
        raise pulumi.RunError(
            f"{Path(f'Pulumi.{pulumi.get_stack()}.yaml').resolve()}: config.dizuo:registry: {registry!r}: not an image "
            "registry: its host name or address, an optional port and path, as an image reference starts "
            "(registry.example.gov.cn, 10.64.1.20:5000, harbor.example.gov.cn/city), without a scheme or a trailing "
            "slash; set it with `pulumi config set dizuo:registry <registry>` in this folder"
        )
    return registry


def configured_registry_user(config: pulumi.Config) -> str | None:
    """``dizuo:registryUser`` of the stack's config: the one account every system's pull secret logs in to the registry
    as (a Harbor robot account, say, with ``dizuo:registryPassword`` its secret); None when it is not set, and each
    system logs in as its own code. A RunError naming the key, its value and the config file when it is blank, has
    spaces around it or holds a colon: the registry takes the user up to the first colon of the pull secret's
    ``user:password``, so every pull would fail with 401."""
    user = config.get("registryUser")
    if user is not None and (not user.strip() or user != user.strip() or ":" in user):
        raise pulumi.RunError(
            f"{Path(f'Pulumi.{pulumi.get_stack()}.yaml').resolve()}: config.dizuo:registryUser: {user!r}: not a "
            "registry account: a user name without a colon or surrounding spaces (robot$city+pull); set it with "
            "`pulumi config set dizuo:registryUser <user>` in this folder, or remove it to log in as each system's code"
        )
    return user


def namespace_of(system: System) -> str:
    """A system's namespace is its code: short, unique, stable."""
    return system.code


class SystemTenant(pulumi.ComponentResource):
    """Everything one business system gets on its cluster."""

    namespace: pulumi.Output[str]

    def __init__(self, name: str, args: SystemTenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("dizuo:cloud:SystemTenant", name, None, opts)
        d, s = args.declaration, args.system
        ns_name = namespace_of(s)
        labels = shapes.system_labels(d, s)

        def meta(object_name: str) -> dict[str, object]:
            return {"name": object_name, "namespace": ns_name, "labels": labels}

        ns = k8s.core.v1.Namespace(
            f"{name}-ns",
            metadata={
                "name": ns_name,
                "labels": shapes.namespace_labels(d, s),
                "annotations": {
                    label("title"): s.name,
                    label("department-title"): d.department(s.department).name,
                },
            },
            # The namespace holds the system's volumes: deleting it deletes every claim in it. Retiring the system in
            # systems.yaml, or destroying this stack, only forgets it (the baseline's dizuo-keep-data refuses its
            # deletion while it is labelled dizuo.io/system); deleting the data is a deliberate step of its own. Not
            # protected: a retired system must leave the stack without an unprotect first.
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        in_ns = pulumi.ResourceOptions(parent=self, depends_on=[ns])
        # What fences the namespace is kept with it, as a data-pool namespace keeps its own: once the system is
        # retired, the namespace still holds its volumes, and its quota (no claim grows past the system's storage, no
        # pod takes more than it had), LimitRange (the defaults a pod declaring no resources needs under that quota)
        # and default-deny (no traffic in or out) stay in force, forgotten by the stack instead of deleted. What opens
        # it goes: the declared flows, which would let its callers and the ingress controller in to whatever pod runs
        # there next, and the people's role bindings and pull secret, which the retired system's department no longer
        # needs to reach its data (the security administrator archives or deletes it).
        fence = pulumi.ResourceOptions.merge(in_ns, pulumi.ResourceOptions(retain_on_delete=True))
        k8s.core.v1.ResourceQuota(
            f"{name}-quota", metadata=meta("quota"), spec={"hard": shapes.quota_hard(d, s)}, opts=fence
        )
        k8s.core.v1.LimitRange(
            f"{name}-limits", metadata=meta("limits"), spec={"limits": shapes.limit_range(s)}, opts=fence
        )
        bindings: list[tuple[str, pulumi.Output[str], pulumi.Input[str]]] = [
            (
                "department-admins",
                args.baseline.apply(lambda c: c.department_admin_role),
                f"dept:{s.department}:admins",
            ),
            (
                "department-viewers",
                args.baseline.apply(lambda c: c.department_viewer_role),
                f"dept:{s.department}:viewers",
            ),
            # The system administrator runs workloads here, and only in namespaces like this one (0-baseline).
            (
                "sysadmin-workloads",
                args.baseline.apply(lambda c: c.sysadmin_workloads_role),
                args.baseline.apply(lambda c: c.sysadmin_group),
            ),
        ]
        for binding, role, group in bindings:
            k8s.rbac.v1.RoleBinding(
                f"{name}-{binding.removeprefix('department-')}",
                metadata=meta(binding),
                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}],
                opts=in_ns,
            )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny",
            metadata=meta("default-deny"),
            spec={"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
            opts=fence,
        )
        by_code = {x.code: x for x in d.systems}
        here = {code for code, x in by_code.items() if x.cluster == s.cluster}
        calling = shapes.dependents(d)[s.code]
        callers = {code: namespace_of(by_code[code]) for code in calling if code in here}
        dependencies = {
            code: (namespace_of(by_code[code]), by_code[code].port) for code in s.depends_on if code in here
        }
        remote = shapes.remote_ingresses(d, s)
        served_from_outside = shapes.served_through_ingress(d, s)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-declared-flows",
            metadata=meta("declared-flows"),
            spec={
                "podSelector": {},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": shapes.ingress_rules(
                    s, callers, INGRESS_NAMESPACE if served_from_outside else None, shapes.dataset_loaders(d, s)
                ),
                "egress": shapes.egress_rules(
                    s,
                    dependencies,
                    args.network.apply(lambda c: c.zone(s.zone).cidr),
                    remote,
                    dns=shapes.dns_egress(d, s.cluster),
                ),
            },
            opts=in_ns,
        )
        pull_secrets = []
        if args.registry_password is not None:
            # One pull account for every system (dizuo:registryUser), or else one per system, named by its code.
            user = args.registry_user or s.code
            auth = args.registry_password.apply(
                lambda pw: json.dumps(
                    {"auths": {args.registry: {"auth": base64.b64encode(f"{user}:{pw}".encode()).decode()}}}
                )
            )
            k8s.core.v1.Secret(
                f"{name}-registry",
                metadata=meta("registry"),
                type="kubernetes.io/dockerconfigjson",
                string_data={".dockerconfigjson": pulumi.Output.secret(auth)},
                opts=in_ns,
            )
            pull_secrets = [{"name": "registry"}]
        selector = {"app.kubernetes.io/name": s.code}
        k8s.apps.v1.Deployment(
            f"{name}-app",
            metadata=meta(s.code),
            spec={
                "replicas": shapes.REPLICAS,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "nodeSelector": shapes.placement(d, s),
                        "imagePullSecrets": pull_secrets,
                        "automountServiceAccountToken": False,
                        "securityContext": shapes.pod_security_context(s),
                        "volumes": shapes.SCRATCH_VOLUMES,
                        "containers": [
                            {
                                "name": "app",
                                "image": f"{args.registry}/{s.image}",
                                "ports": [{"name": "http", "containerPort": s.port}],
                                "startupProbe": shapes.STARTUP_PROBE,
                                "readinessProbe": shapes.READINESS_PROBE,
                                "resources": shapes.container_resources(s),
                                "securityContext": shapes.RESTRICTED_CONTAINER_SECURITY,
                                "volumeMounts": shapes.SCRATCH_MOUNTS,
                            }
                        ],
                    },
                },
            },
            opts=in_ns,
        )
        k8s.policy.v1.PodDisruptionBudget(
            f"{name}-pdb", metadata=meta(s.code), spec=shapes.disruption_budget(selector), opts=in_ns
        )
        k8s.core.v1.Service(
            f"{name}-svc",
            metadata=meta(s.code),
            spec={"selector": selector, "ports": [{"name": "http", "port": s.port, "targetPort": "http"}]},
            opts=in_ns,
        )
        if served_from_outside:
            k8s.networking.v1.Ingress(
                f"{name}-ingress", metadata=meta(s.code), spec=shapes.ingress_spec(d, s), opts=in_ns
            )
        self.namespace = ns.metadata.name
        self.register_outputs({"namespace": ns_name})


def tenant_name(prefix: str, system: System) -> str:
    """Pulumi logical name of a system's tenant."""
    return dz_name(prefix, system.code)
