"""The exported JSON Schema describes real declarations, and hosts.yaml is a real Ansible inventory."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from dizuo.baseline import harden
from dizuo.cli import app
from dizuo.declaration import load
from dizuo.declaration.inventory import ansible_inventory
from dizuo.declaration.loader import load_documents
from dizuo.declaration.model import FILES

from .conftest import YULIN, Edit


@pytest.mark.parametrize("name", list(FILES))
def test_each_files_json_schema_accepts_yulins_file_and_rejects_a_typo(name: str) -> None:
    """`dizuo schema FILE` is a valid JSON Schema that Yulin's FILE, as an editor's YAML language server reads it
    (dates as text), satisfies, and a misspelt top-level key breaks."""
    done = CliRunner().invoke(app, ["schema", f"inventories/yulin/{name}"])
    assert done.exit_code == 0, done.output
    schema = json.loads(done.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    document = json.loads(json.dumps(load_documents(YULIN)[name], default=str))
    errors = [
        f"{list(e.absolute_path)}: {e.message}" for e in jsonschema.Draft202012Validator(schema).iter_errors(document)
    ]
    assert errors == [], f"Yulin's {name} against `dizuo schema {name}`"
    document["misspelt"] = 1
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(document)), "a misspelt key must not pass"


def _schema_keys_and_descriptions(node: object, keys: set[str], descriptions: list[str]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                keys.update(value)
            if key == "description" and isinstance(value, str):
                descriptions.append(value)
            _schema_keys_and_descriptions(value, keys, descriptions)
    elif isinstance(node, list):
        for item in node:
            _schema_keys_and_descriptions(item, keys, descriptions)


def _named_keys(text: str) -> set[str]:
    """The snake_case words of a description: the keys it names (``source_cidr``; not ``x86_64``, a value, nor a
    value quoted as one: ``'zone_gov_dmz'``)."""
    return set(re.findall(r"(?<![\w/.'-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/'-])", text)) - {"x86_64"}


def test_every_key_a_schema_description_names_is_a_declaration_key() -> None:
    """What `dizuo schema` tells an editor to write exists: a description naming a snake_case key (``source_cidr``)
    names one of the declaration's keys, else following it earns an 'unknown key' from validate."""
    assert _named_keys("Zone name, or an external CIDR via source_cidr (see ingress, `ceph fsid`)") == {"source_cidr"}
    assert _named_keys("a zone's zone_<zone> group ('zone_gov_dmz' for 'gov-dmz')") == set()
    keys: set[str] = set()
    descriptions: list[str] = []
    for model in FILES.values():
        _schema_keys_and_descriptions(model.model_json_schema(), keys, descriptions)
    unknown = {word: text for text in descriptions for word in _named_keys(text) if word not in keys}
    assert not unknown, f"descriptions naming keys the declaration does not have: {unknown}"


def test_the_schema_says_a_rules_description_is_kept_as_it_was_made() -> None:
    """`dizuo schema network.yaml` tells whoever edits a flow's or ingress source's description that its rules keep the
    words they were made with (the network stack ignores later changes, since replacing a rule stops its traffic),
    rather than leave them to wonder why Horizon still shows the old words."""
    defs = FILES["network.yaml"].model_json_schema()["$defs"]
    for entry in ("Flow", "IngressSource"):
        said = defs[entry]["properties"]["description"].get("description", "")
        assert "when the rule is made" in said, f"{entry}.description: {said!r}"
        assert "replaces no rule" in said, f"{entry}.description: {said!r}"


def test_schema_of_something_not_a_declaration_file_is_refused() -> None:
    """`dizuo schema nope.yaml` exits 2 listing the declaration files it has a schema for."""
    done = CliRunner().invoke(app, ["schema", "nope.yaml"])
    assert done.exit_code == 2
    assert "nope.yaml: not a declaration file; one of: city.yaml, network.yaml" in " ".join(done.output.split())


def _as_ansible_reads_it(declaration: Path, work: Path) -> tuple[str, dict[str, Any]]:
    """`dizuo inventory` of ``declaration``, and ``ansible-inventory --list`` of that file (hostvars resolved)."""
    rendered = subprocess.run(
        [sys.executable, "-m", "dizuo", "inventory", str(declaration)], capture_output=True, text=True, check=True
    ).stdout
    hosts_file = work / "hosts.yml"
    hosts_file.write_text(rendered, encoding="utf-8")
    return rendered, _ansible_inventory_list(hosts_file, work)


