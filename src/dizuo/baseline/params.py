"""Baseline parameter values of a city: catalogue defaults, then the declaration, then overrides.

Precedence, lowest first:

1. the catalogue default (``catalogue.yaml``);
2. values derived from the declaration where the default is empty — the management-zone CIDRs for
   ``mgmt_allowed_sources``, the first ``loghost`` host for ``log_server``, the ``ntp`` hosts for
   ``ntp_servers`` and every zone for ``ntp_serve_to`` — and, whatever the default, the inventory's
   ``ansible_user`` for ``automation_account`` (the account harden and audit log in with; an override may only
   repeat it);
3. ``city.yaml: baseline: {param: value}``;
4. ``city.yaml: baseline: zones: {zone: {param: value}}`` for the hosts of that zone.

A list is given whole; a mapping (``sysctl_network``) is merged key by key over the level below it, so a zone that
turns on ``net.ipv4.ip_forward`` keeps every other key of the catalogue and the city.

Every override is validated against the catalogue; problems name the file, the key path and the value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from dizuo.baseline.catalogue import Catalogue, ParamValue, packaged
from dizuo.baseline.role import own_packages
from dizuo.declaration.loader import DeclarationError, Problem, show_value
from dizuo.declaration.model import Declaration, ZoneKind

LOGHOST_GROUP = "loghost"
NTP_GROUP = "ntp"
# Derived from the declaration even where the catalogue has a default: the automation account is the account
# Ansible and the audit log in with (hosts.yaml ansible_user). The role gives it the key-only SSH login and the
# sudo grant; any other account there would leave the one Ansible uses asked for a password it does not have.
ALWAYS_DERIVED = frozenset({"automation_account"})


@dataclass(frozen=True, slots=True)
class BaselineParams:
    """Resolved values: city-wide, and per zone (only zones that override something differ)."""

    city: Mapping[str, ParamValue]
    zones: Mapping[str, Mapping[str, ParamValue]] = field(default_factory=dict)

    def for_zone(self, zone: str) -> dict[str, ParamValue]:
        """The values that apply to the hosts of ``zone``."""
        return _over(self.city, self.zones.get(zone, {}))


def _over(lower: Mapping[str, ParamValue], upper: Mapping[str, Any]) -> dict[str, ParamValue]:
    """``upper``'s values over ``lower``'s: a mapping is merged key by key (an override names only the keys it
    changes), any other value replaces the one below."""
    merged = dict(lower)
    for name, value in upper.items():
        below = merged.get(name)
        merged[name] = {**below, **value} if isinstance(below, dict) and isinstance(value, dict) else value
    return merged


def derived_defaults(declaration: Declaration) -> dict[str, ParamValue]:
    """Values the declaration already says, used where the catalogue default is empty."""
    derived: dict[str, ParamValue] = {"automation_account": declaration.inventory.ansible_user}
    management = [z.cidr for z in declaration.zones if z.kind is ZoneKind.MANAGEMENT]
    if management:
        derived["mgmt_allowed_sources"] = management
    loghosts = [h for h in declaration.inventory.hosts if LOGHOST_GROUP in h.groups]
    if loghosts:
        derived["log_server"] = loghosts[0].address
    time_servers = [h.address for h in declaration.inventory.hosts if NTP_GROUP in h.groups]
    if time_servers:
        derived["ntp_servers"] = time_servers
    derived["ntp_serve_to"] = [z.cidr for z in declaration.zones]
    return derived


def resolve(
    declaration: Declaration, catalogue: Catalogue | None = None, *, source: str = "city.yaml"
) -> BaselineParams:
    """Resolve every parameter for the city and its zones, or raise :class:`DeclarationError`."""
    catalogue = catalogue or packaged()
    specs = catalogue.parameters()
    base: dict[str, ParamValue] = dict(catalogue.defaults())
    for name, value in derived_defaults(declaration).items():
        if name in specs and (name in ALWAYS_DERIVED or not base[name]):
            base[name] = value

    overrides = dict(declaration.city.baseline)
    zone_overrides = overrides.pop("zones", {})
    problems = _check(overrides, "baseline", catalogue, source)
    zones: dict[str, dict[str, ParamValue]] = {}
    if not isinstance(zone_overrides, dict):
        problems.append(
            Problem(source, "baseline.zones", f"must map zone names to parameters: {show_value(zone_overrides)}")
        )
    else:
        known_zones = {z.name for z in declaration.zones}
        for zone, values in zone_overrides.items():
            where = f"baseline.zones.{zone}"
            if zone not in known_zones:
                problems.append(Problem(source, where, f"unknown zone (declared: {', '.join(sorted(known_zones))})"))
            elif not isinstance(values, dict):
                problems.append(Problem(source, where, f"must map parameters to values: {show_value(values)}"))
            else:
                problems += _check(values, where, catalogue, source)
                zones[zone] = dict(values)
    if not problems:  # each value is sound on its own: now the ones that must fit together
        city_values = _over(base, overrides)
        problems += _fit_together(city_values, overrides, "baseline", declaration, source)
        for zone, values in zones.items():
            problems += _fit_together(_over(city_values, values), values, f"baseline.zones.{zone}", declaration, source)
    if problems:
        raise DeclarationError(problems)
    return BaselineParams(city=_over(base, overrides), zones=zones)


def _fit_together(
    values: Mapping[str, Any], given: Mapping[str, Any], where: str, declaration: Declaration, source: str
) -> list[Problem]:
    """Problems of values that are sound alone but not together (``given``: what this level of city.yaml sets)."""
    return [
        *_backup_dir_outside_backup_paths(values, where, source),
        *_automation_account_is_ansible_s(given, where, declaration, source),
        *_separate_administrators(values, given, where, source),
        *_removes_none_of_the_baseline_s_packages(given, where, source),
    ]


def _removes_none_of_the_baseline_s_packages(given: Mapping[str, Any], where: str, source: str) -> list[Problem]:
    """insecure_remote_packages names none of the packages the role installs for the baseline itself (its OS vars'
    lists): the role removes what the list names, so openssh-server there ended SSH to the host, auditd or rsyslog
    the audit trail."""
    listed = given.get("insecure_remote_packages", [])
    own = own_packages()
    return [
        Problem(
            source,
            f"{where}.insecure_remote_packages",
            f"names {package!r}, a package the baseline itself installs (roles/baseline {', '.join(own[package])}): "
            f"the role removes what this list names, and with it SSH, sudo, the audit trail, the clock or the "
            f"integrity and malware checks the baseline needs (DZ-IA-07)",
        )
        for package in listed
        if package in own
    ]


ADMIN_ROLES = ("sysadmin", "secadmin", "auditadmin")


def _separate_administrators(
    values: Mapping[str, Any], given: Mapping[str, Any], where: str, source: str
) -> list[Problem]:
    """三权分立 (DZ-AC-03): the three roles are three groups, and no account holds two roles or is also the automation
    account (full sudo). The role adds every listed account to its role's group, so an account listed twice held both
    roles, and the audit then failed DZ-AC-03 on a host the role had just converged. Judged where this level of
    city.yaml sets one of these keys (the catalogue's defaults keep them apart), and named at a key it sets."""
    keys = {"automation_account"} | {f"{role}_{what}" for role in ADMIN_ROLES for what in ("group", "accounts")}
    if not keys & given.keys():
        return []
    problems = []
    groups = [str(values[f"{role}_group"]) for role in ADMIN_ROLES]
    for index, role in enumerate(ADMIN_ROLES):
        if groups[index] in groups[:index]:
            problems.append(
                Problem(
                    source,
                    f"{where}.{role}_group",
                    f"is the group of another administrator role: each of {', '.join(ADMIN_ROLES)} needs its own "
                    f"(三权分立, DZ-AC-03): {show_value(groups[index])}",
                )
            )
    holder: dict[str, str] = {str(values["automation_account"]): "automation_account"}
    for role in ADMIN_ROLES:
        key = f"{role}_accounts"
        for account in map(str, values[key]):
            other = holder.setdefault(account, key)
            if other != key:
                named, also = (other, key) if other in given and key not in given else (key, other)
                problems.append(
                    Problem(
                        source,
                        f"{where}.{named}",
                        f"{account!r} is also in {also}: one account holds one administrator role and none is the "
                        f"automation account (三权分立, DZ-AC-03): {show_value(values[named])}",
                    )
                )
    return problems


def _automation_account_is_ansible_s(
    given: Mapping[str, Any], where: str, declaration: Declaration, source: str
) -> list[Problem]:
    """An override of automation_account names the account Ansible logs in with, or nothing at all."""
    connecting = declaration.inventory.ansible_user
    if "automation_account" not in given or given["automation_account"] == connecting:
        return []
    return [
        Problem(
            source,
            f"{where}.automation_account",
            f"is the account Ansible and the audit log in with, hosts.yaml's ansible_user ({connecting!r}): set "
            f"that instead. The role keeps key-only SSH and sudo for this account alone, so {connecting!r} would "
            f"be asked for a password too and locked out after the first run (DZ-IA-09): "
            f"{show_value(given['automation_account'])}",
        )
    ]


def _backup_dir_outside_backup_paths(values: Mapping[str, Any], where: str, source: str) -> list[Problem]:
    """The backup job's folder is not inside what it archives: each archive would hold all the ones before it."""
    folder = PurePosixPath(str(values["backup_dir"]))
    return [
        Problem(
            source,
            f"{where}.backup_dir",
            f"is inside backup_paths entry {str(path)!r}, so each backup would archive the ones before it "
            f"(DZ-DB-01): {show_value(str(folder))}",
        )
        for path in map(PurePosixPath, map(str, values["backup_paths"]))
        if folder == path or path in folder.parents
    ]


def _check(values: Mapping[str, Any], where: str, catalogue: Catalogue, source: str) -> list[Problem]:
    specs = catalogue.parameters()
    problems = []
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            problems.append(
                Problem(source, f"{where}.{name}", "unknown baseline parameter (see `dizuo baseline controls`)")
            )
            continue
        problem = spec.problem_with(value)
        if problem:
            owner = next(c.id for c in catalogue.controls if spec in c.parameters)
            problems.append(Problem(source, f"{where}.{name}", f"{problem} ({owner}): {show_value(value)}"))
    return problems


def ansible_vars_shadowing_parameters(
    declaration: Declaration, catalogue: Catalogue | None = None, *, source: str = "hosts.yaml"
) -> list[Problem]:
    """hosts.yaml variables that would set a catalogue parameter behind the audit's back.

    ``baseline_<param>`` there is overridden by the resolved value dizuo gives every host, and the role's
    ``baseline_<param>_custom`` extends what it enforces without the audit checking the same: both belong in
    city.yaml, where harden and audit read one value.
    """
    specs = (catalogue or packaged()).parameters()
    scopes = [("vars", declaration.inventory.vars)] + [
        (f"group_vars.{group}", values) for group, values in declaration.inventory.group_vars.items()
    ]
    problems = []
    for where, values in scopes:
        for key in values:
            name = key.removeprefix("baseline_").removesuffix("_custom")
            if key.startswith("baseline_") and name in specs:
                problems.append(
                    Problem(
                        source,
                        f"{where}.{key}",
                        f"sets the catalogue parameter {name!r} where the audit does not read it: put it in city.yaml "
                        f"baseline (or baseline.zones.<zone>) as {name}, the whole list",
                    )
                )
    return problems


def connecting_account_problems(
    declaration: Declaration, params: BaselineParams, catalogue: Catalogue | None = None, *, source: str = "hosts.yaml"
) -> list[Problem]:
    """hosts.yaml's ansible_user is the automation account: a user name useradd, sudoers and sshd read, and one the
    hardened sshd still lets in (root is refused where ``ssh_permit_root_login`` is ``no``)."""
    account = declaration.inventory.ansible_user
    spec = (catalogue or packaged()).parameters().get("automation_account")
    problem = spec.problem_with(account) if spec is not None else None
    if problem:
        return [Problem(source, "ansible_user", f"{problem} (the automation account, DZ-AC-02): {show_value(account)}")]
    if account != "root":
        return []
    refusing = sorted(
        {
            host.zone
            for host in declaration.inventory.hosts
            if params.for_zone(host.zone)["ssh_permit_root_login"] == "no"
        }
    )
    if not refusing:
        return []
    return [
        Problem(
            source,
            "ansible_user",
            f"root is refused SSH logins once hosts are hardened (ssh_permit_root_login 'no' in zone(s) "
            f"{', '.join(refusing)}, DZ-IA-08), so Ansible and the audit would be locked out after the first run: "
            f"connect as an account of its own (the role gives it sudo): {show_value(account)}",
        )
    ]


def unreachable_baseline_servers(
    declaration: Declaration, params: BaselineParams, *, source: str = "hosts.yaml"
) -> list[Problem]:
    """Hosts whose log host (DZ-AU-03), time servers (DZ-AU-07) or signature mirror (DZ-MC-03) sit in another zone
    that no declared flow opens to them: the role would configure them, and the network would drop every message,
    every clock update and every signature update.

    Servers outside every zone (a provincial time service, loopback) are not judged: the declaration does not say
    how they are reached. The city's time servers themselves follow upstream sources, not ``ntp_servers``.
    """
    zones = [(zone.name, ipaddress.IPv4Network(zone.cidr)) for zone in declaration.zones]

    def zone_of(address: str) -> str | None:
        try:
            ip = ipaddress.IPv4Address(address)
        except ValueError:
            return None  # a name: resolved where the host runs
        return next((name for name, network in zones if ip in network), None)

    problems: list[Problem] = []
    reported: set[tuple[str, str, str, int]] = set()
    for index, host in enumerate(declaration.inventory.hosts):
        values = params.for_zone(host.zone)
        wanted: list[tuple[str, str, str, str, int]] = []
        log_server, log_port, time_servers = values["log_server"], values["log_server_port"], values["ntp_servers"]
        if log_server and isinstance(log_port, int):
            wanted.append(("DZ-AU-03", "logs", str(log_server), "tcp", log_port))
        if NTP_GROUP not in host.groups and isinstance(time_servers, list):
            wanted += [("DZ-AU-07", "clock", str(server), "udp", 123) for server in time_servers]
        mirror = _url_host_and_port(str(values["malware_mirror"]))
        if mirror:
            wanted.append(("DZ-MC-03", "malware signatures", *mirror))
        for control, what, address, protocol, port in wanted:
            there = zone_of(address)
            if there is None or there == host.zone or (host.zone, address, protocol, port) in reported:
                continue
            flows = declaration.network.flows_between(host.zone, there, protocol)
            if any(not flow.ports or port in flow.ports for flow in flows):
                continue
            reported.add((host.zone, address, protocol, port))
            problems.append(
                Problem(
                    source,
                    f"hosts[{index}].zone",
                    f"hosts of zone {host.zone!r} take their {what} to {address} ({port}/{protocol}, zone {there!r}, "
                    f"{control}), but network.yaml declares no {protocol} flow from {host.zone!r} to {there!r} "
                    f"that opens {port}",
                )
            )
    return problems


def _url_host_and_port(url: str) -> tuple[str, str, int] | None:
    """(host, "tcp", port) that a URL is fetched from, or None where it names none or no valid port (the
    parameter's own check reports a malformed URL)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # an unclosed [ or a port above 65535
        return None
    return (parts.hostname, "tcp", port) if parts.hostname else None


def host_vars(declaration: Declaration, params: BaselineParams) -> dict[str, dict[str, ParamValue]]:
    """Role variables (``baseline_<param>``) for each declared host, by its zone."""
    return {
        host.name: {f"baseline_{name}": value for name, value in params.for_zone(host.zone).items()}
        for host in declaration.inventory.hosts
    }
