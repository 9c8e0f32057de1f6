"""What stacks publish to each other: one frozen dataclass per producing stack, imported by both sides.

A stack exports its contract under the single output key ``contract``; a consumer reads it through a
StackReference and gets back the same dataclass. Nothing else crosses a stack boundary.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar, Self, TypeVar

import pulumi

CONTRACT_KEY = "contract"
# Self-managed backends (file://, S3) have no organisations; Pulumi names the implicit one "organization".
ORGANIZATION = "organization"


def stack_reference_name(project: str, stack: str) -> str:
    """The fully qualified name of ``project``'s stack ``stack`` on a self-managed backend."""
    return f"{ORGANIZATION}/{project}/{stack}"


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
    zones: tuple[ZoneContract, ...]

    def zone(self, name: str) -> ZoneContract:
        """The zone called ``name``."""
        return next(z for z in self.zones if z.name == name)

    @classmethod
    def from_output(cls, value: dict[str, Any]) -> Self:
        """Rebuild from the exported dictionary (numbers and lists come back as JSON types)."""
        return cls(
            zones=tuple(
                ZoneContract(
                    name=z["name"],
                    cidr=z["cidr"],
                    network_id=z["network_id"],
                    security_group_id=z["security_group_id"],
                    subnet_ids=tuple(z["subnet_ids"]),
                )
                for z in value["zones"]
            )
        )


@dataclass(frozen=True, slots=True)
class BaselineContract:
    """Published by ``0-baseline``: the cluster roles every namespace binds to."""

    PROJECT: ClassVar[str] = "dizuo-baseline"
    department_admin_role: str
    department_viewer_role: str
    audit_admin_role: str
    restricted_policy: str
    sysadmin_workloads_role: str
    """Bound in each managed namespace to ``sysadmin_group``: the system administrator runs workloads there only."""
    sysadmin_group: str

    @classmethod
    def from_output(cls, value: dict[str, Any]) -> Self:
        """Rebuild from the exported dictionary."""
        return cls(**{f.name: value[f.name] for f in fields(cls)})


def _plain(value: Any) -> Any:
    # dataclasses.asdict deep-copies values, which Outputs refuse: walk the fields ourselves.
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def export(contract: NetworkContract | BaselineContract) -> None:
    """Export ``contract`` (a dataclass whose fields may hold Outputs) as this stack's only output."""
    pulumi.export(CONTRACT_KEY, _plain(contract))


Contract = TypeVar("Contract", NetworkContract, BaselineContract)


def read(kind: type[Contract], stack: str) -> pulumi.Output[Contract]:
    """Read the contract that ``kind``'s stack published for environment ``stack``."""
    ref = pulumi.StackReference(stack_reference_name(kind.PROJECT, stack))
    return ref.require_output(CONTRACT_KEY).apply(kind.from_output)