def _ansible_inventory_list(source: Path, work: Path) -> dict[str, Any]:
    """``ansible-inventory -i SOURCE --list``: an inventory file, or an executable dynamic-inventory script."""
    ansible_inventory_bin = Path(sys.executable).with_name("ansible-inventory")
    listing: dict[str, Any] = json.loads(
        subprocess.run(
            [str(ansible_inventory_bin), "-i", str(source), "--list"],
            capture_output=True,
            text=True,
            check=True,
            env={"ANSIBLE_NOCOLOR": "1", "PATH": str(ansible_inventory_bin.parent), "HOME": str(work)},
        ).stdout
    )
    return listing


def test_ansible_reads_the_inventory_rendered_from_the_declaration(tmp_path: Path) -> None:
    """ansible-inventory parses `dizuo inventory` output into the declared hosts, groups and addresses."""
    rendered, listing = _as_ansible_reads_it(YULIN, tmp_path)
    d = load(YULIN)
    hostvars = listing["_meta"]["hostvars"]
    assert set(hostvars) == {h.name for h in d.inventory.hosts}
    for host in d.inventory.hosts:
        assert hostvars[host.name]["ansible_host"] == host.address, host.name
        for group in host.groups:
            assert host.name in listing[group]["hosts"], f"{host.name} missing from group {group}"
    assert listing["loghost"]["hosts"] == ["yl-log-01"]
    # The YAML form and the dynamic-inventory form are the same inventory.
    assert (
        yaml.safe_load(rendered)["all"]["vars"]["ansible_user"] == ansible_inventory(d)["all"]["vars"]["ansible_user"]
    )


def test_group_vars_of_all_reach_every_host_in_ansible(city: Path, edit: Edit, tmp_path: Path) -> None:
    """hosts.yaml group_vars.all are variables Ansible gives every host of the rendered inventory."""
    edit("hosts.yaml", lambda doc: doc["group_vars"].update(all={"dizuo_site": "榆林"}))
    _, listing = _as_ansible_reads_it(city, tmp_path)
    hostvars = listing["_meta"]["hostvars"]
    missing = sorted(h.name for h in load(city).inventory.hosts if hostvars[h.name].get("dizuo_site") != "榆林")
    assert missing == [], "hosts without hosts.yaml group_vars.all"


def test_group_vars_of_a_zone_group_reach_the_zones_hosts_in_ansible(city: Path, edit: Edit, tmp_path: Path) -> None:
    """hosts.yaml group_vars for a generated `zone_<zone>` group are accepted, and Ansible gives them to the hosts
    of that zone and no other."""
    edit("hosts.yaml", lambda doc: doc["group_vars"].update(zone_extranet={"http_proxy": "http://10.61.1.5:3128"}))
    d = load(city)
    _, listing = _as_ansible_reads_it(city, tmp_path)
    hostvars = listing["_meta"]["hostvars"]
    assert any(h.zone == "extranet" for h in d.inventory.hosts), "Yulin has extranet hosts"
    for host in d.inventory.hosts:
        proxy = hostvars[host.name].get("http_proxy")
        assert proxy == ("http://10.61.1.5:3128" if host.zone == "extranet" else None), host.name


def _zone_renamed(city: Path, old: str, new: str) -> None:
    """Zone ``old`` of the declaration in ``city`` renamed ``new`` wherever a file names it (its kind kept)."""
    for path in city.glob("*.yaml"):
        text = re.sub(rf"\b{old}\b", new, path.read_text(encoding="utf-8"))
        path.write_text(text.replace(f"kind: {new}", f"kind: {old}"), encoding="utf-8")


