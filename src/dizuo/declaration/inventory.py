"""The Ansible inventory, rendered from hosts.yaml: the declaration is the one source of truth."""

from __future__ import annotations

import datetime
import json
from typing import Any

from dizuo.declaration.model import Declaration


def zone_group(zone: str) -> str:
    """The Ansible group of a zone's hosts: ``zone_<zone>``, a ``-`` of the zone's name written ``_``. Ansible takes
    only letters, digits and ``_`` in a group name: it warns of any other, and an ansible.cfg with
    TRANSFORM_INVALID_GROUP_CHARS renames the group behind the user's back. Zone names hold no ``_``, so two zones never
    share a group."""
    return "zone_" + zone.replace("-", "_")


def ansible_inventory(declaration: Declaration) -> dict[str, Any]:
    """The inventory in Ansible's JSON form (as a dynamic inventory script prints for ``--list``).

    ``group_vars.all`` is what Ansible users write for every host (``group_vars/all.yml``): it joins ``vars`` in
    ``all.vars``, where Ansible reads both (validate refuses a variable set in both).
    """
    inv = declaration.inventory
    hostvars: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[str]] = {}
    for host in inv.hosts:
        hostvars[host.name] = {
            "ansible_host": host.ansible_host or host.address,
            "ansible_port": host.ansible_port,
            "dizuo_zone": host.zone,
            "dizuo_os": host.os.value,
            "dizuo_arch": host.arch.value,
        }
        for group in (zone_group(host.zone), *host.groups):
            groups.setdefault(group, []).append(host.name)
    result: dict[str, Any] = {
        "_meta": {"hostvars": hostvars},
        "all": {
            "children": sorted(groups),
            "vars": {
                "ansible_user": inv.ansible_user,
                "dizuo_city": declaration.city.code,
                **inv.vars,
                **inv.group_vars.get("all", {}),
            },
        },
    }
    for group, members in sorted(groups.items()):
        result[group] = {"hosts": members, "vars": dict(inv.group_vars.get(group, {}))}
    return result


def hosts_yml(declaration: Declaration) -> dict[str, Any]:
    """The same inventory in Ansible's YAML form (``hosts.yml``), for tools that want a file."""
    listing = ansible_inventory(declaration)
    hostvars = listing["_meta"]["hostvars"]
    children = {
        group: {
            "hosts": {h: dict(hostvars[h]) for h in body["hosts"]},
            **({"vars": body["vars"]} if body["vars"] else {}),
        }
        for group, body in listing.items()
        if group not in {"_meta", "all"}
    }
    return {"all": {"vars": listing["all"]["vars"], "children": children}}


def to_json(value: object, indent: int | None = None) -> str:
    """``value`` as the dynamic-inventory JSON Ansible reads (``--list``, ``--host``): a date or time as ISO 8601 text,
    as ``ansible-inventory --list`` writes one read from a YAML inventory. Raises TypeError on a value JSON has no
    form for (bytes, a set): validate refuses those in hosts.yaml, so a valid declaration always renders."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=_iso_text)


def _iso_text(value: object) -> str:
    if isinstance(value, datetime.date | datetime.time):  # datetime is a date
        return value.isoformat()
    raise TypeError(f"no JSON form for a {type(value).__name__} value")
