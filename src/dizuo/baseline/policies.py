"""The 等保 policies on the stacks: one set of validate functions, enforced two ways.

- by Pulumi itself: ``stacks/policy`` is a policy pack built from :func:`policies`
  (``pulumi preview --policy-pack stacks/policy``), mandatory, each policy tagged with its catalogue
  control and GB/T 22239-2019 clause as its compliance framework;
- offline: ``dizuo synth`` runs the same functions on what the stack programs declared (:func:`evaluate`)
  and fails on any violation, so an air-gapped GitOps repository never receives a non-compliant manifest.

The functions read ``args.props`` (the resource's inputs, the same camelCase manifests both ways; what they need of
the declaration travels there too: labels such as a system's protection level, the city's management ports as its
zones' security-group tags),
``args.opts.protect`` and, to tell one cluster's namespace from another's of the same name, a resource's
``provider``, and for a stack rule the resources an input takes its value from (``property_dependencies``: a
security-group rule's address group); nothing else, so tests can call them with ``pulumi_policy``'s own arguments.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from dizuo.addresses import is_city_own
from dizuo.baseline.catalogue import packaged
from dizuo.declaration.model import NetworkFile
from dizuo.naming import MANAGEMENT_PORT_TAG, label, metadata_key

Report = Callable[[str, str | None], None]

# SSH, RDP, WinRM, the Kubernetes API, etcd and the kubelet: management access (DZ-AC-07), as network.yaml's
# management_ports has them by default. A city that declares its own list has the network stack tag each zone's
# security group with it (dizuo.naming.management_port_tag), and the pack takes that list instead.
MANAGEMENT_PORTS: frozenset[int] = frozenset(NetworkFile.model_fields["management_ports"].default)
SECURITY_GROUP = "openstack:networking/secGroup:SecGroup"
SECURITY_GROUP_RULE = "openstack:networking/secGroupRule:SecGroupRule"
# How a stack reads another's outputs (a contract): a resource of the stack, which the inputs it feeds depend on.
STACK_REFERENCE = "pulumi:pulumi:StackReference"
# A network's or a port's portSecurityEnabled: false switches security groups off on its ports, whatever their rules.
PORT_SECURITY_HOLDERS = {"openstack:networking/network:Network": "network", "openstack:networking/port:Port": "port"}
# A Neutron address group: a named list of CIDRs that a security-group rule may take as its source.
ADDRESS_GROUP = "openstack:networking/addressGroupV2:AddressGroupV2"
PVC = "kubernetes:core/v1:PersistentVolumeClaim"
NAMESPACE = "kubernetes:core/v1:Namespace"
BUCKET = "openstack:objectstorage/container:Container"
STORAGE_CLASS = "kubernetes:storage.k8s.io/v1:StorageClass"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"
QUOTA = "kubernetes:core/v1:ResourceQuota"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
# ingress-nginx's switch that would serve a TLS host over plain HTTP as well (DZ-CT-01); force-ssl-redirect only
# ever adds a redirect. ingress-nginx reads it with Go's strconv.ParseBool, so these all mean false.
SSL_REDIRECT = "nginx.ingress.kubernetes.io/ssl-redirect"
PARSEBOOL_FALSE = frozenset({"0", "f", "false"})
# A patch (pulumi-kubernetes' <Kind>Patch: a Server-Side Apply of some fields onto an object made elsewhere) holds the
# fields it sets, at the paths of its kind, and nothing of the rest, which keeps the object's values: the pack judges
# a patch by what it sets.
PATCH = "Patch"
NAMESPACE_PATCH = f"{NAMESPACE}{PATCH}"
POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"
# Where each kind that makes pods keeps its pod spec: a privileged container is as dangerous in a Job, a CronJob
# or a bare Pod as in a Deployment, or in a patch of one.
_WHOLE_POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:core/v1:ReplicationController": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}
POD_SPEC_PATHS: Mapping[str, tuple[str, ...]] = {
    **_WHOLE_POD_SPEC_PATHS,
    **{f"{kind}{PATCH}": path for kind, path in _WHOLE_POD_SPEC_PATHS.items()},
}
WORKLOADS = tuple(POD_SPEC_PATHS)
# The pod's host namespaces: a container in any of them sees (and can act on) the node's.
HOST_NAMESPACES = {"hostNetwork": "network", "hostPID": "process", "hostIPC": "IPC"}
# The one capability a container may add, as Pod Security's restricted level and the baseline's admission policy
# dizuo-restricted-workloads (dizuo.baseline.cluster) allow it: binding a port below 1024.
ALLOWED_CAPABILITY = "NET_BIND_SERVICE"
# Every kind of container a pod spec may hold; init and ephemeral (`kubectl debug`) containers run on the node too.
CONTAINER_FIELDS = ("initContainers", "containers", "ephemeralContainers")
# The pod-level securityContext fields a container inherits unless its own securityContext sets them.
INHERITED_SECURITY = (
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "seLinuxOptions",
    "seccompProfile",
    "appArmorProfile",
    "windowsOptions",
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy: its name, the catalogue control it enforces and what it checks."""

    name: str
    control: str  # the catalogue control this rule checks (its clause comes from the catalogue)
    description: str
    resource_types: tuple[str, ...]
    validate: Callable[[ResourceValidationArgs, Report], None] | None = None
    validate_stack: Callable[[StackValidationArgs, Report], None] | None = None