def test_a_hyphenated_zone_is_one_ansible_group_without_warning_or_rename(city: Path, edit: Edit) -> None:
    """A zone named gov-dmz gets the Ansible group zone_gov_dmz: ansible-inventory reads the rendered inventory with no
    invalid-group-name warning, and one whose ansible.cfg renames such groups (TRANSFORM_INVALID_GROUP_CHARS) finds the
    same group names, so its group_vars reach the zone's hosts either way; `--limit zone_gov-dmz` names the group."""
    _zone_renamed(city, "extranet", "gov-dmz")
    edit("hosts.yaml", lambda doc: doc["group_vars"].update(zone_gov_dmz={"http_proxy": "http://10.61.1.5:3128"}))
    rendered = subprocess.run(
        [sys.executable, "-m", "dizuo", "inventory", str(city)], capture_output=True, text=True, check=True
    ).stdout
    (city / "hosts.yml").write_text(rendered, encoding="utf-8")
    in_zone = sorted(h.name for h in load(city).inventory.hosts if h.zone == "gov-dmz")
    assert in_zone, "Yulin has hosts in the renamed zone"
    for transform in ("never", "always"):
        listed = subprocess.run(
            [str(Path(sys.executable).with_name("ansible-inventory")), "-i", str(city / "hosts.yml"), "--list"],
            capture_output=True,
            text=True,
            check=True,
            env={"ANSIBLE_NOCOLOR": "1", "HOME": str(city), "ANSIBLE_TRANSFORM_INVALID_GROUP_CHARS": transform},
        )
        assert "Invalid characters were found in group names" not in listed.stderr, listed.stderr
        listing = json.loads(listed.stdout)
        assert set(listing) - {"_meta", "all", "ungrouped"} == set(yaml.safe_load(rendered)["all"]["children"])
        assert sorted(listing["zone_gov_dmz"]["hosts"]) == in_zone, transform
        proxied = sorted(h for h, v in listing["_meta"]["hostvars"].items() if v.get("http_proxy"))
        assert proxied == in_zone, transform
    # harden and audit --limit read the same groups, and name the group a '-' was meant for.
    assert sorted(harden.hosts_matching(load(city), "zone_gov_dmz")) == in_zone
    with pytest.raises(harden.HardenError, match="a zone's group writes '-' as '_': zone_gov_dmz"):
        harden.hosts_matching(load(city), "zone_gov-dmz")


def test_a_hyphenated_group_is_refused_naming_the_host_and_the_group(city: Path, edit: Edit) -> None:
    """A declared group with a '-' (which Ansible warns of, or renames) is refused naming hosts.yaml, the key and the
    value, with the name to write; group_vars of zone_gov-dmz are told the zone's group is zone_gov_dmz."""
    _zone_renamed(city, "extranet", "gov-dmz")
    edit("hosts.yaml", lambda doc: doc["hosts"][0].update(groups=["data-migration"]))
    edit("hosts.yaml", lambda doc: doc["group_vars"].update({"zone_gov-dmz": {"http_proxy": "http://10.61.1.5:3128"}}))
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    said = " ".join(done.output.split())
    assert (
        "hosts.yaml: hosts[0].groups[0]: Ansible group names take letters, digits and _, not '-' (Ansible warns of "
        "it, or renames the group): write 'data_migration': 'data-migration'"
    ) in said
    assert (
        "hosts.yaml: group_vars.zone_gov-dmz: no host is in this group: the group of zone 'gov-dmz' is zone_gov_dmz"
        in said
    )
    edit("hosts.yaml", lambda doc: doc["hosts"][0].update(groups=["data_migration"]))
    edit("hosts.yaml", lambda doc: doc["group_vars"].update({"zone_gov_dmz": doc["group_vars"].pop("zone_gov-dmz")}))
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 0, done.output


def test_inventory_host_gives_one_hosts_variables_and_refuses_an_unknown_one() -> None:
    """`--host NAME` prints that host's variables; an undeclared name and --list with --host are errors, exit 1."""

    def inventory(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "dizuo", "inventory", str(YULIN), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False, env={"COLUMNS": "300"})

    known = inventory("--host", "yl-log-01")
    assert known.returncode == 0, known.stderr
    assert json.loads(known.stdout)["ansible_host"] == next(
        h.address for h in load(YULIN).inventory.hosts if h.name == "yl-log-01"
    )
    unknown = inventory("--host", "yl-nosuch")
    assert unknown.returncode == 2
    assert "--host: no host 'yl-nosuch' in" in unknown.stderr
    assert "yl-log-01" in unknown.stderr, "the declared hosts are listed"
    assert unknown.stdout == ""
    both = inventory("--list", "--host", "yl-log-01")
    assert both.returncode == 2
    assert "give --list or --host NAME, not both" in both.stderr


def _ansible_connection_aliases() -> list[str]:
    """The variables Ansible's ssh and paramiko connection plugins read for the address, port and account they
    connect to, from the installed plugins' own documentation, but for the names the inventory sets itself."""
    from ansible.plugins.connection import paramiko_ssh, ssh  # noqa: PLC0415 - only these tests need Ansible

    names = set()
    for plugin in (ssh, paramiko_ssh):
        options = yaml.safe_load(plugin.DOCUMENTATION)["options"]
        for option in ("host", "remote_addr", "port", "remote_user"):
            names |= {v["name"] for v in options.get(option, {}).get("vars", [])}
    own = {"inventory_hostname", "ansible_host", "ansible_port", "ansible_user"}
    return sorted(n for n in names - own if not n.startswith("delegated_vars"))


