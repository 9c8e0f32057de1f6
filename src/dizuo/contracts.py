"""What stacks publish to each other: one frozen dataclass per producing stack, imported by both sides.

A stack exports its contract under the single output key ``contract``; a consumer reads it through a
StackReference and gets back the same dataclass. Nothing else crosses a stack boundary.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from typing import Any, ClassVar, Self, TypeVar

import pulumi

CONTRACT_KEY = "contract"
# Self-managed backends (file://, S3) have no organisations; Pulumi names the implicit one "organization".
ORGANIZATION = "organization"


# The sysadmin's role and group as every baseline stack has published them: what a contract published before they were
# part of it stands for (a binding to them grants nothing until the baseline stack has created the role).
SYSADMIN_GROUP = "dizuo:sysadmins"
SYSADMIN_WORKLOADS = "dizuo-sysadmin-workloads"
# Metadata of a contract field that is not published: it says where a contract was read from.
NOT_PUBLISHED = {"published": False}


def stack_reference_name(project: str, stack: str) -> str:
    """The fully qualified name of ``project``'s stack ``stack`` on a self-managed backend."""
    return f"{ORGANIZATION}/{project}/{stack}"


class ContractError(Exception):
    """A lower tier's published contract lacks what a stack needs: it was published for an older declaration, or by
    an older dizuo (`dizuo preview` reads what the lower tier last published, not what its own preview would)."""


def _published(value: object) -> list[Any]:
    return [f for f in fields(value) if f.metadata.get("published", True)]  # type: ignore[arg-type]


def _outdated(kind: type[NetworkContract | BaselineContract], reference: str, lacks: str) -> ContractError:
    stack = reference.rsplit("/", 1)[-1]
    return ContractError(
        f"stack {reference}: its published contract has no {lacks}: it was published before the declaration or "
        f"dizuo changed; run `dizuo up --stack {stack} --only {kind.STACK}` first"
    )


@dataclass(frozen=True, slots=True)
class ZoneContract:
    """One zone of the network stack."""

    name: str
    cidr: str
    network_id: str
    security_group_id: str
    subnet_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NetworkContract:
    """Published by ``0-network``: the zones with their OpenStack IDs and CIDRs."""

    PROJECT: ClassVar[str] = "dizuo-network"
    STACK: ClassVar[str] = "network"
    """The short name of its stack folder, as `dizuo up --only` takes it."""
    zones: tuple[ZoneContract, ...]
    read_from: str = field(default="", compare=False, metadata=NOT_PUBLISHED)
    """The stack it was read from (set by :func:`read`), which errors name."""

    def zone(self, name: str) -> ZoneContract:
        """The zone called ``name``; ContractError when the network stack has not published it yet."""
        found = next((z for z in self.zones if z.name == name), None)
        if found is None:
            known = ", ".join(z.name for z in self.zones) or "none"
            raise _outdated(type(self), self.read_from or self.PROJECT, f"zone {name!r} (it has {known})")
        return found

    @classmethod
    def from_output(cls, value: dict[str, Any], read_from: str = "") -> Self:
        """Rebuild from the exported dictionary (numbers and lists come back as JSON types)."""
        try:
            zones = tuple(
                ZoneContract(
                    name=z["name"],
                    cidr=z["cidr"],
                    network_id=z["network_id"],
                    security_group_id=z["security_group_id"],
                    subnet_ids=tuple(z["subnet_ids"]),
                )
                for z in value["zones"]
            )
        except KeyError as exc:
            raise _outdated(cls, read_from or cls.PROJECT, f"field {exc.args[0]!r}") from None
        return cls(zones=zones, read_from=read_from)


@dataclass(frozen=True, slots=True)
class BaselineContract:
    """Published by ``0-baseline``: the cluster roles every namespace binds to."""

    PROJECT: ClassVar[str] = "dizuo-baseline"
    STACK: ClassVar[str] = "baseline"
    """The short name of its stack folder, as `dizuo up --only` takes it."""
    department_admin_role: str
    department_viewer_role: str
    audit_admin_role: str
    restricted_policy: str
    storage_class_policy: str
    """The admission policy that refuses, in every managed namespace (a system's, a dataset owner's), a claim on a
    class that is not the city's. No default: an owner's quota has no storage total, safe only where this policy
    binds its namespace, so a baseline published before it did stops the data-pool stack until it is updated."""
    # Fields added after the first release have a default where one is safe: a contract published before them reads.
    sysadmin_workloads_role: str = SYSADMIN_WORKLOADS
    """Bound in each managed namespace to ``sysadmin_group``: the system administrator runs workloads there only."""
    sysadmin_group: str = SYSADMIN_GROUP

    @classmethod
    def from_output(cls, value: dict[str, Any], read_from: str = "") -> Self:
        """Rebuild from the exported dictionary; a field it lacks takes its default, or is a ContractError."""
        lacking = [f.name for f in _published(cls) if f.name not in value and f.default is MISSING]
        if lacking:
            raise _outdated(cls, read_from or cls.PROJECT, f"field {', '.join(map(repr, lacking))}")
        return cls(**{f.name: value[f.name] for f in _published(cls) if f.name in value})


def _plain(value: Any) -> Any:
    # dataclasses.asdict deep-copies values, which Outputs refuse: walk the fields ourselves.
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in _published(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def export(contract: NetworkContract | BaselineContract) -> None:
    """Export ``contract`` (a dataclass whose fields may hold Outputs) as this stack's only output."""
    pulumi.export(CONTRACT_KEY, _plain(contract))


Contract = TypeVar("Contract", NetworkContract, BaselineContract)


def read(kind: type[Contract], stack: str) -> pulumi.Output[Contract]:
    """Read the contract that ``kind``'s stack published for environment ``stack``."""
    reference = stack_reference_name(kind.PROJECT, stack)
    ref = pulumi.StackReference(reference)
    return ref.require_output(CONTRACT_KEY).apply(lambda value: kind.from_output(value, reference))