def _ports(props: Mapping[str, Any], management: frozenset[int]) -> set[int]:
    """The ``management`` ports a rule's range takes in. A bound of 0 or none is every port of the protocol: the
    OpenStack provider documents ``0``/``0`` as the full range 1:65535, and Neutron reads a rule without a range the
    same way."""
    low, high = props.get("portRangeMin"), props.get("portRangeMax")
    if not low or not high:
        return set(management)
    return {port for port in management if int(low) <= port <= int(high)}


def declared_management_ports(resources: Iterable[PolicyResource]) -> frozenset[int]:
    """The city's management ports (network.yaml ``management_ports``), read from the ``management-port:<port>`` tags
    the network stack gives its zones' security groups; :data:`MANAGEMENT_PORTS` for a stack without such a group
    (a program of the stack's own: the pack is handed resources, never the declaration). A group whose tags a preview
    does not know yet adds none (the network stack sets them as plain values, known in every preview)."""
    return tagged_management_ports(resources) or MANAGEMENT_PORTS


def tagged_management_ports(resources: Iterable[PolicyResource]) -> frozenset[int]:
    """The ports the ``management-port:<port>`` tags of the stack's security groups name; empty when none does."""
    declared: set[int] = set()
    for group in resources:
        if group.resource_type != SECURITY_GROUP:
            continue
        try:
            tags = [str(tag) for tag in group.props.get("tags") or []]
        except UnknownValueError:
            continue
        declared |= {
            int(port) for tag in tags if (port := tag.removeprefix(MANAGEMENT_PORT_TAG)) != tag and port.isdigit()
        }
    return frozenset(declared)


# Protocols whose rules carry ports (Neutron's names and numbers); a rule for any other (icmp, gre, vrrp, ...) reaches
# no port. No protocol at all is every protocol, tcp among them, and so are Neutron's "any" and its number 0 (the
# Networking API: "The string any (or integer 0) means all IP protocols").
PORT_PROTOCOLS = frozenset({"", "any", "0", "tcp", "udp", "sctp", "udplite", "dccp", "6", "17", "132", "136", "33"})


def _reaches_ports(protocol: object) -> bool:
    """Whether a rule of ``protocol`` (a name or a number, as Neutron takes it) can reach a port."""
    name = str(protocol or "").strip().lower()
    return (str(int(name)) if name.isdigit() else name) in PORT_PROTOCOLS


def _set(props: Mapping[str, Any], key: str) -> bool:
    """Whether ``key`` has a value, known or not (an ID a preview computes later is set)."""
    try:
        return bool(props.get(key))
    except UnknownValueError:
        return True


def management_ports_not_public(args: StackValidationArgs, report: Report) -> None:
    """No security-group rule admits a public source to a management port: a source wholly inside the private sources
    (RFC 1918, IPv6 ULA, loopback: :func:`dizuo.addresses.is_city_own`) is the city's own, any other is public.

    A stack policy, to read a rule's address group: Neutron admits the members of ``remoteGroupId`` (the city's own
    instances, where the group is one the stack declares or reads from another stack's contract), the addresses of
    ``remoteAddressGroupId`` (an address group: a list of CIDRs, read from the AddressGroupV2 the rule takes its ID
    from) or ``remoteIpPrefix``, each exclusive of the others, and from anywhere when none is given. A remote group
    known by its cloud ID alone (written in the program, looked up) is an unknown peer: whose ports are its members,
    public addresses among them or not, the stack cannot tell, and it is refused on a management port. A rule whose
    values a preview does not know yet is judged at the next preview. A network or port with port security off has no
    security group at all: every port of its addresses is open to whatever routes there, management ports included.
    The management ports are the city's (:func:`declared_management_ports`).

    A rule on a security group this stack does not declare (a zone's group, its ID read from the network stack's
    contract through a StackReference; a group looked up, or its cloud ID written in the program) can be judged by
    the city's ports only where they are known: in a stack whose own groups carry no ``management-port`` tags they are
    not, and the default list would pass a port the city moved SSH to (2222). Such a rule from a public source is
    refused there, whatever its ports (:func:`_judge_rule`)."""
    tagged = tagged_management_ports(args.resources)
    management = tagged or MANAGEMENT_PORTS
    for rule in args.resources:
        if rule.resource_type in PORT_SECURITY_HOLDERS:
            try:
                switched_off = rule.props.get("portSecurityEnabled") is False
            except UnknownValueError:
                continue  # judged when it is known
            if switched_off:
                what = PORT_SECURITY_HOLDERS[rule.resource_type]
                report(
                    f"{rule.name}: portSecurityEnabled false on a {what}: no security group filters its traffic, so "
                    f"management port(s) {sorted(management)} are open to whatever routes there",
                    rule.urn,
                )
        if rule.resource_type != SECURITY_GROUP_RULE:
            continue
        try:
            _judge_rule(rule, None if not tagged and _on_a_group_not_declared_here(rule) else management, report)
        except UnknownValueError:
            continue


