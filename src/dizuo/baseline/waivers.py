"""Waivers: a failing control accepted on named hosts, for a reason, until a date.

The waivers file (YAML)::

    waivers:
    - control: DZ-IP-02
      hosts: [yl-gw-01]          # host names or shell patterns (yl-db-*); ["*"] for every host
      reason: 网关对外提供 443, 端口白名单按区域另行声明 (ticket SEC-2025-014)
      expires: 2025-12-31        # the last day the waiver holds
      approved_by: 安全管理员 张三  # who accepted the risk

Only host controls can be waived: the audit checks nothing else. A valid waiver turns a failure into
"waived" (never into "pass"). An expired waiver waives nothing:
the control fails, and the report says the waiver expired and when.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

from dizuo.baseline.catalogue import Catalogue, Scope
from dizuo.declaration.loader import Problem, problems_from_validation, read_yaml, show_value

ControlRef = Annotated[str, StringConstraints(pattern=r"^DZ-[A-Z]{2}-\d{2}$")]


def _not_a_number(value: object) -> object:
    """pydantic reads a number given for a date as Unix seconds: ``expires: 20251231``, meant as 2025-12-31, would be
    refused as a datetime "should have zero time", and ``expires: 1767139200`` taken as a day without a word."""
    if isinstance(value, bool):  # YAML 1.1 reads an unquoted yes/no/on/off as one, and bool is an int in Python
        raise ValueError("a date is written YYYY-MM-DD (2025-12-31), not as yes or no")
    if isinstance(value, int | float):
        raise ValueError("a date is written YYYY-MM-DD (2025-12-31), not as a number")
    return value


Day = Annotated[dt.date, BeforeValidator(_not_a_number)]


class Waiver(BaseModel):
    """One accepted deviation."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    control: ControlRef
    hosts: tuple[str, ...] = Field(min_length=1, description="Host names or shell patterns")
    reason: str = Field(min_length=10, description="Why the deviation is accepted; cite the ticket")
    expires: Day = Field(description="Last day the waiver holds")
    approved_by: str = Field(min_length=1, description="Who accepted the risk; a waiver nobody signed is refused")

    def covers(self, control: str, host: str) -> bool:
        """Whether this waiver is about ``control`` on ``host`` (expired or not)."""
        return self.control == control and any(fnmatch.fnmatchcase(host, pattern) for pattern in self.hosts)

    def expired(self, today: dt.date) -> bool:
        """Whether the waiver's last day has passed."""
        return today > self.expires


class WaiversFile(BaseModel):
    """The document of a waivers file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    waivers: tuple[Waiver, ...] = ()


class WaiverError(Exception):
    """The waivers file is invalid; ``problems`` names each key path and bad value."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True, slots=True)
class Waivers:
    """The waivers of one file."""

    source: str
    items: tuple[Waiver, ...]

    def find(self, control: str, host: str) -> Waiver | None:
        """The waiver for ``control`` on ``host``; an unexpired one wins over an expired one."""
        matching = [w for w in self.items if w.covers(control, host)]
        return max(matching, key=lambda w: w.expires) if matching else None


NO_WAIVERS = Waivers(source="(none)", items=())


def load(path: Path, catalogue: Catalogue | None = None, known_hosts: set[str] | None = None) -> Waivers:
    """Read and validate a waivers file, or raise :class:`WaiverError` naming file, key and value.

    With ``catalogue`` / ``known_hosts``, a control that is not a host control of the catalogue and a host name
    or pattern that matches no declared host are errors too: either would otherwise waive nothing, silently.
    """
    shown = str(path)
    document, problems = read_yaml(path, shown)
    if document is None:
        raise WaiverError(problems)
    try:
        parsed = WaiversFile.model_validate(document)
    except ValidationError as exc:
        raise WaiverError(problems_from_validation(shown, exc, model=WaiversFile)) from None
    unknown = []
    if catalogue is not None:
        scopes = {c.id: c.scope for c in catalogue.controls}
        for i, w in enumerate(parsed.waivers):
            scope = scopes.get(w.control)
            if scope is None:
                message = f"no such control in the catalogue: {show_value(w.control)}"
            elif scope is not Scope.HOST:
                message = (
                    f"a {scope.value} control is checked on the stacks, not on hosts, "
                    f"so a waiver of it would waive nothing: {show_value(w.control)}"
                )
            else:
                continue
            unknown.append(Problem(shown, f"waivers[{i}].control", message))
    unknown += [
        Problem(shown, f"waivers[{i}].hosts[{j}]", f"matches no host of hosts.yaml: {show_value(pattern)}")
        for i, w in enumerate(parsed.waivers)
        for j, pattern in enumerate(w.hosts)
        if known_hosts is not None and not fnmatch.filter(known_hosts, pattern)
    ]
    if unknown:
        raise WaiverError(unknown)
    return Waivers(source=shown, items=parsed.waivers)