@pytest.mark.parametrize("where", ["vars", "group_vars.zone_extranet"])
@pytest.mark.parametrize("alias", _ansible_connection_aliases())
def test_ansibles_other_names_for_a_hosts_address_port_or_account_are_refused(
    city: Path, edit: Edit, where: str, alias: str
) -> None:
    """A variable Ansible reads after a host's own ansible_host/_port/_user (ansible_ssh_host...) would send every
    host of the group to one address, port or account: validate refuses it, naming where it is set."""
    value = {"ansible_ssh_port": 2222, "ansible_paramiko_port": 2222}.get(alias, "10.64.1.20")

    def change(doc: dict[str, Any]) -> None:
        if where == "vars":
            doc["vars"][alias] = value
        else:
            doc["group_vars"]["zone_extranet"] = {alias: value}

    edit("hosts.yaml", change)
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    assert f"hosts.yaml: {where}.{alias}: Ansible's other name for" in done.output
    assert len(_ansible_connection_aliases()) >= 4, "Ansible still documents ansible_ssh_host, _port, _user..."


def test_a_date_in_vars_reaches_ansible_alike_through_the_script_and_the_file(
    city: Path, edit: Edit, tmp_path: Path
) -> None:
    """A date in vars or group_vars (`patch_window: 2026-01-01`, which YAML and Ansible read as a date): `dizuo
    inventory --list` as Ansible's inventory script gives Ansible the same variables as the rendered hosts.yml."""

    def change(doc: dict[str, Any]) -> None:
        doc["vars"]["patch_window"] = datetime.date(2026, 1, 1)
        doc["group_vars"]["loghost"]["rotated_at"] = datetime.datetime(2026, 1, 1, 2, 30)

    edit("hosts.yaml", change)
    script = tmp_path / "dizuo-inventory"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} -m dizuo inventory {city} "$@"\n', encoding="utf-8")
    script.chmod(0o755)
    listed = subprocess.run([str(script), "--list"], capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stderr
    _, from_file = _as_ansible_reads_it(city, tmp_path)
    from_script = _ansible_inventory_list(script, tmp_path)
    assert from_script["_meta"]["hostvars"]["yl-log-01"]["patch_window"] == "2026-01-01"
    assert from_script["_meta"]["hostvars"]["yl-log-01"]["rotated_at"] == "2026-01-01T02:30:00"
    assert from_script["_meta"]["hostvars"] == from_file["_meta"]["hostvars"]


def test_a_value_the_inventory_json_cannot_carry_is_refused(city: Path) -> None:
    """A YAML set or binary value in hosts.yaml vars: validate names it (the --list JSON has no form for it)."""
    hosts = city / "hosts.yaml"
    text = hosts.read_text(encoding="utf-8")
    hosts.write_text(
        text.replace("\nvars: {", "\nvars: {key: !!binary aGVsbG8=, sites: !!set {a, b}, "), encoding="utf-8"
    )
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    assert (
        "hosts.yaml: vars.key: Ansible's dynamic-inventory JSON cannot carry it (no JSON form for a bytes"
        in done.output
    )
    assert (
        "hosts.yaml: vars.sites: Ansible's dynamic-inventory JSON cannot carry it (no JSON form for a set"
        in done.output
    )


@pytest.mark.parametrize("port", [0, 70000])
def test_the_schema_refuses_a_port_the_loader_refuses(port: int) -> None:
    """An editor validating network.yaml with `dizuo schema network.yaml` marks a port outside 1-65535 of a flow, an
    ingress source and the management ports, as `dizuo validate` does."""
    schema = json.loads(CliRunner().invoke(app, ["schema", "network.yaml"]).stdout)
    document = json.loads(json.dumps(load_documents(YULIN)["network.yaml"], default=str))
    document["flows"][0]["ports"] = [443, port]
    document["ingress"][0]["ports"] = [port]
    document["management_ports"] = [22, port]
    errors = sorted(
        ".".join(map(str, e.absolute_path)) for e in jsonschema.Draft202012Validator(schema).iter_errors(document)
    )
    assert errors == ["flows.0.ports.1", "ingress.0.ports.0", "management_ports.1"]


@pytest.mark.parametrize("name", ["patch-window", "class", "时区", "2fa"])
def test_a_variable_name_ansible_refuses_is_refused_where_it_is_set(city: Path, edit: Edit, name: str) -> None:
    """A hosts.yaml variable Ansible's own name check refuses (ansible-core warns on every run and refuses it from
    2.23) is an error naming where it is set, not an inventory that validate passed and Ansible complains about."""
    from ansible.utils.vars import isidentifier  # noqa: PLC0415 - only this test needs Ansible

    assert not isidentifier(name), f"Ansible takes {name!r} as a variable name"
    edit("hosts.yaml", lambda doc: doc["group_vars"]["loghost"].update({name: "x"}))
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    assert f"hosts.yaml: group_vars.loghost.{name}: not a variable name Ansible takes" in done.output


def test_two_hosts_ansible_reaches_at_one_endpoint_are_refused(city: Path, edit: Edit) -> None:
    """A host's ansible_host copied from another host's address: Ansible would harden and audit one machine under two
    names (the report certifying a machine never checked). validate names the ansible_host; one address on two ports
    (a NAT gateway's forwards) stays two machines."""
    hosts = load(city).inventory.hosts
    a, b = 0, 1
    edit("hosts.yaml", lambda doc: doc["hosts"][a].update(ansible_host=hosts[b].address))
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    assert (
        f"hosts.yaml: hosts[{a}].ansible_host: Ansible would connect to {hosts[b].address}:22 for "
        f"{hosts[b].name!r} (hosts[{b}]) too: one machine under two names"
    ) in done.output

    edit("hosts.yaml", lambda doc: doc["hosts"][a].update(ansible_port=2201))
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 0, done.output


@pytest.mark.parametrize("where", ["yl log 01", "10.64.1.300", "10.064.1.20", ""])
def test_an_ansible_host_that_is_no_address_or_host_name_is_refused(city: Path, edit: Edit, where: str) -> None:
    """An ansible_host Ansible cannot connect to (a space, a mistyped address) is named by validate, not found when
    harden or audit tries to connect; an IP address or a host name is taken."""
    edit("hosts.yaml", lambda doc: doc["hosts"][0].update(ansible_host=where))
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    assert (
        "hosts.yaml: hosts[0].ansible_host: not an IP address or a host name (letters, digits, hyphens and dots): "
        f"'{where}'" in done.output
    )

    for reachable in ("yl-bastion-01.yl.gov.cn", "127.0.0.2", "fd00::10"):
        edit("hosts.yaml", lambda doc, to=reachable: doc["hosts"][0].update(ansible_host=to))
        done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
        assert done.exit_code == 0, f"{reachable}: {done.output}"


@pytest.mark.parametrize(
    ("one", "other"),
    [("yl-log-01.yl.gov.cn", "YL-LOG-01.yl.gov.cn."), ("fd00::10", "fd00:0:0::10")],
    ids=["host-name", "ipv6"],
)
def test_one_endpoint_written_two_ways_is_one_machine(city: Path, edit: Edit, one: str, other: str) -> None:
    """Two ansible_hosts that differ only in how they are written (a name's case or final dot, an IPv6 address's
    zeros) reach one machine: refused like two written alike."""

    def both(doc: dict[str, Any]) -> None:
        doc["hosts"][0]["ansible_host"] = one
        doc["hosts"][1]["ansible_host"] = other

    edit("hosts.yaml", both)
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    assert f"hosts.yaml: hosts[1].ansible_host: Ansible would connect to {other}:22 for " in done.output


def test_a_group_named_like_a_host_is_refused(city: Path, edit: Edit) -> None:
    """A group named like a host: Ansible warns, and `--limit <name>` would pick the host, never the group's members,
    so harden or audit of the group would act on another machine."""
    hosts = load(city).inventory.hosts
    edit("hosts.yaml", lambda doc: doc["hosts"][0].update(groups=[*hosts[0].groups, hosts[1].name]))
    done = CliRunner().invoke(app, ["validate", str(city)], env={"COLUMNS": "300"})
    assert done.exit_code == 1, done.output
    at = len(hosts[0].groups)
    assert (
        f"hosts.yaml: hosts[0].groups[{at}]: '{hosts[1].name}' is a host's name too: `--limit {hosts[1].name}` would "
        "pick that host, not this group"
    ) in done.output