def _on_a_group_not_declared_here(rule: PolicyResource) -> bool:
    """Whether a security-group rule's group is one this stack does not declare: its ``securityGroupId`` takes the ID
    of no SecGroup of the stack, but is read through a StackReference (a zone's group from the network stack's
    contract), looked up, or written in the program as a cloud ID. Whose group that is, and so which ports count as
    management there, the stack cannot tell."""
    if not _set(rule.props, "securityGroupId"):
        return False  # the provider requires one: nothing to tell, the rule is judged as one on a group of its own
    return not _taken_from(rule, "securityGroupId", SECURITY_GROUP)


def _known_peer(rule: PolicyResource) -> bool:
    """Whether a rule's remote group is one the city's stacks made: a SecGroup of this stack, or one read through a
    StackReference (a zone's group from the network stack's contract)."""
    return bool(_taken_from(rule, "remoteGroupId", SECURITY_GROUP, STACK_REFERENCE))


def _taken_from(rule: PolicyResource, key: str, *resource_types: str) -> list[PolicyResource]:
    """The resources of ``resource_types`` among those the rule's input ``key`` takes its value from."""
    return [r for r in rule.property_dependencies.get(key, []) if r.resource_type in resource_types]


def _judge_rule(rule: PolicyResource, management: frozenset[int] | None, report: Report) -> None:
    """Report each public source of ``rule`` that may reach one of the ``management`` ports; None: the city's ports
    are not known in this stack (a rule on another stack's group), and any public source is reported."""
    props, name = rule.props, rule.name
    if props.get("direction") != "ingress" or not _reaches_ports(props.get("protocol")):
        return
    exposed = _ports(props, management or MANAGEMENT_PORTS)
    if props.get("remoteIpPrefix"):
        sources = [(str(props["remoteIpPrefix"]), "")]
    elif _set(props, "remoteGroupId"):
        if _known_peer(rule) or (management is not None and not exposed):
            return  # from the members of a group of the city's own, or to no management port
        ports = f"management port(s) {sorted(exposed)}" if management is not None else "any port it opens"
        report(
            f"{name}: remoteGroupId {props.get('remoteGroupId')!r} is a security group this stack neither declares nor "
            f"reads from another stack's contract, so whose members it lets reach {ports} cannot be checked (name a "
            "zone's group through the network contract, or give remoteIpPrefix)",
            rule.urn,
        )
        return
    elif _set(props, "remoteAddressGroupId"):
        groups = _taken_from(rule, "remoteAddressGroupId", ADDRESS_GROUP)
        if not groups:
            report(
                f"{name}: remoteAddressGroupId {props.get('remoteAddressGroupId')!r} is an address group this stack "
                "does not declare: the addresses it admits cannot be checked (declare the AddressGroupV2 in the stack, "
                "or give remoteIpPrefix)",
                rule.urn,
            )
            return
        sources = [(str(a), f" (address group {g.name})") for g in groups for a in g.props.get("addresses") or []]
    else:
        sources = [("0.0.0.0/0", "")]  # OpenStack reads a rule without prefix or group as "from anywhere"
    for source, where in sources:
        try:
            network = ipaddress.ip_network(source, strict=False)
        except ValueError:
            report(f"{name}: {source!r}{where} is not an address range", rule.urn)
            continue
        if is_city_own(network):
            continue
        if management is None:
            report(
                f"{name}: {source}{where} is let into security group {props.get('securityGroupId')!r}, which this "
                "stack does not declare, and the city's management ports (network.yaml management_ports, tagged on the "
                "network stack's zone groups) are not known here, so any port it opens may be one: let public "
                "sources in through network.yaml's ingress instead",
                rule.urn,
            )
        elif exposed:
            report(f"{name}: {source}{where} may reach management port(s) {sorted(exposed)}", rule.urn)


def data_holders_protected(args: ResourceValidationArgs, report: Report) -> None:
    """Dataset volumes, buckets and the namespaces holding them are protected from deletion."""
    labels = (args.props.get("metadata") or {}).get("labels") or {}
    holds_data = (
        args.resource_type in {PVC, BUCKET}
        or (args.resource_type == NAMESPACE and label("owner") in labels)
        or label("dataset") in labels
    )
    if holds_data and not args.opts.protect:
        report(f"{args.name}: holds data but is not protected (protect=True, retain_on_delete=True)", None)


def storage_classes_retain(args: ResourceValidationArgs, report: Report) -> None:
    """Released volumes are kept: every StorageClass reclaims with Retain."""
    policy = args.props.get("reclaimPolicy", "Delete")
    if policy != "Retain":
        report(f"{args.name}: reclaimPolicy {policy} deletes the volume with its claim", None)


def datasets_owned_and_classified(args: ResourceValidationArgs, report: Report) -> None:
    """一数一源: every dataset, volume or bucket, names its one owner department and its classification.

    A claim carries them as labels; a bucket as container metadata, each label key without its ``/``
    (:func:`dizuo.naming.metadata_key`)."""
    metadata = args.props.get("metadata") or {}
    bucket = args.resource_type == BUCKET
    labels = metadata if bucket else metadata.get("labels") or {}
    what = "metadata" if bucket else "label"

    def key(name: str) -> str:
        return metadata_key(label(name)) if bucket else label(name)

    if key("dataset") not in labels:
        return
    for name in ("owner", "classification", "retention-days", "refresh-days"):
        if not labels.get(key(name)):
            report(f"{args.name}: dataset without {what} {key(name)}", None)


def _is_patch(resource_type: str) -> bool:
    """Whether a resource is a patch of an object made elsewhere: only the fields it sets are known."""
    return resource_type.endswith(PATCH)


def namespaces_enforce_pod_security(args: ResourceValidationArgs, report: Report) -> None:
    """Managed namespaces enforce Pod Security; level-3 systems enforce `restricted`. A system's or dataset owner's
    namespace (labelled as the quota rule finds them) is managed: without the label neither this rule nor the
    baseline's dizuo-restricted-workloads admission policy would judge it. A patch may label any namespace, a managed
    one too: it may not take one out of dizuo's management, nor set a weaker level."""
    labels = (args.props.get("metadata") or {}).get("labels") or {}
    managed = labels.get(label("managed"))
    if _is_patch(args.resource_type):
        if managed is not None and managed != "true":
            report(
                f"{args.name}: takes the namespace out of dizuo's management ({label('managed')}: {managed!r})", None
            )
        if POD_SECURITY_ENFORCE not in labels:
            return
    elif managed != "true":
        tenant = next((key for key in (label("system"), label("owner")) if key in labels), None)
        if tenant is None:
            return
        report(
            f"{args.name}: a tenant's namespace ({tenant}: {labels[tenant]!r}) outside dizuo's management "
            f"({label('managed')}: {managed!r}, not 'true')",
            None,
        )
    level = labels.get(POD_SECURITY_ENFORCE)
    if level not in {"restricted", "baseline"}:
        report(f"{args.name}: Pod Security enforce level is {level!r}", None)
    elif labels.get(label("protection-level")) == "3" and level != "restricted":
        report(f"{args.name}: a level-3 system must enforce 'restricted', not {level!r}", None)


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any]:
    """The pod spec of a workload of any kind in :data:`POD_SPEC_PATHS` (empty when it declares none)."""
    found: Mapping[str, Any] = props
    for key in POD_SPEC_PATHS[resource_type]:
        found = found.get(key) or {}
    return found


def containers_with_security(pod: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any], Mapping[str, Any]]]:
    """Each container of a pod spec, init and ephemeral ones too: (its field, itself, its effective securityContext).

    The effective securityContext is what the kubelet applies: the pod's inherited fields, overridden by whatever
    the container sets itself (a container's ``runAsNonRoot: false`` beats the pod's ``true``).
    """
    pod_security = pod.get("securityContext") or {}
    inherited = {key: pod_security[key] for key in INHERITED_SECURITY if pod_security.get(key) is not None}
    for field in CONTAINER_FIELDS:
        for container in pod.get(field) or []:
            own = {key: value for key, value in (container.get("securityContext") or {}).items() if value is not None}
            yield field, container, {**inherited, **own}


def workloads_unprivileged(args: ResourceValidationArgs, report: Report) -> None:
    """No workload's pod shares the node's namespaces or mounts its filesystem (hostPath), and none of its containers
    is privileged, root or escalating, or adds a capability but NET_BIND_SERVICE: what the baseline's admission policy
    refuses in managed namespaces is refused here too, before a manifest reaches a cluster.

    A patch leaves what it does not set as the object has it: it is judged by what it sets (a field it omits is not
    reported as missing)."""
    partial = _is_patch(args.resource_type)
    pod = pod_spec(args.resource_type, args.props)
    shared = [namespace for key, namespace in HOST_NAMESPACES.items() if pod.get(key)]
    if shared:
        report(f"{args.name}: shares the node's namespaces: {', '.join(shared)}", None)
    for volume in pod.get("volumes") or []:
        if volume.get("hostPath") is not None:
            path = volume["hostPath"].get("path")
            report(f"{args.name}: volume {volume.get('name', '?')} mounts the node's {path} (hostPath)", None)
    for field, container, security in containers_with_security(pod):
        name = container.get("name", "?")
        where = f"{args.name}/{name}" if field == "containers" else f"{args.name}/{name} ({field})"
        if security.get("privileged"):
            report(f"{where}: privileged container", None)
        added = [str(c) for c in (security.get("capabilities") or {}).get("add") or [] if c != ALLOWED_CAPABILITY]
        if added:
            report(f"{where}: adds capabilities {added} (only {ALLOWED_CAPABILITY} may be added)", None)
        escalation, non_root = security.get("allowPrivilegeEscalation"), security.get("runAsNonRoot")
        if escalation or (escalation is None and not partial):
            report(f"{where}: allowPrivilegeEscalation is not false", None)
        if security.get("runAsUser") == 0:
            report(f"{where}: runs as root (runAsUser 0)", None)
        elif not non_root and (non_root is not None or not partial):
            report(f"{where}: may run as root (runAsNonRoot is not true)", None)


def ingress_over_tls(args: ResourceValidationArgs, report: Report) -> None:
    """Every host an Ingress routes is listed under its tls, and no annotation turns the redirect to HTTPS off. A
    patch of one is judged by what it sets: its hosts may be under the object's own tls, but a rule for any host or
    the redirect turned off are wrong whatever the object holds."""
    spec = args.props.get("spec") or {}
    covered = {host for entry in spec.get("tls") or [] for host in entry.get("hosts") or []}
    name = (args.props.get("metadata") or {}).get("name", args.name)
    for rule in spec.get("rules") or []:
        host = rule.get("host")
        if host is None:
            report(f"Ingress {name} routes requests for any host, which no certificate names", None)
        elif host not in covered and not _is_patch(args.resource_type):
            report(f"Ingress {name} serves {host} without TLS", None)
    if not spec.get("rules") and spec.get("defaultBackend"):
        report(f"Ingress {name} has a default backend for any host, which no certificate names", None)
    annotations = (args.props.get("metadata") or {}).get("annotations") or {}
    value = str(annotations.get(SSL_REDIRECT, "")).strip()
    if value.lower() in PARSEBOOL_FALSE:
        report(f"Ingress {name} turns the redirect to HTTPS off ({SSL_REDIRECT}: {value})", None)


def _cluster(resource: PolicyResource) -> str:
    """The cluster a resource is declared in, as its provider's URN ("" for a resource without one)."""
    return resource.provider.urn if resource.provider is not None else ""


def _selects_every_pod(selector: object) -> bool:
    """Whether a label selector is empty, which Kubernetes reads as every object: ``{}``, and as well one whose
    matchLabels and matchExpressions are empty (``{matchLabels: {}}``, as a program's LabelSelectorArgs may send)."""
    return isinstance(selector, Mapping) and not any(selector.get(key) for key in ("matchLabels", "matchExpressions"))


def _default_deny(spec: Mapping[str, Any]) -> bool:
    """Whether a NetworkPolicy spec denies all traffic both ways to every pod of its namespace."""
    return (
        _selects_every_pod(spec.get("podSelector"))
        and set(spec.get("policyTypes") or []) == {"Ingress", "Egress"}
        and not spec.get("ingress")
        and not spec.get("egress")
    )


# Each direction of a NetworkPolicy: its rules' key, the key of their peers, its policyType, how a report says "any".
_DIRECTIONS = (("ingress", "from", "Ingress", "admits any source"), ("egress", "to", "Egress", "lets out to anywhere"))


def _opens_to_any(spec: Mapping[str, Any]) -> list[str]:
    """How a NetworkPolicy spec opens its pods to every peer, which undoes a default-deny beside it (policies add up):
    a rule without peers (Kubernetes reads a missing or empty ``from``/``to`` as every peer), an ipBlock of every
    address (prefix length 0), or a namespaceSelector that selects every namespace (any tenant's pods, whatever labels
    a podSelector beside it asks for: a department labels its own pods). A direction applies only if the policy's
    types include it; without ``policyTypes``, Kubernetes takes Ingress, and Egress when egress rules are given."""
    types = spec.get("policyTypes") or ["Ingress", *(["Egress"] if spec.get("egress") else [])]
    found = []
    for rules_key, peers_key, policy_type, opens in _DIRECTIONS:
        if policy_type not in types:
            continue
        for i, rule in enumerate(spec.get(rules_key) or []):
            peers = (rule or {}).get(peers_key) or []
            if not peers:
                found.append(f"{opens} ({rules_key}[{i}] has no {peers_key})")
            for j, peer in enumerate(peers):
                cidr = (peer.get("ipBlock") or {}).get("cidr")
                namespaces = peer.get("namespaceSelector")
                if cidr is not None and _every_address(str(cidr)):
                    found.append(f"{opens} ({rules_key}[{i}].{peers_key}[{j}] is ipBlock {cidr})")
                elif namespaces is not None and _selects_every_pod(namespaces):
                    found.append(f"{opens} ({rules_key}[{i}].{peers_key}[{j}] selects every namespace)")
    return found


def _every_address(cidr: str) -> bool:
    """Whether an ipBlock's CIDR is every address of its family (0.0.0.0/0, ::/0); the API refuses a malformed one."""
    try:
        return ipaddress.ip_network(cidr, strict=False).prefixlen == 0
    except ValueError:
        return False


def _why_quota_caps_nothing(spec: Mapping[str, Any]) -> str | None:
    """Why a ResourceQuota spec does not cap its namespace (None when it does): it sets no hard limit, or it counts only
    the pods of some scopes (``scopes``, ``scopeSelector``: BestEffort, a priority class...) and no other pod."""
    if not spec.get("hard"):
        return "sets no hard limit"
    if spec.get("scopes") or spec.get("scopeSelector"):
        return "counts only the pods of its scopes"
    return None


# What a namespace's quotas must cap between them besides its claims (DZ-AC-08): its pods' CPU and memory, as
# requests or as limits (a quota's `cpu` and `memory` are its requests). Without them one namespace's pods may take a
# whole node pool from every other tenant.
COMPUTE_QUOTA_KEYS = {
    "cpu": frozenset({"cpu", "requests.cpu", "limits.cpu"}),
    "memory": frozenset({"memory", "requests.memory", "limits.memory"}),
}


_COMPUTE_MISSING = tuple(f"quota on {kind}" for kind in COMPUTE_QUOTA_KEYS)


def _compute_capped(spec: Mapping[str, Any]) -> set[str]:
    """Which of CPU and memory (:data:`COMPUTE_QUOTA_KEYS`) a ResourceQuota spec's hard limits cap."""
    hard = set(spec.get("hard") or {})
    return {f"quota on {kind}" for kind, keys in COMPUTE_QUOTA_KEYS.items() if hard & keys}


def _namespace_of(resource: PolicyResource) -> str | None:
    """A namespaced resource's namespace ("" when it names none); None when a preview does not know it yet."""
    try:
        return str((resource.props.get("metadata") or {}).get("namespace") or "")
    except UnknownValueError:
        return None


def namespaces_have_quota_and_default_deny(args: StackValidationArgs, report: Report) -> None:
    """Every system and dataset namespace has a ResourceQuota and a default-deny NetworkPolicy (both ways), in the
    same cluster: a namespace is per cluster, so one of the same name elsewhere does not stand in for it.
    NetworkPolicies add up, so one there that admits any source or lets out to anywhere (:func:`_opens_to_any`)
    undoes the default-deny and is reported too. A ResourceQuota without hard limits, or scoped to some pods, caps
    nothing else and is no quota (:func:`_why_quota_caps_nothing`); and the namespace's quotas must cap its pods' CPU
    and memory between them (:data:`COMPUTE_QUOTA_KEYS`), not its claims alone.

    During a preview a value another resource computes is unknown, and pulumi-policy skips a whole stack policy at the
    first unknown it reads (an advisory "can't run policy" instead of the check). So only the kinds the check is about
    are read, each on its own: a namespace whose name or labels are unknown is left out, and a quota or NetworkPolicy
    the preview cannot read may be the one a namespace needs (any namespace's of its cluster, when its own is
    unknown), so that namespace is not reported for lacking it; every other namespace is checked."""
    found: dict[tuple[str, str | None], set[str]] = defaultdict(set)  # namespace None: may be any of the cluster's
    namespaces: dict[tuple[str, str], str] = {}  # (cluster, namespace) -> how a report names it
    opened: dict[tuple[str, str], list[str]] = defaultdict(list)  # (cluster, namespace) -> how its policies open it
    hollow: dict[tuple[str, str], list[str]] = defaultdict(list)  # (cluster, namespace) -> its quotas that cap nothing
    for r in args.resources:
        cluster = _cluster(r)
        provides = {QUOTA: "quota", NETWORK_POLICY: "default-deny"}.get(r.resource_type)
        if provides is not None:
            namespace = _namespace_of(r)
            try:
                spec = r.props.get("spec") or {}
                caps_nothing = _why_quota_caps_nothing(spec) if provides == "quota" else None
                if caps_nothing is not None:  # known to cap nothing, whatever namespace it is in
                    if namespace:
                        name = str((r.props.get("metadata") or {}).get("name") or r.name)
                        hollow[(cluster, namespace)].append(f"ResourceQuota {name} {caps_nothing}")
                elif namespace != "" and (provides == "quota" or _default_deny(spec)):
                    found[(cluster, namespace)].add(provides)
                    if provides == "quota":
                        found[(cluster, namespace)] |= _compute_capped(spec)
            except UnknownValueError:
                # Not known to be a default-deny, nor known not to be; a quota not known to cap CPU and memory either.
                found[(cluster, namespace)] |= {provides, *(_COMPUTE_MISSING if provides == "quota" else ())}
            if provides == "default-deny" and namespace:
                try:
                    policy = str((r.props.get("metadata") or {}).get("name") or r.name)
                    opened[(cluster, namespace)] += [
                        f"NetworkPolicy {policy} {how}" for how in _opens_to_any(r.props.get("spec") or {})
                    ]
                except UnknownValueError:
                    pass  # not known to open the namespace: judged when its values are
        elif r.resource_type == NAMESPACE:
            try:
                meta = r.props.get("metadata") or {}
                if {label("system"), label("owner")} & set(meta.get("labels") or {}):
                    name = str(meta.get("name"))
                    where = f" (provider {r.provider.name})" if r.provider is not None else ""
                    namespaces[(cluster, name)] = f"namespace {name}{where}"
            except UnknownValueError:
                continue  # its name or labels are computed: not known to be a system's or an owner's
    for key, named in namespaces.items():
        present = found[key] | found[(key[0], None)]
        for missing in sorted({"quota", "default-deny"} - present):
            why = f" ({'; '.join(hollow[key])})" if missing == "quota" and hollow[key] else ""
            report(f"{named} has no {missing}{why}", None)
        if "quota" in present:
            for missing in sorted(set(_COMPUTE_MISSING) - present):
                report(f"{named} has no {missing}: no ResourceQuota there caps its pods' {missing.split()[-1]}", None)
        for how in opened[key]:
            report(f"{named}: {how}, which undoes its default-deny", None)


RULES: tuple[Rule, ...] = (
    Rule(
        "management-ports-not-public",
        "DZ-AC-07",
        "No security-group rule lets a public address reach SSH, RDP, WinRM or the Kubernetes control plane, and no"
        " network or port switches security groups off (portSecurityEnabled: false).",
        (),
        validate_stack=management_ports_not_public,
    ),
    Rule(
        "data-holders-protected",
        "DZ-DB-02",
        "Dataset volumes, buckets and their namespaces are protected: no update or destroy deletes data.",
        (PVC, BUCKET, NAMESPACE),
        validate=data_holders_protected,
    ),
    Rule(
        "storage-classes-retain",
        "DZ-DB-02",
        "Every StorageClass reclaims with Retain: deleting a claim never deletes its volume.",
        (STORAGE_CLASS,),
        validate=storage_classes_retain,
    ),
    Rule(
        "datasets-owned-and-classified",
        "DZ-AC-10",
        "Every dataset, volume or bucket, names its one owner department (一数一源), its classification and its"
        " retention.",
        (PVC, BUCKET),
        validate=datasets_owned_and_classified,
    ),
    Rule(
        "namespaces-enforce-pod-security",
        "DZ-AC-09",
        "Managed namespaces, every system's and dataset owner's among them, enforce Pod Security admission; level-3"
        " systems enforce 'restricted'; no namespace patch sets a weaker level or takes a namespace out of dizuo's"
        " management.",
        (NAMESPACE, NAMESPACE_PATCH),
        validate=namespaces_enforce_pod_security,
    ),
    Rule(
        "workloads-unprivileged",
        "DZ-AC-09",
        "No workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, bare Pod..., or a patch of one)"
        " runs a container, init and ephemeral ones included, privileged, as root, with privilege escalation or with"
        " an added capability but NET_BIND_SERVICE, shares the node's network, process or IPC namespace, or mounts"
        " the node's filesystem (hostPath).",
        WORKLOADS,
        validate=workloads_unprivileged,
    ),
    Rule(
        "ingress-over-tls",
        "DZ-CT-01",
        "Every host an Ingress routes is served over TLS, and the redirect to HTTPS is never turned off.",
        (INGRESS, f"{INGRESS}{PATCH}"),
        validate=ingress_over_tls,
    ),
    Rule(
        "namespaces-quota-and-default-deny",
        "DZ-AC-08",
        "Every system and dataset namespace has a ResourceQuota capping its pods' CPU and memory and a default-deny"
        " NetworkPolicy in its own cluster, and no NetworkPolicy there undoes it by admitting any source or letting out"
        " to anywhere.",
        (),
        validate_stack=namespaces_have_quota_and_default_deny,
    ),
)

FRAMEWORK = "GB/T 22239-2019"
# Every rule stops the deployment: `pulumi preview/up` fail on a violation, and so does `dizuo synth` (which says so in
# its summary.json's policy_pack).
ENFORCEMENT = EnforcementLevel.MANDATORY


def _for_types(rule: Rule) -> Callable[[ResourceValidationArgs, Report], None]:
    assert rule.validate is not None  # noqa: S101 - resource rules always carry validate

    def validate(args: ResourceValidationArgs, report: Report) -> None:
        if args.resource_type in rule.resource_types:
            rule.validate(args, report)  # type: ignore[misc]

    return validate


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """The rules as Pulumi policies, mandatory, tagged with control and clause."""
    catalogue = packaged()
    built: list[ResourceValidationPolicy | StackValidationPolicy] = []
    for rule in RULES:
        clause = catalogue.control(rule.control).clause
        framework = PolicyComplianceFramework(
            name=FRAMEWORK, version="2019", reference=rule.control, specification=clause
        )
        if rule.validate_stack is not None:
            built.append(
                StackValidationPolicy(
                    name=rule.name,
                    description=rule.description,
                    validate=rule.validate_stack,
                    enforcement_level=ENFORCEMENT,
                    framework=framework,
                    tags=[rule.control],
                )
            )
        else:
            built.append(
                ResourceValidationPolicy(
                    name=rule.name,
                    description=rule.description,
                    validate=_for_types(rule),
                    enforcement_level=ENFORCEMENT,
                    framework=framework,
                    tags=[rule.control],
                )
            )
    return built


@dataclass(frozen=True, slots=True)
class Violation:
    """One policy violation found offline."""

    policy: str
    control: str
    message: str

    def __str__(self) -> str:
        return f"[{self.control} {self.policy}] {self.message}"


@dataclass(frozen=True, slots=True)
class Declared:
    """What the offline evaluator needs of a declared resource."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool
    provider: str = ""
    """The provider reference the engine registered it with (``<provider URN>::<provider id>``); "" for none."""
    property_dependencies: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    """By input, the URNs of the resources whose outputs it takes (a rule's address group ID)."""


def _provider(reference: str) -> PolicyProviderResource | None:
    """The provider of a reference, as the Pulumi policy engine hands it to a stack policy (without its inputs)."""
    if not reference:
        return None
    urn = reference.rsplit("::", 1)[0]  # a provider reference is "<urn>::<id>"
    # A URN is urn:pulumi:<stack>::<project>::<parent types$><type>::<name>.
    _stack, _project, types, name = urn.split("::", 3)
    return PolicyProviderResource(types.rsplit("$", 1)[-1], {}, urn, name)


def _options(protect: bool) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=None,
    )


def _policy_resources(resources: list[Declared]) -> list[PolicyResource]:
    """The resources as the Pulumi policy engine hands them to a stack policy, each input's dependencies resolved to
    the resources they name."""
    built = {
        r.urn: PolicyResource(r.type, r.props, r.urn, r.name, _options(r.protect), _provider(r.provider), None, [], {})
        for r in resources
    }
    for r in resources:
        built[r.urn].property_dependencies = {
            key: [built[urn] for urn in urns if urn in built] for key, urns in r.property_dependencies.items()
        }
    return list(built.values())


def evaluate(resources: Iterable[Declared]) -> list[Violation]:
    """Run every rule on the declared resources, as the Pulumi policy engine would."""
    resources = list(resources)
    violations: list[Violation] = []
    for rule in RULES:

        def collect(message: str, _urn: str | None = None, rule: Rule = rule) -> None:
            violations.append(Violation(rule.name, rule.control, message))

        if rule.validate_stack is not None:
            rule.validate_stack(StackValidationArgs(resources=_policy_resources(resources)), collect)
            continue
        for r in resources:
            if r.type in rule.resource_types and rule.validate is not None:
                args = ResourceValidationArgs(
                    r.type, r.props, r.urn, r.name, _options(r.protect), _provider(r.provider)
                )
                rule.validate(args, collect)
    return violations
