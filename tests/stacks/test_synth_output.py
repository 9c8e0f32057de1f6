"""`dizuo synth` output: plain manifests valid against the Kubernetes API schemas, counts, no secrets."""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pulumi
import pytest
import yaml
from pulumi.runtime.proto import resource_pb2
from typer.testing import CliRunner

import dizuo.synth.engine as engine_module
import dizuo.synth.synth as synth_module
from declarations import city_copy, cluster_renamed, zone_renamed
from dizuo.baseline.catalogue import Scope, packaged
from dizuo.baseline.policies import policies
from dizuo.cli import app
from dizuo.cloud import shapes
from dizuo.declaration import Declaration, load
from dizuo.exit_codes import BAD_INPUT
from dizuo.synth.engine import read_stack_config, run_stack
from dizuo.synth.released import released
from dizuo.synth.schemas import _schema_dir as schema_dir
from dizuo.synth.schemas import (
    label_errors,
    label_key_problem,
    label_value_problem,
    manifest_errors,
    schema_version,
)
from dizuo.synth.synth import SynthError, synth
from rich_tables import table_cells

from .conftest import ROOT, TEST_SECRET, YULIN, one_file_stack
from .test_deploy import with_fake_pulumi


def manifests(out: Path) -> list[dict]:
    docs = []
    for path in sorted(out.glob("*/*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_the_readme_s_gitops_include_takes_exactly_one_cluster_s_manifests(synthesised: tuple[Path, dict]) -> None:
    """The Argo CD include pattern README gives for a cluster selects every stack's file of that cluster and nothing
    else of the build: not summary.json nor an openstack.json, which are no manifests and would fail the sync."""
    out, _ = synthesised
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (pattern,) = re.findall(r"include: '([^']+)'", readme)
    built = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    taken = [path for path in built if fnmatch.fnmatchcase(path, pattern)]
    assert taken == ["baseline/yl-gov.yaml", "cloud/yl-gov.yaml", "datapool/yl-gov.yaml"], built
    for path in taken:
        for doc in yaml.safe_load_all((out / path).read_text(encoding="utf-8")):
            assert {"apiVersion", "kind"} <= set(doc), f"{path}: a document that is no Kubernetes object"
    assert {"summary.json", "datapool/openstack.json", "network/openstack.json"} <= set(built), "what it must leave"


def _readme_synth_table() -> dict[str, str]:
    """README's table of what `dizuo synth` writes: each row's path under DIR (`<stack>/<cluster>.yaml`), with what the
    row says the file holds."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What `dizuo synth` writes", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `DIR/([^`]+)` \| (.*) \|$", section, flags=re.MULTILINE))


def _keys(value: Any) -> set[str]:
    """Every key of every mapping in a JSON value, however deep."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    return {k for v in value for k in _keys(v)} if isinstance(value, list) else set()


def test_the_readme_s_table_of_what_synth_writes_is_the_build(synthesised: tuple[Path, dict]) -> None:
    """Each file a build holds is one README's table of what `dizuo synth` writes lists (its `<placeholders>` standing
    for a name), each row is a file the build holds, and each key the summary.json row names is in summary.json."""
    out, _ = synthesised
    table = _readme_synth_table()
    assert "summary.json" in table, table
    # re.escape leaves < and > alone: each placeholder, escaped or not, stands for one name.
    rows = {row: re.compile(re.sub(r"<[^>]+>", "[^/]+", re.escape(row))) for row in table}
    built = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    unlisted = [path for path in built if not any(r.fullmatch(path) for r in rows.values())]
    assert not unlisted, f"written but not in README's table: {unlisted}"
    unwritten = [row for row, r in rows.items() if not any(r.fullmatch(path) for path in built)]
    assert not unwritten, f"in README's table but not written: {unwritten} (the build: {built})"
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    named = set(re.findall(r"`([a-z_]+)`", table["summary.json"]))
    assert named, table["summary.json"]
    assert named <= _keys(summary), f"keys README names that summary.json lacks: {sorted(named - _keys(summary))}"


def test_every_manifest_passes_kubernetes_validate_strict(synthesised: tuple[Path, dict]) -> None:
    """kubernetes-validate --strict (Kubernetes 1.30) accepts every file synth wrote."""
    out, _ = synthesised
    files = sorted(str(p) for p in out.glob("*/*.yaml"))
    assert files
    tool = Path(sys.executable).with_name("kubernetes-validate")
    done = subprocess.run(
        [str(tool), "--strict", "-k", "1.30", "--quiet", *files], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_manifests_cover_every_department_and_system(synthesised: tuple[Path, dict], yulin: Declaration) -> None:
    """Each of the 33 departments and every system has its namespace in the written manifests."""
    out, _ = synthesised
    namespaces = [d for d in manifests(out) if d["kind"] == "Namespace"]
    system_ns = {d["metadata"]["name"] for d in namespaces if "dizuo.io/system" in d["metadata"]["labels"]}
    departments = {d["metadata"]["labels"].get("dizuo.io/department") for d in namespaces}
    assert system_ns == {s.code for s in yulin.systems}
    assert {d.code for d in yulin.departments} <= departments


def test_summary_counts_what_was_written(synthesised: tuple[Path, dict], yulin: Declaration) -> None:
    """summary.json counts resources per stack and type, matching the manifests on disk."""
    out, _ = synthesised
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["declaration"]["systems"] == len(yulin.systems)
    assert set(summary["stacks"]) == {"network", "baseline", "cloud", "datapool"}
    written = sum(1 for _ in manifests(out))
    declared_k8s = sum(
        n for s in summary["stacks"].values() for t, n in s["by_type"].items() if t.startswith("kubernetes:")
    )
    assert written == declared_k8s
    openstack = json.loads((out / "network" / "openstack.json").read_text(encoding="utf-8"))
    assert len(openstack) == sum(
        n for t, n in summary["stacks"]["network"]["by_type"].items() if t.startswith("openstack:")
    )


RULE = "openstack:networking/secGroupRule:SecGroupRule"
SUBNET = "openstack:networking/subnet:Subnet"
CITY_NETWORK = "dizuo:network:CityNetwork"


def _openstack_json(out: Path, stack: str = "network") -> dict[str, dict[str, Any]]:
    """A stack's openstack.json, by resource name."""
    return {r["name"]: r for r in json.loads((out / stack / "openstack.json").read_text(encoding="utf-8"))}


def test_openstack_json_says_which_rules_keep_their_description_and_are_deleted_before_replaced(
    synthesised: tuple[Path, dict],
) -> None:
    """A reviewer of network/openstack.json sees that every security-group rule keeps the description it was made with
    (ignore_changes) and is deleted before its replacement is made, and that a rule renamed since 0.1.0 is the
    deployed one under its former name (an alias, as the URN `pulumi up` looks for in the state): what `pulumi up`
    will do beyond the inputs."""
    out, runs = synthesised
    written = _openstack_json(out)
    rules = {name: entry for name, entry in written.items() if entry["type"] == RULE}
    assert rules, sorted(written)
    unmarked = sorted(
        name
        for name, entry in rules.items()
        if entry.get("ignore_changes") != ["description"] or entry.get("delete_before_replace") is not True
    )
    assert unmarked == [], f"rules whose entry does not say they ignore description and delete first: {unmarked}"
    anywhere = written["yl-internet-tcp-443-from-anywhere"]
    run = runs["network"]
    # Its name up to 0.1.0 (after the flow) and its name before from-anywhere (after the range in digits), sorted.
    assert anywhere["aliases"] == [
        f"urn:pulumi:{run.stack}::{run.project}::{CITY_NETWORK}${RULE}::{former}"
        for former in ("yl-internet-citizens-https-tcp-443", "yl-internet-tcp-443-from-0-0-0-0-0")
    ], anywhere
    # Keys in one order, options only where set: a resource with none reads as before.
    assert list(anywhere) == [
        "type",
        "name",
        "protect",
        "retain_on_delete",
        "aliases",
        "ignore_changes",
        "delete_before_replace",
        "inputs",
    ]
    plain = [e for e in written.values() if not e["protect"] and e["type"] == "openstack:networking/network:Network"]
    assert plain, sorted(written)
    assert all(list(e) == ["type", "name", "protect", "retain_on_delete", "inputs"] for e in plain), plain[0]


def test_openstack_json_names_a_renamed_zones_resources_by_the_urns_pulumi_finds_them_under(tmp_path: Path) -> None:
    """With the extranet renamed gov-extranet (renamed_from), the synthesised network/openstack.json says that its
    network, security group and within-zone rule are the deployed ones: each lists as alias the engine URN it had
    under the former name, which is what `pulumi stack --show-urns` of the deployed stack shows."""
    city = city_copy(tmp_path / "city", zone_renamed("extranet", "gov-extranet"))
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", stacks / "0-network", ignore=shutil.ignore_patterns("__pycache__"))
    result = synth(load(city), city, tmp_path / "build", stacks)
    run = result.runs["network"]
    written = _openstack_json(tmp_path / "build")
    prefix = f"urn:pulumi:{run.stack}::{run.project}::{CITY_NETWORK}$openstack:networking/"
    expected = {
        "yl-gov-extranet-net": f"{prefix}network:Network::yl-extranet-net",
        "yl-gov-extranet-sg": f"{prefix}secGroup:SecGroup::yl-extranet-sg",
        "yl-gov-extranet-within": f"{prefix}secGroupRule:SecGroupRule::yl-extranet-within",
    }
    aliases = {name: written[name].get("aliases") for name in expected}
    assert aliases == {name: [urn] for name, urn in expected.items()}, aliases


FORMER_COMPONENT = "ylc"  # the name the network component had before, in the inherited-alias tests


def _network_stack_with_an_aliased_component(stacks: Path) -> Path:
    """stacks/0-network copied under ``stacks``, its CityNetwork given an alias to its former name ``ylc``: the
    component renamed, which Pulumi passes on to each of its children as an alias of theirs."""
    folder = stacks / "0-network"
    shutil.copytree(ROOT / "stacks" / "0-network", folder, ignore=shutil.ignore_patterns("__pycache__"))
    program = (folder / "__main__.py").read_text(encoding="utf-8")
    built = "        host_addresses=tuple(h.address for h in declaration.inventory.hosts),\n    ),\n)\n"
    assert program.count(built) == 1, "stacks/0-network/__main__.py no longer builds CityNetwork as this test expects"
    aliased = built.replace(
        "    ),\n)\n",
        f"    ),\n    opts=pulumi.ResourceOptions(aliases=[pulumi.Alias(name={FORMER_COMPONENT!r})]),\n)\n",
    )
    (folder / "__main__.py").write_text(program.replace(built, aliased), encoding="utf-8")
    return folder


class _EngineWithoutAliasSpecs(engine_module._RecordingMonitor):
    """The mock engine as an engine before alias specs: it takes aliases as URNs only, so the Pulumi SDK works each
    one out itself (all_aliases: the resource's own, and those it inherits from its parent's) and sends their URNs
    (aliasURNs); it names resources as the engine does, so that the SDK's URNs are the engine's. ``sent`` keeps the
    URNs the SDK sent, by name."""

    sent: ClassVar[dict[str, tuple[str, ...]]] = {}

    def GetDeploymentInfo(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        info = super().GetDeploymentInfo(request)
        info.supportedFeatures.remove(resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS)
        return info

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        parent_type = parent.split("::")[2] if parent else engine_module.ROOT_STACK
        qualified = type_ if parent_type == engine_module.ROOT_STACK else f"{parent_type}${type_}"
        return f"urn:pulumi:{pulumi.get_stack()}::{pulumi.get_project()}::{qualified}::{name}"

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        assert not request.aliases, "the SDK sent alias specs to an engine without them"
        self.sent[request.name] = tuple(request.aliasURNs)
        return super().RegisterResource(request)


def test_openstack_json_lists_the_aliases_a_renamed_zones_resources_inherit_from_a_renamed_component(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the network component aliased to its former name and the extranet renamed gov-extranet, every OpenStack
    resource of network/openstack.json lists exactly the URNs `pulumi up` may find it under: its own aliases, and those
    it inherits from the component (its name and each alias under the component's former URN, a name starting with
    the component's taking its former name). The Pulumi SDK's own rule for engines without alias specs, run on the
    same program, gives the same URNs for each."""
    city = city_copy(tmp_path / "city", zone_renamed("extranet", "gov-extranet"))
    stacks = tmp_path / "stacks"
    folder = _network_stack_with_an_aliased_component(stacks)
    result = synth(load(city), city, tmp_path / "build", stacks)
    run = result.runs["network"]
    written = _openstack_json(tmp_path / "build")
    prefix = f"urn:pulumi:{run.stack}::{run.project}::{CITY_NETWORK}$"
    within = f"{prefix}{RULE}::"
    assert written["yl-gov-extranet-within"]["aliases"] == [
        f"{within}yl-extranet-within",  # its own: the zone's former name
        f"{within}ylc-extranet-within",  # its own, under the component's former name
        f"{within}ylc-gov-extranet-within",  # its name, under the component's former name
    ], written["yl-gov-extranet-within"]
    # The zone's subnets, named after themselves and so no alias of their own, have the one they inherit.
    subnets = {name: e.get("aliases") for name, e in written.items() if e["type"] == SUBNET and "-ext-" in name}
    assert len(subnets) == 4, sorted(written)
    assert subnets == {name: [f"{prefix}{SUBNET}::ylc{name.removeprefix('yl')}"] for name in subnets}, subnets

    config, secret_keys = read_stack_config(folder, run.stack)
    config["dizuo:declaration"] = str(city)
    monkeypatch.setattr(engine_module, "_RecordingMonitor", _EngineWithoutAliasSpecs)
    _EngineWithoutAliasSpecs.sent.clear()
    run_stack(folder, run.stack, config, secret_keys, {})
    sent = _EngineWithoutAliasSpecs.sent
    names = [r.name for r in run.resources if r.custom and r.type.startswith("openstack:")]
    assert len(written) == len(names), "two OpenStack resources of one name: openstack.json, by name, holds one"
    # The SDK works out aliases only for a resource given some (prepare_aliases returns none for one without), where
    # the engine gives each child of an aliased parent its URN under the parent's former one: the SDK is the judge of
    # the first, the engine's rule (inheritedChildAlias: "yl" of the name becomes "ylc") of the second.
    expected = {
        name: sorted(sent[name]) or [f"{prefix}{entry['type']}::ylc{name.removeprefix('yl')}"]
        for name, entry in written.items()
    }
    assert sum(1 for name in written if sent[name]) > 30, "few resources with aliases of their own: nothing compared"
    differing = {
        name: (entry.get("aliases"), expected[name])
        for name, entry in written.items()
        if entry.get("aliases") != expected[name]
    }
    assert differing == {}, differing


def _openstack_json_of_program(tmp_path: Path, name: str, program: str) -> dict[str, dict[str, Any]]:
    """The openstack.json, by resource name, of a one-file stack program ``stacks/0-<name>`` synthesised with Yulin."""
    stacks = tmp_path / "stacks"
    one_file_stack(stacks / f"0-{name}", program)
    synth(load(YULIN), YULIN, tmp_path / "build", stacks)
    return _openstack_json(tmp_path / "build", name)


def test_a_resource_inherits_the_aliases_its_parent_inherited(tmp_path: Path) -> None:
    """A resource two components down from a renamed one is found under the URNs its parent may have been found
    under, the inherited ones too, as the engine passes down the alias its parent matched; an alias naming a former
    parent stands under that parent's URN or any it may have been found under; a resource apart lists none."""
    written = _openstack_json_of_program(
        tmp_path,
        "nested",
        "import pulumi\nimport pulumi_openstack as openstack\n"
        "outer = pulumi.ComponentResource('dizuo:test:Outer', 'city', opts=pulumi.ResourceOptions(\n"
        "    aliases=[pulumi.Alias(name='town', type_='dizuo:old:Outer')]))\n"
        "inner = pulumi.ComponentResource('dizuo:test:Inner', 'city-zone', opts=pulumi.ResourceOptions(parent=outer))\n"
        "openstack.networking.Network('city-zone-net', name='n', opts=pulumi.ResourceOptions(parent=inner))\n"
        "openstack.networking.Network('moved', name='m', opts=pulumi.ResourceOptions(\n"
        "    aliases=[pulumi.Alias(name='was', parent=inner)]))\n"
        "openstack.networking.Network('apart', name='a')\n",
    )
    urn, network = "urn:pulumi:yulin-prod::dizuo-nested::", "openstack:networking/network:Network"
    assert written["city-zone-net"]["aliases"] == [f"{urn}dizuo:old:Outer$dizuo:test:Inner${network}::town-zone-net"], (
        written["city-zone-net"]
    )
    assert written["moved"]["aliases"] == [
        f"{urn}dizuo:old:Outer$dizuo:test:Inner${network}::was",
        f"{urn}dizuo:test:Outer$dizuo:test:Inner${network}::was",
    ], written["moved"]
    assert "aliases" not in written["apart"], written["apart"]


def test_an_alias_given_as_the_engines_urn_claims_the_deployed_resource_once(tmp_path: Path) -> None:
    """A resource renamed with an alias written as a URN, as `pulumi stack --show-urns` shows the deployed one (the
    engine's form), is taken for that deployed resource in the mock monitor's URNs too, which `dizuo released` and the
    rename checks compare: once, beside the same alias given by name, nested in components or at the top. The URN was
    kept as written, in the engine's form, where the monitor names resources otherwise: the deployed resource went
    unclaimed (`dizuo released` would unprotect it) and the alias was listed twice."""
    urn, network = "urn:pulumi:yulin-prod::dizuo-net::", "openstack:networking/network:Network"
    program = (
        "import pulumi\nimport pulumi_openstack as openstack\n"
        "outer = pulumi.ComponentResource('dizuo:test:Outer', 'city')\n"
        "inner = pulumi.ComponentResource('dizuo:test:Inner', 'zone', opts=pulumi.ResourceOptions(parent=outer))\n"
        "openstack.networking.Network(\n"
        "    '{nested}', name='n', opts=pulumi.ResourceOptions(parent=inner{nested_aliases}))\n"
        "openstack.networking.Network('{top}', name='t'{top_aliases})\n"
    )
    deployed = program.format(nested="old", nested_aliases="", top="was", top_aliases="")
    renamed = program.format(
        nested="new",
        nested_aliases=f", aliases=['{urn}dizuo:test:Outer$dizuo:test:Inner${network}::old', pulumi.Alias(name='old')]",
        top="now",
        top_aliases=f", opts=pulumi.ResourceOptions(aliases=['{urn}{network}::was'])",
    )
    runs = {}
    for when, text in (("before", deployed), ("after", renamed)):
        folder = one_file_stack(tmp_path / when / "0-net", text)
        runs[when] = run_stack(folder, "yulin-prod", {}, set(), {})
    before = {r.name: r.urn for r in runs["before"].resources}
    after = {r.name: r for r in runs["after"].resources}
    assert after["new"].aliases == (before["old"],), after["new"].aliases
    assert after["now"].aliases == (before["was"],), after["now"].aliases
    assert after["new"].aliases == (f"{urn}dizuo:test:Outer$dizuo:test:Inner${network}::old",)
    assert after["now"].aliases == (f"{urn}{network}::was",), "the engine's form, as given"


@pytest.mark.parametrize("under", ["", "dizuo:test:Outer$"], ids=["under the stack", "under a top component"])
def test_an_alias_urn_naming_the_stacks_type_is_refused_with_the_engines_urn(under: str, tmp_path: Path) -> None:
    """An alias given as a URN whose type starts with the stack's (Pulumi's mock monitor's form of a resource under
    the stack, or of one under a component at the top, ...::pulumi:pulumi:Stack$<component>$<type>::<name>, as a mock
    test shows a URN and pulumi.create_urn makes one with the stack as parent) fails synth naming the stack, the
    resource, the alias and the engine's URN to give instead: Pulumi's engine never writes the stack's type, so it
    would find no deployed resource by it, while under the mock it matched and passed."""
    urn, network = "urn:pulumi:yulin-prod::dizuo-net::", "openstack:networking/network:Network"
    stack = one_file_stack(
        tmp_path / "stacks" / "0-net",
        "import pulumi\nimport pulumi_openstack as openstack\n"
        "outer = pulumi.ComponentResource('dizuo:test:Outer', 'outer')\n"
        f"openstack.networking.Network('now', name='t', opts=pulumi.ResourceOptions("
        f"parent={'outer' if under else None}, aliases=[\n"
        f"    '{urn}pulumi:pulumi:Stack${under}{network}::was', '{urn}{under}{network}::kept']))\n",
    )
    (stack / "Pulumi.yulin-prod.yaml").write_text("config: {}\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(SynthError) as raised:
        synth(load(YULIN), YULIN, out, tmp_path / "stacks")
    assert raised.value.errors == [
        f"{stack}: the program failed: now ({network}): its alias '{urn}pulumi:pulumi:Stack${under}{network}::was' "
        "names the stack's type pulumi:pulumi:Stack, as only a mock engine's URN (or pulumi.create_urn with the stack "
        "as parent) does; Pulumi's engine leaves it out of every URN and would take no deployed resource for it: give "
        f"the alias as '{urn}{under}{network}::was', as `pulumi stack --show-urns` shows it"
    ]
    assert not out.exists()


def test_openstack_json_carries_every_option_that_changes_what_pulumi_up_does(tmp_path: Path) -> None:
    """A program's replace_on_changes, replace_with, deleted_with, import and replacement_trigger reach openstack.json,
    each URN as the engine's, each list sorted and a secret withheld, so a reviewer sees a resource that an input,
    another resource or a trigger value replaces, that another's deletion takes with it, or that `pulumi up` adopts
    rather than makes."""
    written = _openstack_json_of_program(
        tmp_path,
        "opts",
        "import pulumi\nimport pulumi_openstack as openstack\n"
        "net = openstack.networking.Network('net', name='n')\n"
        "group = openstack.networking.SecGroup(\n"
        "    'group', name='g', opts=pulumi.ResourceOptions(parent=net, replacement_trigger=0))\n"
        "openstack.networking.SecGroup('adopted', name='a', opts=pulumi.ResourceOptions(\n"
        "    replace_on_changes=['name', 'description'], replace_with=[group], deleted_with=net, import_='sg-1',\n"
        "    aliases=[pulumi.Alias(name='formerly', parent=group)],\n"
        "    replacement_trigger={'release': 2, 'key': pulumi.Output.secret('k')}))\n",
    )
    network, group = "openstack:networking/network:Network", "openstack:networking/secGroup:SecGroup"
    urn = "urn:pulumi:yulin-prod::dizuo-opts::"
    assert {k: v for k, v in written["adopted"].items() if k not in {"type", "name", "inputs"}} == {
        "protect": False,
        "retain_on_delete": False,
        # Under its former parent, the group: qualified by that parent's ancestors too, as the engine qualifies it.
        "aliases": [f"{urn}{network}${group}${group}::formerly"],
        "replace_on_changes": ["description", "name"],
        "replace_with": [f"{urn}{network}${group}::group"],
        "deleted_with": f"{urn}{network}::net",
        "import": "sg-1",
        # One secret part makes the whole value secret, as Pulumi holds it: its keys are kept, its values withheld.
        "replacement_trigger": {"key": "[secret]", "release": "[secret]"},
    }
    assert written["group"]["replacement_trigger"] == 0, "a trigger of 0 is set all the same"


def test_summary_says_the_policy_pack_ran_on_every_stack_covering_what_the_host_audit_leaves_to_it(
    synthesised: tuple[Path, dict],
) -> None:
    """summary.json's policy_pack names the stacks the 等保 pack ran on, each policy as stacks/policy enforces it
    (name, control, enforcement level) with its violations, and covers every control the host audit leaves to it."""
    out, _ = synthesised
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    pack = summary["policy_pack"]
    assert pack["stacks"] == list(summary["stacks"]) == ["baseline", "network", "cloud", "datapool"], pack
    enforced = [(p.name, p.framework.reference, p.enforcement_level.value) for p in policies()]
    assert [(p["name"], p["control"], p["enforcement"]) for p in pack["policies"]] == enforced, pack["policies"]
    assert {p["name"]: p["violations"] for p in pack["policies"]} == {p.name: 0 for p in policies()}, pack
    assert pack["violations"] == 0, pack
    left_to_the_pack = [c.id for c in packaged().controls if c.scope is not Scope.HOST]
    assert left_to_the_pack == ["DZ-AC-07", "DZ-CT-01", "DZ-AC-08", "DZ-AC-09", "DZ-AC-10", "DZ-DB-02"]
    assert pack["controls"] == left_to_the_pack, pack["controls"]
    assert {"city", "stack", "declaration", "stacks", "total_resources", "files"} <= set(summary), "existing keys kept"


def test_dns_records_point_each_ingress_name_at_its_clusters_ingress(
    synthesised: tuple[Path, dict], yulin: Declaration, tmp_path: Path
) -> None:
    """dns/<domain>.zone holds one A record per system served through an ingress controller, at its cluster's
    ingress address; BIND's named-checkzone loads it $INCLUDEd in the city's zone, and its canonical dump has exactly
    those names."""
    out, _ = synthesised
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    fragment = out / summary["dns"]["zone_file"]
    assert fragment == out / "dns" / "yl.gov.cn.zone"
    zone = tmp_path / "yl.gov.cn.zone"
    zone.write_text(
        "$ORIGIN yl.gov.cn.\n$TTL 300\n"
        "@ IN SOA ns1 hostmaster 2026120501 3600 600 604800 300\n@ IN NS ns1\nns1 IN A 10.64.1.53\n"
        f"$INCLUDE {fragment}\n",
        encoding="utf-8",
    )
    dump = tmp_path / "canonical.zone"
    checked = subprocess.run(
        ["named-checkzone", "-D", "-o", str(dump), "yl.gov.cn", str(zone)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    records = {
        fields[0].removesuffix(".yl.gov.cn."): fields[4]
        for fields in (line.split() for line in dump.read_text(encoding="utf-8").splitlines())
        if len(fields) == 5 and fields[3] == "A" and fields[0] != "ns1.yl.gov.cn."
    }
    ingress = {c.name: c.ingress_address for c in yulin.clusters}
    served = {s.code: ingress[s.cluster] for s in yulin.systems if shapes.served_through_ingress(yulin, s)}
    assert records == served
    assert summary["dns"]["records"] == len(served)


def test_no_secret_is_written_in_plaintext(synthesised: tuple[Path, dict]) -> None:
    """The registry password appears nowhere in the output, neither plain nor base64-encoded."""
    out, _ = synthesised
    needles = {TEST_SECRET, base64.b64encode(TEST_SECRET.encode()).decode()[:16]}
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            for needle in needles:
                assert needle not in text, f"{path} contains the secret"
    secrets = [d for d in manifests(out) if d["kind"] == "Secret"]
    assert secrets, "a registry password was configured: pull secrets must exist"
    assert all("data" not in d and "stringData" not in d for d in secrets), "secret values were written"
    assert {d["metadata"]["annotations"]["dizuo.io/withheld-keys"] for d in secrets} == {".dockerconfigjson"}


def test_gitops_tools_are_told_not_to_prune_exactly_what_the_stacks_keep_on_delete(
    synthesised: tuple[Path, dict], yulin: Declaration
) -> None:
    """Every data-pool claim, the namespace holding it with its quota, limits and default-deny, and every system's
    namespace with its quota, limits and default-deny (what the stacks retain on delete) carry Argo CD's and Flux's
    marks against pruning, so that a retirement dropping them from the build does not delete the data; nothing else
    carries them."""
    from dizuo.cloud.component import namespace_of  # noqa: PLC0415
    from dizuo.datapool.shapes import dataset_namespace  # noqa: PLC0415

    no_prune = {"argocd.argoproj.io/sync-options": "Prune=false", "kustomize.toolkit.fluxcd.io/prune": "disabled"}
    out, _ = synthesised
    marked, unmarked = set(), set()
    for doc in manifests(out):
        meta = doc["metadata"]
        ident = (doc["kind"], meta.get("namespace", ""), meta["name"])
        annotations = meta.get("annotations", {})
        (marked if no_prune.items() <= annotations.items() else unmarked).add(ident)
        assert not (no_prune.keys() & annotations.keys()) or ident in marked, f"{ident} is half marked: {annotations}"
    volumes = [ds for ds in yulin.datasets if ds.kind != "bucket"]  # a bucket is an OpenStack container, no manifest
    claims = {("PersistentVolumeClaim", dataset_namespace(ds.owner), ds.code) for ds in volumes}
    owners = {dataset_namespace(ds.owner) for ds in volumes}
    # The fence both kinds of namespace keep: what opens one (declared flows, bindings) is deleted on retirement.
    guards = {("ResourceQuota", "quota"), ("LimitRange", "limits"), ("NetworkPolicy", "default-deny")}
    expected = (
        claims
        | {("Namespace", "", ns) for ns in owners}
        | {(kind, ns, name) for ns in owners for kind, name in guards}
        | {("Namespace", "", namespace_of(s)) for s in yulin.systems}
        | {(kind, namespace_of(s), name) for s in yulin.systems for kind, name in guards}
    )
    assert claims, "Yulin declares volume datasets"
    assert marked - expected == set(), "marked against pruning, though no stack keeps it on delete"
    assert expected - marked == set(), "kept on delete by its stack, yet GitOps may prune it"
    assert not marked & unmarked, "a kept object is marked in one cluster's file and not another's"


def test_the_no_prune_mark_keeps_a_programs_own_sync_options_but_no_prune_of_its_own() -> None:
    """A kept object whose program set Argo CD sync options keeps them, but not a Prune option of its own: with
    Prune=confirm beside Prune=false, a confirmed sync could still delete the data."""
    marked = synth_module._no_prune({"argocd.argoproj.io/sync-options": "ServerSideApply=true, Prune=confirm"})
    assert marked == {
        "argocd.argoproj.io/sync-options": "ServerSideApply=true,Prune=false",
        "kustomize.toolkit.fluxcd.io/prune": "disabled",
    }


def test_a_withheld_secret_names_its_keys_when_its_value_comes_from_encrypted_config(
    tmp_path: Path, yulin: Declaration
) -> None:
    """A pull secret whose password is a `secure:` value of the stack config (a secret as a whole offline) is written
    without its data, and its dizuo.io/withheld-keys annotation names the Secret's key, not the placeholder's
    characters."""
    stacks = tmp_path / "stacks"
    for stack in ("0-network", "0-baseline", "1-cloud"):
        shutil.copytree(ROOT / "stacks" / stack, stacks / stack)
    config = stacks / "1-cloud" / "Pulumi.yulin-prod.yaml"
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    document["config"]["dizuo:registryPassword"] = {"secure": "AAABAHZ1bm5vdA=="}  # as `pulumi config set --secret`
    config.write_text(yaml.safe_dump(document), encoding="utf-8")
    synth(yulin, YULIN, tmp_path / "out", stacks)
    secrets = [d for d in manifests(tmp_path / "out") if d["kind"] == "Secret"]
    assert len(secrets) == len(yulin.systems), "a pull secret per system"
    for secret in secrets:
        assert not {"data", "stringData"} & set(secret), secret["metadata"]["name"]
        assert secret["metadata"]["annotations"]["dizuo.io/withheld-keys"] == ".dockerconfigjson", secret["metadata"]


def test_a_failing_synth_leaves_the_previous_output_untouched(tmp_path: Path, yulin: Declaration) -> None:
    """When a manifest is invalid, synth reports it and the old output directory stays as it was."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", stacks / "0-network")
    bad = stacks / "1-bad"
    bad.mkdir()
    (bad / "Pulumi.yaml").write_text("name: dizuo-bad\nruntime: python\n", encoding="utf-8")
    (bad / "__main__.py").write_text(
        "import pulumi_kubernetes as k8s\n"
        "k8s.core.v1.ConfigMap('typo', metadata={'name': 'x', 'namespace': 'y'}, data={'a': 'b'},"
        " opts=None)\n"
        "k8s.core.v1.Service('bad', metadata={'name': 'x'}, spec={'ports': [{'port': 'eighty'}]})\n",
        encoding="utf-8",
    )
    out = tmp_path / "build"
    (out / "network").mkdir(parents=True)
    (out / "network" / "openstack.json").write_text("previous run", encoding="utf-8")
    (out / "summary.json").write_text('{"stacks": {"network": {}}}', encoding="utf-8")
    with pytest.raises(SynthError) as caught:
        synth(yulin, YULIN, out, stacks)
    assert any("Service -/x" in e and "ports" in e for e in caught.value.errors), caught.value.errors
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "network",
        "network/openstack.json",
        "summary.json",
    ], "the old output must be left as it was"
    assert (out / "network" / "openstack.json").read_text(encoding="utf-8") == "previous run"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build")], "no staging directory left behind"


def test_a_label_the_api_server_would_refuse_fails_synth(tmp_path: Path, yulin: Declaration) -> None:
    """A label value over 63 characters or a malformed label key, which the OpenAPI schemas let through and the API
    server refuses, is a synth error naming the file, object and label; nothing is written."""
    stacks = tmp_path / "stacks"
    one_file_stack(
        stacks / "1-bad",
        "import pulumi_kubernetes as k8s\n"
        "labels = {'dizuo.io/refresh-days': '1' * 71, 'Dizuo.io/x': 'y'}\n"
        "k8s.core.v1.ConfigMap('c', metadata={'name': 'c', 'namespace': 'n', 'labels': labels}, data={'a': 'b'})\n",
    )
    out = tmp_path / "build"
    with pytest.raises(SynthError) as caught:
        synth(yulin, YULIN, out, stacks)
    assert sorted(caught.value.errors) == [
        "bad/default.yaml: ConfigMap n/c: metadata.labels.dizuo.io/refresh-days: a label value has 71 characters, "
        f"more than 63: '{'1' * 59}…'",
        "bad/default.yaml: ConfigMap n/c: metadata.labels: key 'Dizuo.io/x': its prefix (before the one '/') must be "
        "a lower-case DNS subdomain of at most 253 characters",
    ]
    assert not out.exists()


def test_label_rules_are_the_api_servers() -> None:
    """Label keys and values are judged as apimachinery's validation does (IsQualifiedName, IsValidLabelValue), in
    every place a manifest holds labels: metadata, pod templates, selectors, node selectors, annotation keys."""
    good_keys = ["a", "A.b_c-9", "dizuo.io/refresh-days", "kubernetes.io/metadata.name", f"{'a' * 253}/{'b' * 63}"]
    bad_keys = ["", "a/", "/a", "a/b/c", "-a", "a_", "Dizuo.io/x", "a b", f"{'a' * 254}/b", "c" * 64, "标签"]
    assert [k for k in good_keys if label_key_problem(k)] == []
    assert [k for k in bad_keys if not label_key_problem(k)] == []
    assert [v for v in ["", "a", "1.30", "A-b_c.9", "z" * 63] if label_value_problem(v)] == []
    assert [v for v in ["-a", "a.", "a b", "z" * 64, "人口"] if not label_value_problem(v)] == []
    deployment = {
        "kind": "Deployment",
        "metadata": {"labels": {"ok": "x"}, "annotations": {"dizuo.io/title": "人口 基础信息", "bad key": "v"}},
        "spec": {
            "selector": {"matchLabels": {"app": "-x"}, "matchExpressions": [{"key": "a/b/c", "operator": "Exists"}]},
            "template": {"metadata": {"labels": {"app": "y" * 64}}, "spec": {"nodeSelector": {"arch": "a b"}}},
        },
    }
    assert [e.split(":")[0] for e in label_errors(deployment)] == [
        "metadata.annotations",
        "spec.selector.matchLabels.app",
        "spec.selector.matchExpressions.0.key",
        "spec.template.metadata.labels.app",
        "spec.template.spec.nodeSelector.arch",
    ]
    service = {"kind": "Service", "metadata": {}, "spec": {"selector": {"app": "y" * 64}}}
    assert [e.split(":")[0] for e in label_errors(service)] == ["spec.selector.app"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda root: (root / "notes.txt").write_text("mine", encoding="utf-8") and root / "notes.txt",
            "not a directory",
        ),
        (lambda root: root / "notes.txt" / "build", "is a file, not a directory"),
        (lambda root: root / "decl", "holds the declaration"),
        (lambda root: root, "holds the declaration"),
        (lambda root: root / "mine", "is not a previous dizuo synth output (it holds keep.txt)"),
        (lambda root: root / "half", "is not a previous dizuo synth output (it holds README.md)"),
        (lambda root: root / "kustomized", "is not a previous dizuo synth output (it holds cloud/kustomization.yaml)"),
        (lambda root: root / "kustomized" / "cloud" / "..", "is not a previous dizuo synth output (it holds cloud/"),
    ],
    ids=[
        "a-file",
        "under-a-file",
        "the-declaration",
        "above-the-declaration",
        "foreign-folder",
        "build-plus-a-file",
        "a-file-of-ones-own-beside-the-manifests",
        "the-same-named-through-dot-dot",
    ],
)
def test_synth_refuses_an_output_whose_replacement_would_lose_data(
    tmp_path: Path, yulin: Declaration, make: Callable[[Path], Path], message: str
) -> None:
    """`--out` is replaced as a whole, so synth refuses anything but a new, empty or previous-build directory,
    before running a stack, and leaves every file where it was."""
    shutil.copytree(YULIN, tmp_path / "decl")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "half" / "network").mkdir(parents=True)
    (tmp_path / "half" / "summary.json").write_text('{"stacks": {"network": {}}}', encoding="utf-8")
    (tmp_path / "half" / "README.md").write_text("mine", encoding="utf-8")
    # A previous build with a file of the user's beside its manifests (Argo CD reads a kustomization there).
    (tmp_path / "kustomized" / "cloud").mkdir(parents=True)
    (tmp_path / "kustomized" / "summary.json").write_text('{"stacks": {"cloud": {}}}', encoding="utf-8")
    (tmp_path / "kustomized" / "cloud" / "yl-gov.yaml").write_text("kind: Namespace\n", encoding="utf-8")
    (tmp_path / "kustomized" / "cloud" / "kustomization.yaml").write_text("resources: [yl-gov.yaml]\n", "utf-8")
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    with pytest.raises(SynthError) as caught:
        synth(yulin, tmp_path / "decl", make(tmp_path), ROOT / "stacks")
    assert len(caught.value.errors) == 1
    assert message in caught.value.errors[0]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_each_cluster_s_manifests_are_checked_against_its_own_kubernetes(
    tmp_path: Path, yulin: Declaration, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster declaring Kubernetes 1.31 has its manifests checked against 1.31's schemas, the other against its
    1.30; the summary names both."""
    checked: Counter[str] = Counter()

    def recording(doc: dict, version: str = "") -> list[str]:
        checked[version] += 1
        return manifest_errors(doc, version)

    monkeypatch.setattr(synth_module, "manifest_errors", recording)
    newer = yulin.model_copy(
        update={
            "clusters": tuple(
                c.model_copy(update={"kubernetes_version": "1.31"}) if c.name == "yl-dmz" else c for c in yulin.clusters
            )
        }
    )
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-baseline", stacks / "0-baseline")
    out = tmp_path / "build"
    result = synth(newer, YULIN, out, stacks)
    assert result.summary["kubernetes_version"] == "1.30, 1.31"
    written = {path.stem: len(manifests_of(path)) for path in (out / "baseline").glob("*.yaml")}
    assert checked == {"1.31": written["yl-dmz"], "1.30": written["yl-gov"]}, (checked, written)


def manifests_of(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_schemas_are_chosen_by_version_number_not_text() -> None:
    """Kubernetes 1.31 is checked against 1.31's schemas; "1.100" sorts after "1.31" as a number."""
    assert schema_dir("1.31") == "v1.31.0-local-strict"
    assert schema_dir("1.100").startswith("v1.3")


def synth_cli(city: Path, out: Path, stacks: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`dizuo synth CITY --out OUT --stacks STACKS` run as a user runs it, on a console wide enough for no wrapping
    (COLUMNS 400 unless ``env`` says otherwise), with ``env`` added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "dizuo", "synth", str(city), "--out", str(out), "--stacks", str(stacks)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "400", **env},
    )


def test_a_refusal_before_any_stack_runs_is_said_alone_without_a_progress_bar(tmp_path: Path) -> None:
    """`dizuo synth --out` a folder of one's own is refused before any stack runs: stderr is the refusal and its
    count, not the progress bar started empty above them ("synthesising stacks 0:00:00"), nor an empty line."""
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("mine", encoding="utf-8")
    done = synth_cli(YULIN, tmp_path / "mine", ROOT / "stacks")
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"error: --out {tmp_path / 'mine'}: is not a previous dizuo synth output (it holds keep.txt), and it would be "
        "replaced as a whole; choose a new or empty directory",
        f"1 error(s); {tmp_path / 'mine'} left unchanged",
    ], done.stderr


def test_synth_names_the_schemas_it_checked_a_cluster_newer_than_them_against(tmp_path: Path) -> None:
    """A cluster newer than every schema kubernetes-validate holds is checked against the newest it has; the run says
    so and names that version, instead of 'valid against' a version nothing checked."""
    newest = max(schema_version(f"1.{minor}") for minor in (30, 999))
    beyond = f"1.{int(newest.split('.')[1]) + 1}"
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    clusters = city / "clusters.yaml"
    text = clusters.read_text(encoding="utf-8")
    clusters.write_text(text.replace("kubernetes_version: '1.30'", f"kubernetes_version: '{beyond}'", 1), "utf-8")
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-baseline", stacks / "0-baseline")
    done = synth_cli(city, tmp_path / "build", stacks)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"manifests valid against Kubernetes 1.30, {beyond} (strict); {beyond} against {newest}'s schemas" in (
        done.stdout
    ), done.stdout


def test_synth_says_what_the_stacks_retain_on_delete_and_mark_against_gitops_pruning(tmp_path: Path) -> None:
    """The run's table counts what each stack retains on delete beside what it protects, and says how many objects
    carry the marks against GitOps pruning: a stack that only retains (the cloud stack's namespaces) no longer reads
    as keeping nothing."""
    stacks = tmp_path / "stacks"
    one_file_stack(
        stacks / "1-keep",
        "import pulumi\nimport pulumi_kubernetes as k8s\n"
        "k8s.core.v1.Namespace('kept', metadata={'name': 'kept'}, opts=pulumi.ResourceOptions(retain_on_delete=True))\n"
        "k8s.core.v1.Namespace('plain', metadata={'name': 'plain'})\n",
    )
    done = synth_cli(YULIN, tmp_path / "build", stacks)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (row,) = [line.split("│")[1:-1] for line in done.stdout.splitlines() if line.startswith("│ keep ")]
    assert [cell.strip() for cell in row[:4]] == ["keep", "2", "0", "1"], done.stdout
    assert "1 Kubernetes object marked against GitOps pruning (Argo CD Prune=false, Flux prune: disabled)" in " ".join(
        done.stdout.split()
    ), done.stdout


def test_synth_writes_the_same_bytes_whichever_protobuf_runtime_is_installed(tmp_path: Path) -> None:
    """Pulumi hands inputs back in an order that depends on the protobuf runtime (upb or pure Python): the manifests
    are written in one order regardless, so a GitOps repository does not churn between a laptop and CI."""
    stacks = tmp_path / "stacks"
    for stack in ("0-network", "0-baseline"):
        shutil.copytree(ROOT / "stacks" / stack, stacks / stack)
    outputs = []
    for runtime in ("upb", "python"):
        out = tmp_path / runtime
        done = synth_cli(YULIN, out, stacks, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=runtime)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        outputs.append({path.relative_to(out): path.read_bytes() for path in sorted(out.rglob("*")) if path.is_file()})
    assert outputs[0].keys() == outputs[1].keys()
    differing = [str(path) for path in outputs[0] if outputs[0][path] != outputs[1][path]]
    assert differing == [], differing


def test_synth_refuses_the_working_directory(
    tmp_path: Path, yulin: Declaration, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A previous build that is the working directory is not replaced: the shell standing in it would be left in
    a deleted folder."""
    out = tmp_path / "build"
    (out / "network").mkdir(parents=True)
    (out / "summary.json").write_text('{"stacks": {"network": {}}}', encoding="utf-8")
    monkeypatch.chdir(out)
    with pytest.raises(SynthError, match="is the working directory or holds it"):
        synth(yulin, YULIN, Path("."), ROOT / "stacks")
    assert (out / "summary.json").is_file()


def test_synth_replaces_a_previous_build_and_leaves_it_readable(tmp_path: Path, yulin: Declaration) -> None:
    """A previous build is replaced whole (a stack folder it had and this run has not is gone), and the new
    output has the permissions of the umask, not the private ones of a temporary directory."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", stacks / "0-network")
    out = tmp_path / "build"
    (out / "oldstack").mkdir(parents=True)
    (out / "oldstack" / "yl-gov.yaml").write_text("kind: Namespace\n", encoding="utf-8")
    (out / "summary.json").write_text('{"stacks": {"oldstack": {}}}', encoding="utf-8")
    umask = os.umask(0o022)
    try:
        synth(yulin, YULIN, out, stacks)
    finally:
        os.umask(umask)
    assert sorted(p.name for p in out.iterdir()) == ["network", "summary.json"]
    assert out.stat().st_mode & 0o777 == 0o755
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".build")], "nothing left beside it"


def test_synth_replaces_its_own_build_after_the_declaration_changed_and_nothing_else(tmp_path: Path) -> None:
    """A build written before the city's domain changed (its zone file no longer what the declaration would write)
    is replaced by the next synth, since summary.json lists what it wrote; a file of the user's put beside the
    manifests is still refused, and kept."""
    decl = tmp_path / "decl"
    shutil.copytree(YULIN, decl)
    stacks = tmp_path / "stacks"
    for stack in ("0-network", "0-baseline", "1-cloud"):
        shutil.copytree(ROOT / "stacks" / stack, stacks / stack)
    out = tmp_path / "build"
    synth(load(decl), decl, out, stacks)
    assert (out / "dns" / "yl.gov.cn.zone").is_file()
    city = decl / "city.yaml"
    city.write_text(city.read_text(encoding="utf-8").replace("domain: yl.gov.cn", "domain: yulin.gov.cn"), "utf-8")
    synth(load(decl), decl, out, stacks)
    assert sorted(p.name for p in (out / "dns").iterdir()) == ["yulin.gov.cn.zone"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert "dns/yulin.gov.cn.zone" in summary["files"]
    assert summary["files"] == sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.name != "summary.json"
    )
    (out / "cloud" / "kustomization.yaml").write_text("resources: [yl-gov.yaml]\n", encoding="utf-8")
    with pytest.raises(SynthError, match=r"it holds cloud/kustomization\.yaml\)"):
        synth(load(decl), decl, out, stacks)
    assert (out / "cloud" / "kustomization.yaml").read_text(encoding="utf-8") == "resources: [yl-gov.yaml]\n"


def test_synth_cli_prints_the_summary_table(tmp_path: Path) -> None:
    """`dizuo synth inventories/yulin --out DIR` exits 0, prints the table and the line saying what the policy pack
    checked, and writes summary.json."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "dizuo",
            "synth",
            str(YULIN),
            "--out",
            str(tmp_path / "out"),
            "--stacks",
            str(ROOT / "stacks"),
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},  # a pipe or CI log, which rich prints 80 wide
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = {row[0]: row for row in table_cells(done.stdout)}
    assert "total" in rows
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    for stack, info in summary["stacks"].items():
        # its most frequent types (as the CLI picks them) whole, folded if need be, not `ValidatingAdmissionPolicyBind…`
        shown = "".join(rows[stack][-1].split())  # the "top types" cell, its lines joined
        top = sorted(info["by_type"].items(), key=lambda kv: -kv[1])[:4]
        cut = [f"{kind.split(':')[-1]} {n}" for kind, n in top if f"{kind.split(':')[-1]}{n}" not in shown]
        assert cut == [], f"{stack}: cut off in the 80-column table: {cut}"
    # each line whole, though rich prints a pipe 80 wide: a CI job's grep for "no violation" finds it
    lines = done.stdout.splitlines()
    assert "115 DNS records for the ingress names in dns/yl.gov.cn.zone" in lines, done.stdout
    assert (
        "等保 policy pack (GB/T 22239-2019): 8 mandatory policies ran on 4 stacks, covering controls DZ-AC-07, "
        "DZ-CT-01, DZ-AC-08, DZ-AC-09, DZ-AC-10, DZ-DB-02; no violation"
    ) in lines, done.stdout
    assert "33 departments, 115 systems, 44 datasets; manifests valid against Kubernetes 1.30 (strict)" in lines
    assert (tmp_path / "out" / "summary.json").exists()


def test_synth_names_the_files_of_the_previous_build_it_no_longer_writes(tmp_path: Path) -> None:
    """After yl-gov is renamed yl-egov (renamed_from) and the network stack removed, `dizuo synth --out DIR` over the
    previous build replaces it whole (exit 0: baseline/yl-gov.yaml and network/openstack.json are gone, so a GitOps
    tool applying DIR never gets the cluster's objects twice) and names those files, which a GitOps source may still
    name; a first build, or one that drops nothing, names none."""
    stacks, out = tmp_path / "stacks", tmp_path / "build"
    for stack in ("0-baseline", "0-network"):
        shutil.copytree(ROOT / "stacks" / stack, stacks / stack, ignore=shutil.ignore_patterns("__pycache__"))
    city = city_copy(tmp_path / "city")
    runner = CliRunner()
    synth_command = ["synth", str(city), "--out", str(out), "--stacks", str(stacks)]
    first = runner.invoke(app, synth_command, env={"COLUMNS": "300"})
    assert first.exit_code == 0, first.output
    assert "no longer in the build" not in first.output
    assert (out / "baseline" / "yl-gov.yaml").is_file()
    shutil.rmtree(city)
    city_copy(city, cluster_renamed("yl-gov", "yl-egov"))
    shutil.rmtree(stacks / "0-network")
    again = runner.invoke(app, synth_command, env={"COLUMNS": "300"})
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())
    assert (
        f"no longer in the build (the previous one in {out} had them): baseline/yl-gov.yaml, network/openstack.json;"
        in text
    ), text
    assert "a GitOps source naming them" in text, text
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml")) == [
        f"baseline/{c}.yaml" for c in sorted(c.name for c in load(city).clusters)
    ]
    unchanged = runner.invoke(app, synth_command, env={"COLUMNS": "300"})
    assert unchanged.exit_code == 0, unchanged.output
    assert "no longer in the build" not in unchanged.output


@pytest.mark.parametrize("command", [["synth", str(YULIN), "--out", "build"], ["released", str(YULIN), str(YULIN)]])
def test_a_stack_without_its_config_file_is_said_as_that_not_as_a_missing_key(
    tmp_path: Path, command: list[str]
) -> None:
    """--stack naming an environment no Pulumi.<env>.yaml of a stack folder configures fails as bad input naming
    that file's path and the environments that have one, not with the first config key the program then missed."""
    done = subprocess.run(
        [sys.executable, "-m", "dizuo", *command, "--stack", "yulin-dev", "--stacks", str(ROOT / "stacks")],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert done.returncode == BAD_INPUT, done.stdout[-2000:] + done.stderr[-2000:]
    expected = ROOT / "stacks" / "0-network" / "Pulumi.yulin-dev.yaml"
    assert f"error: {expected}: no such stack config: --stack yulin-dev" in done.stderr, done.stderr
    assert "(environments with a Pulumi.<env>.yaml there: yulin-prod)" in done.stderr, done.stderr
    assert "externalNetwork" not in done.stderr, done.stderr
    assert not (tmp_path / "build").exists()


def _stacks_needing_no_config(root: Path, configured: dict[str, list[str]]) -> Path:
    """Stack folders under ``root`` whose programs read no config key, each with a Pulumi.<env>.yaml per environment
    of ``configured`` (by folder)."""
    for folder, environments in configured.items():
        one_file_stack(root / folder, "import pulumi\npulumi.export('ran', True)\n")
        for environment in environments:
            (root / folder / f"Pulumi.{environment}.yaml").write_text("config: {}\n", encoding="utf-8")
    return root


def test_a_named_environment_no_stack_folder_configures_is_refused_even_if_the_programs_need_no_config(
    tmp_path: Path, yulin: Declaration
) -> None:
    """--stack with a typo'd environment (yulin-prdo) fails as bad input naming each folder and the environments it
    has, before any program runs: stack programs reading no config key would otherwise synthesise quietly, with their
    defaults, an environment that does not exist (and `released` would compare two of them). The default environment
    may still lack a config: a city's manifests can be made before its stacks are set up."""
    stacks = _stacks_needing_no_config(tmp_path / "stacks", {"0-first": ["yulin-prod"], "1-second": ["yulin-prod"]})
    out = tmp_path / "build"
    with pytest.raises(SynthError) as caught:
        synth(yulin, YULIN, out, stacks, stack="yulin-prdo")
    assert caught.value.code == BAD_INPUT
    assert caught.value.errors == [
        f"{stacks / folder / 'Pulumi.yulin-prdo.yaml'}: no such stack config: --stack yulin-prdo is no environment of "
        f"{stacks / folder} (environments with a Pulumi.<env>.yaml there: yulin-prod)"
        for folder in ("0-first", "1-second")
    ]
    assert not out.exists()
    with pytest.raises(SynthError) as released_caught:
        released(YULIN, YULIN, stacks, "yulin-prdo")
    assert released_caught.value.errors == caught.value.errors
    for folder in ("0-first", "1-second"):
        (stacks / folder / "Pulumi.yulin-prod.yaml").unlink()
    assert synth(yulin, YULIN, out, stacks).summary["stack"] == "yulin-prod", "the default environment needs no config"


def test_released_says_which_stack_program_runs_for_which_declaration(tmp_path: Path) -> None:
    """`dizuo released` runs every stack program twice, once per declaration (a minute for Yulin): it tells its
    caller of each as it starts and once it ran, and the command shows that as a progress bar on stderr, as synth
    does, where it printed nothing until the end."""
    stacks = _stacks_needing_no_config(tmp_path / "stacks", {"0-first": ["yulin-prod"], "1-second": ["yulin-prod"]})
    said: list[tuple[str, str, bool]] = []
    released(
        YULIN, YULIN, stacks, "yulin-prod", on_stack=lambda label, s, run: said.append((label, s.short, bool(run)))
    )
    assert said == [
        (label, short, ran)
        for label in ("deployed", "changed")
        for short in ("first", "second")
        for ran in (False, True)
    ]
    done = CliRunner().invoke(
        app,
        ["released", str(YULIN), str(YULIN), "--stack", "yulin-prod", "--stacks", str(stacks)],
        env={"COLUMNS": "300"},
    )
    assert done.exit_code == 0, done.output
    bar = next((line for line in done.stderr.splitlines() if f"changed: {stacks / '1-second'}" in line), None)
    assert bar is not None, done.stderr
    assert "━" in bar, bar


def test_a_failing_program_is_named_by_the_folder_stacks_points_at(tmp_path: Path) -> None:
    """`dizuo synth --stacks DIR` names a failing stack program by DIR's folder (the copy the user ran), not
    `stacks/<name>`, which would send them to the clone's folder of that name."""
    copy = tmp_path / "elsewhere" / "city-stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", copy / "0-network", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "0-network" / "__main__.py").write_text("raise RuntimeError('broken on purpose')\n", encoding="utf-8")
    done = synth_cli(YULIN, tmp_path / "build", copy, COLUMNS="500")
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"{copy / '0-network'}: the program failed: broken on purpose" in done.stderr, done.stderr[-3000:]
    assert " stacks/0-network" not in done.stderr


def test_a_named_environment_some_stack_folders_lack_is_refused_naming_those(
    tmp_path: Path, yulin: Declaration
) -> None:
    """An environment configured in some stack folders only is refused, naming the folders without it: `dizuo up
    --stack` refuses it the same way, so what synth would make of it is no deployment's."""
    stacks = _stacks_needing_no_config(
        tmp_path / "stacks", {"0-first": ["yulin-dev", "yulin-prod"], "1-second": ["yulin-prod"]}
    )
    with pytest.raises(SynthError) as caught:
        synth(yulin, YULIN, tmp_path / "build", stacks, stack="yulin-dev")
    assert caught.value.code == BAD_INPUT
    assert caught.value.errors == [
        f"{stacks / '1-second' / 'Pulumi.yulin-dev.yaml'}: no such stack config: --stack yulin-dev is no environment "
        f"of {stacks / '1-second'} (environments with a Pulumi.<env>.yaml there: yulin-prod)"
    ]
    assert synth(yulin, YULIN, tmp_path / "build", stacks, stack="yulin-prod").summary["stack"] == "yulin-prod"


def _without_pulumi(tmp_path: Path, action: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`dizuo ACTION` on Yulin's stacks in ``tmp_path``, with a PATH that holds no Pulumi CLI (and ``env``)."""
    command = [sys.executable, "-m", "dizuo", action, "--stack", "yulin-prod", "--stacks", str(ROOT / "stacks")]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={"PATH": str(tmp_path), "COLUMNS": "300", **env},
    )


def test_up_without_pulumi_cli_says_what_to_install(tmp_path: Path) -> None:
    """`dizuo up` where no Pulumi CLI exists exits non-zero with what to install, no traceback."""
    done = _without_pulumi(tmp_path, "up", "--new-backend")
    assert done.returncode == 2
    assert "Pulumi CLI is not installed" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--stacks", "nostacks"], "nostacks: no stacks found"),
        (["--only", "nosuch"], "--only: no stack 'nosuch' in"),
        (["--backend", "ftp://x"], "--backend ftp://x: not a self-managed backend"),
        (["--backend", "https://api.pulumi.com"], "Pulumi Cloud is not allowed"),
    ],
)
def test_preview_checks_its_own_inputs_before_asking_for_pulumi(tmp_path: Path, args: list[str], message: str) -> None:
    """A wrong stacks folder, stack name or backend is said first, not hidden behind "install the Pulumi CLI", which
    follows it in the same run."""
    done = _without_pulumi(tmp_path, "preview", *args)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert done.stderr.index(message) < done.stderr.index("Pulumi CLI is not installed"), done.stderr
    assert not (tmp_path / ".pulumi-state").exists(), "no state folder is made for a run that cannot start"


@pytest.mark.parametrize("action", ["preview", "up"])
def test_a_backend_without_state_and_a_missing_pulumi_cli_are_said_in_one_run(tmp_path: Path, action: str) -> None:
    """Without the Pulumi CLI or a secrets passphrase, against a file:// backend holding no state, `dizuo preview|up`
    refuses all three at once (exit 2): a user who passed --new-backend, installed Pulumi or set the passphrase would
    otherwise only then meet the next refusal. With --new-backend, the missing CLI and passphrase are left to say."""
    done = _without_pulumi(tmp_path, action)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    assert f"the default backend file://{tmp_path}/.pulumi-state: holds no Pulumi state" in text, text
    assert "the Pulumi CLI is not installed (no `pulumi` on PATH)" in text, text
    assert "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)" in text, text
    assert "Traceback" not in done.stderr
    first_deployment = _without_pulumi(tmp_path, action, "--new-backend")
    assert first_deployment.returncode == 2, first_deployment.stderr
    assert "holds no Pulumi state" not in first_deployment.stderr
    assert "Pulumi CLI is not installed" in first_deployment.stderr
    assert "set PULUMI_CONFIG_PASSPHRASE" in first_deployment.stderr, first_deployment.stderr
    assert not (tmp_path / ".pulumi-state").exists(), "no state folder is made for a run that cannot start"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], ["holds no Pulumi state", "Pulumi CLI is not installed", "set PULUMI_CONFIG_PASSPHRASE"]),
        (
            ["--new-backend", "--stack", "yulin-prd"],
            [
                "--stack yulin-prd: not a stack of these folders",
                *(f"stacks/{s}: there is no" for s in ("0-baseline", "0-network", "1-cloud", "1-datapool")),
                "Pulumi CLI is not installed",
                "set PULUMI_CONFIG_PASSPHRASE",
            ],
        ),
    ],
)
def test_each_refusal_said_together_is_a_line_of_its_own(tmp_path: Path, args: list[str], said: list[str]) -> None:
    """Where `dizuo up` refuses several things at once, each is its own line starting `error: ` (dizuo.refusal), as
    `dizuo validate` says its problems: a script grepping `^error:` finds every one, not only the first."""
    done = _without_pulumi(tmp_path, "up", *args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == len(said), done.stderr
    for line, expected in zip(lines, said, strict=True):
        assert line.startswith("error: "), done.stderr
        assert expected in line, done.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            [],
            {"PULUMI_BACKEND_URL": "/srv/pulumi-state"},
            "PULUMI_BACKEND_URL=/srv/pulumi-state: not a self-managed backend; use a file:// path (a folder: "
            "file:///srv/pulumi-state) or an s3:// bucket",
        ),
        (
            [],
            {"PULUMI_BACKEND_URL": "https://api.pulumi.com"},
            "PULUMI_BACKEND_URL=https://api.pulumi.com: Pulumi Cloud is not allowed",
        ),
        (
            [],
            {"PULUMI_BACKEND_URL": "file:///srv/no-state"},
            "PULUMI_BACKEND_URL=file:///srv/no-state: holds no Pulumi",
        ),
        ([], {}, "the default backend file://{tmp_path}/.pulumi-state: holds no Pulumi state"),
        (["--backend", ""], {"PULUMI_BACKEND_URL": "file:///srv/no-state"}, "--backend: empty;"),
    ],
    ids=["env-without-scheme", "env-pulumi-cloud", "env-without-state", "default-without-state", "empty-flag"],
)
def test_a_refused_backend_is_named_as_it_was_given(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    """A backend refused is named as the user gave it, --backend, $PULUMI_BACKEND_URL or the default (a URL never
    typed on the command line is not called --backend), a bare folder gets its file:// URL, and an empty --backend
    (an unset shell variable) is refused instead of falling back to another backend."""
    done = _without_pulumi(tmp_path, "preview", *args, **env)
    assert done.returncode == 2
    text = " ".join(done.stderr.split())
    assert message.format(tmp_path=tmp_path) in text, text
    assert not (tmp_path / ".pulumi-state").exists(), "no state folder is made for a run that cannot start"


FAKE_PULUMI = """#!/bin/sh
echo "$PWD :: $PULUMI_BACKEND_URL :: $*" >> "$FAKE_PULUMI_LOG"
case "$*" in
  version) echo v3.200.0 ;;
  *" up "*|*" preview "*)
    echo "    +-  kubernetes:core/v1:PersistentVolumeClaim yl-datapool-rk-jcxx-pvc replace [diff: ~spec]"
    echo "error: open [/var/lib/x]: no such file"
    i=0
    while [ $i -lt 2000 ]; do echo "    ~ openstack:networking/subnet:Subnet yl-subnet-$i update"; i=$((i+1)); done ;;
  *"stack output"*) echo "{}" ;;
  *"stack history"*) echo '[{"version": 1, "kind": "update", "startTime": "2026-12-05T00:00:00.000Z",
    "endTime": "2026-12-05T00:00:01.000Z", "message": "", "environment": {}, "config": {}, "result": "succeeded",
    "resourceChanges": {"same": 3}}]' ;;
esac
"""


def _with_fake_pulumi(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`dizuo ARGS` on Yulin's stacks in ``tmp_path``, with this file's stand-in `pulumi` on PATH."""
    command = [*args, "--stack", "yulin-prod", "--stacks", str(ROOT / "stacks")]
    return with_fake_pulumi(tmp_path, command, fake=FAKE_PULUMI)


def test_up_runs_with_the_policy_pack_on_an_absolute_backend_and_shows_pulumis_lines_whole(tmp_path: Path) -> None:
    """Every update runs with stacks/policy as its policy pack; a relative file:// backend is made absolute (Pulumi
    runs in each stack's folder); Pulumi's lines reach the terminal whole, brackets and all, however many there are."""
    (tmp_path / "state" / ".pulumi").mkdir(parents=True)
    done, calls = _with_fake_pulumi(tmp_path, "up", "--only", "network", "--backend", "file://state")
    assert done.returncode == 0, done.stderr[-3000:]
    (update,) = [c for c in calls if " up " in c]
    folder, backend, command = update.split(" :: ")
    assert folder == str(ROOT / "stacks" / "0-network")
    assert backend == f"file://{tmp_path / 'state'}"
    assert f"--policy-pack {ROOT / 'stacks' / 'policy'}" in command
    assert "yl-datapool-rk-jcxx-pvc replace [diff: ~spec]" in done.stderr
    assert "error: open [/var/lib/x]: no such file" in done.stderr
    assert "yl-subnet-1999 update" in done.stderr


@pytest.mark.parametrize("action", ["up", "preview"])
def test_a_file_backend_without_state_is_refused_unless_it_is_the_first_deployment(tmp_path: Path, action: str) -> None:
    """An update against a folder holding no Pulumi state (a wrong --backend, or the default .pulumi-state of
    another directory) would create everything a second time: refused before Pulumi runs, unless --new-backend. A
    preview too: it would create the stacks there, and the update after it would no longer see the mistake."""
    done, calls = _with_fake_pulumi(tmp_path, action, "--only", "network")
    assert done.returncode == 2, done.stderr
    assert "holds no Pulumi state" in done.stderr
    assert "--new-backend" in done.stderr
    assert calls == []
    first_deployment = tmp_path / "first"
    first_deployment.mkdir()
    first, calls = _with_fake_pulumi(first_deployment, action, "--only", "network", "--new-backend")
    assert "holds no Pulumi state" not in first.stderr
    assert any(f" {action} " in c for c in calls), "Pulumi ran (the stand-in answers an update as the CLI would)"
    if action == "up":
        assert first.returncode == 0, first.stderr[-3000:]


def test_the_mock_engine_refuses_two_resources_of_one_urn() -> None:
    """Two declared things that map to one logical name are one URN, which the real engine refuses at preview: the
    mock engine synth runs refuses it too, instead of recording both."""
    import pulumi_kubernetes as k8s  # noqa: PLC0415 - only this test builds a program of its own

    from dizuo.synth.engine import run_stack  # noqa: PLC0415

    def program() -> None:
        k8s.core.v1.Namespace("same", metadata={"name": "a"})
        k8s.core.v1.Namespace("same", metadata={"name": "b"})

    with pytest.raises(
        Exception,
        match=r"duplicate resource URN: same \(kubernetes:core/v1:Namespace\) is made 2 times: Namespace a and "
        "Namespace b;",
    ):
        run_stack(ROOT / "stacks" / "1-cloud", "yulin-prod", {}, set(), {}, program=program)


def test_the_mock_engine_names_three_distinct_duplicate_urns() -> None:
    """A URN made three times counts once among the (up to three) duplicates said: the others are named too."""
    import pulumi_kubernetes as k8s  # noqa: PLC0415 - only this test builds a program of its own

    from dizuo.synth.engine import run_stack  # noqa: PLC0415

    def program() -> None:
        for name in ("a", "b", "c"):
            k8s.core.v1.Namespace("thrice", metadata={"name": name})
        for twice in ("second", "third"):
            k8s.core.v1.Namespace(twice, metadata={"name": f"{twice}-1"})
            k8s.core.v1.Namespace(twice, metadata={"name": f"{twice}-2"})

    with pytest.raises(Exception) as raised:  # noqa: PT011 - the message is what is checked
        run_stack(ROOT / "stacks" / "1-cloud", "yulin-prod", {}, set(), {}, program=program)
    said = str(raised.value)
    for twice in ("second", "third"):  # in the order registered, which several threads make: checked one by one
        assert f"{twice} (kubernetes:core/v1:Namespace) is made 2 times" in said, said
    assert "thrice (kubernetes:core/v1:Namespace) is made 3 times" in said, said


def _with_a_dedicated_source(target: Path) -> None:
    """Yulin with a cluster in the dedicated network, 税务专网系统 on it, and a dataset of the data pool (yl-gov)
    whose source it is: the extranet's data pool reaches the dedicated network through ext-to-ded-exchange (443)."""
    shutil.copytree(YULIN, target)

    def edit(file: str, key: str, item: dict[str, Any]) -> None:
        document = yaml.safe_load((target / file).read_text(encoding="utf-8"))
        document[key].append(item)
        (target / file).write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")

    edit(
        "clusters.yaml",
        "clusters",
        {
            "name": "yl-ded",
            "zone": "dedicated",
            "kubernetes_version": "1.30",
            "ingress_address": "10.63.2.10",
            "node_pools": [
                {"name": "ded-hygon", "arch": "x86_64", "cpu_vendor": "Hygon", "os": "Kylin V10", "nodes": 3}
                | {"cpu_per_node": 32, "memory_gib_per_node": 128}
            ],
        },
    )
    edit(
        "systems.yaml",
        "systems",
        {"code": "sw-ded", "name": "税务专网系统", "department": "sw", "zone": "dedicated", "cluster": "yl-ded"}
        | {"node_pool": "ded-hygon", "resources": {"cpu": 2, "memory_gib": 4, "storage_gib": 0}}
        | {"image": "sw/sw-ded:1.0", "arches": ["x86_64"], "os": "Kylin V10"},
    )
    edit(
        "datasets.yaml",
        "datasets",
        {"code": "ss-zw", "name": "专网税务数据", "owner": "sw", "source_system": "sw-ded", "classification": "核心"}
        | {"retention_days": 3650, "size_gib": 10, "records": 1000, "refresh_days": 1}
        | {"storage_pool": "datapool-ceph", "kind": "volume"},
    )


def test_a_data_pool_source_in_another_cluster_is_served_through_its_ingress(tmp_path: Path) -> None:
    """A system that only a data-pool loader of another cluster reaches (no caller, no ingress into its zone) is
    served through its cluster's ingress controller like a system called from there: the loader's egress to that
    ingress address on 443 meets an Ingress for <code>.<domain>, a DNS record at the address, and a network policy
    that lets the ingress controller in."""
    city = tmp_path / "yulin"
    _with_a_dedicated_source(city)
    out = tmp_path / "build"
    runs = synth(load(city), city, out, ROOT / "stacks").runs
    (loaders,) = [
        p.inputs["spec"]["egress"]
        for p in runs["datapool"].of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if (p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]) == ("dp-sw", "declared-flows")
    ]
    assert {"to": [{"ipBlock": {"cidr": "10.63.2.10/32"}}], "ports": [{"protocol": "TCP", "port": 443}]} in loaders
    ingresses = [
        i.inputs["spec"]
        for i in runs["cloud"].of_type("kubernetes:networking.k8s.io/v1:Ingress")
        if i.inputs["metadata"]["namespace"] == "sw-ded"
    ]
    assert [rule["host"] for spec in ingresses for rule in spec["rules"]] == ["sw-ded.yl.gov.cn"]
    (admitted,) = [
        p.inputs["spec"]["ingress"]
        for p in runs["cloud"].of_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
        if (p.inputs["metadata"]["namespace"], p.inputs["metadata"]["name"]) == ("sw-ded", "declared-flows")
    ]
    controller = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
    assert any(controller in rule["from"] for rule in admitted), admitted
    records = (out / "dns" / "yl.gov.cn.zone").read_text(encoding="utf-8").splitlines()
    assert [line.split() for line in records if line.startswith("sw-ded ")] == [
        ["sw-ded", "IN", "A", "10.63.2.10", ";", "yl-ded"]
    ]


def exports_under_config(tmp_path: Path, program: str, stack_config: str) -> dict[str, Any]:
    """The exports of the one-file stack program ``program`` run offline with ``stack_config`` as its config."""
    from dizuo.synth.engine import read_stack_config, run_stack  # noqa: PLC0415

    folder = one_file_stack(tmp_path / "stacks" / "3-typed", program)
    (folder / "Pulumi.t.yaml").write_text(stack_config, encoding="utf-8")
    config, secret_keys = read_stack_config(folder, "t")
    return run_stack(folder, "t", config, secret_keys, {}).exports


def test_a_stack_configs_numbers_booleans_and_structured_values_reach_the_program_as_pulumi_passes_them(
    tmp_path: Path,
) -> None:
    """Pulumi hands a program each config value that is not a string as its JSON, which Config.get_int, get_bool and
    get_object parse: synth must hand it the same, or a program that `pulumi up` runs fails offline (or reads
    YAML's '3\\n...'), a quoted date stays the text written, and a secure leaf of a map makes the key a secret."""
    from dizuo.synth.engine import SECRET_PLACEHOLDER, read_stack_config, run_stack  # noqa: PLC0415

    folder = one_file_stack(
        tmp_path / "stacks" / "3-typed",
        "import pulumi\n"
        "c = pulumi.Config()\n"
        "pulumi.export('replicas', c.get_int('replicas'))\n"
        "pulumi.export('strict', c.get_bool('strict'))\n"
        "pulumi.export('ratio', c.get_float('ratio'))\n"
        "pulumi.export('labels', c.get_object('labels'))\n"
        "pulumi.export('zones', c.get_object('zones'))\n"
        "pulumi.export('window', c.get('window'))\n"
        "pulumi.export('login', c.get_secret_object('login'))\n",
    )
    (folder / "Pulumi.t.yaml").write_text(
        "config:\n"
        "  dizuo-typed:replicas: 3\n"
        "  dizuo-typed:strict: true\n"
        "  dizuo-typed:ratio: 1.5\n"
        "  dizuo-typed:labels:\n"
        "    tier: web\n"
        "    owner: 数据局\n"
        "  dizuo-typed:zones: [gov, dmz]\n"
        "  dizuo-typed:window: '2026-01-31'\n"
        "  dizuo-typed:login:\n"
        "    user: robot\n"
        "    password:\n"
        "      secure: v1:AAAA\n",
        encoding="utf-8",
    )
    config, secret_keys = read_stack_config(folder, "t")
    assert secret_keys == {"dizuo-typed:login"}, "the key of a map with a secure leaf is secret"
    exports = run_stack(folder, "t", config, secret_keys, {}).exports
    assert exports == {
        "replicas": 3,
        "strict": True,
        "ratio": 1.5,
        "labels": {"tier": "web", "owner": "数据局"},
        "zones": ["gov", "dmz"],
        "window": "2026-01-31",
        "login": {"user": "robot", "password": SECRET_PLACEHOLDER},
    }


def test_stack_config_values_yaml_1_1_and_the_pulumi_cli_read_apart_reach_the_program_as_the_cli_passes_them(
    tmp_path: Path,
) -> None:
    """The Pulumi CLI reads every stack config value as Go's yaml.v3 does (`no`, `off`, `12:30` text; `0755` octal,
    `1_000` and `1e3` numbers) and hands a program a scalar as that value's text (`0755` as 493, `True` as true, an
    empty value as ""; quoted, as written) and a map as its JSON: synth must too, where YAML 1.1 made `no` false
    and `12:30` 750, so that `dizuo synth` and `pulumi up` build the same resources."""
    exports = exports_under_config(
        tmp_path,
        "import pulumi\n"
        "c = pulumi.Config()\n"
        "for key in ('tls', 'on', 'mode', 'quota', 'window', 'hex', 'empty', 'quoted', 'strict', 'ratio', 'tiny'):\n"
        "    pulumi.export(key, c.get(key))\n"
        "pulumi.export('limits', c.get_object('limits'))\n",
        "config:\n"
        "  dizuo-typed:tls: no\n"
        "  dizuo-typed:mode: 0755\n"
        "  dizuo-typed:quota: 1_000\n"
        "  dizuo-typed:window: 12:30\n"
        "  dizuo-typed:hex: 0x1F\n"
        "  dizuo-typed:empty:\n"
        "  dizuo-typed:quoted: 'yes'\n"
        "  dizuo-typed:on: yes\n"
        "  dizuo-typed:strict: True\n"
        "  dizuo-typed:ratio: 1.50\n"
        "  dizuo-typed:tiny: 1e-5\n"
        "  dizuo-typed:limits:\n"
        "    audit: off\n"
        "    on: yes\n"
        "    mode: 0755\n"
        "    umask: 0o027\n"
        "    quota: 1_000\n"
        "    window: 12:30\n"
        "    strict: True\n"
        "    bytes: 1e3\n"
        "    half: .5\n"
        "    unset: ~\n",
    )
    assert exports == {
        "tls": "no",
        "on": "yes",
        "mode": "493",  # yaml.v3 keeps 1.1's octal 0755 and 1_000 "for compatibility"
        "quota": "1000",
        "window": "12:30",
        "hex": "31",
        "empty": "",  # yaml.v3 calls no unmarshaler for a null: the key keeps Pulumi's zero value, the empty text
        "quoted": "yes",
        "strict": "true",
        "ratio": "1.5",
        "tiny": "0.00001",  # as Go's JSON writes it, where Python's repr says 1e-05
        "limits": {
            "audit": "off",
            "on": "yes",
            "mode": 0o755,
            "umask": 0o027,
            "quota": 1000,
            "window": "12:30",
            "strict": True,
            "bytes": 1000,
            "half": 0.5,
            "unset": None,
        },
    }
    assert isinstance(exports["limits"]["bytes"], int), "Go writes the float 1e3 as 1000, which JSON reads as an int"


def test_a_stack_config_key_without_a_namespace_reaches_the_program_under_the_project_s_name(tmp_path: Path) -> None:
    """`replicas: 3` in Pulumi.<stack>.yaml is `<project>:replicas` to the program, as the Pulumi CLI names a key
    without a namespace after the project: Config().get('replicas') finds it under synth as under `pulumi up`."""
    from dizuo.synth.engine import SECRET_PLACEHOLDER  # noqa: PLC0415

    exports = exports_under_config(
        tmp_path,
        "import pulumi\n"
        "c = pulumi.Config()\n"
        "pulumi.export('replicas', c.get_int('replicas'))\n"
        "pulumi.export('password', c.get_secret('password'))\n"
        "pulumi.export('registry', pulumi.Config('dizuo').get('registry'))\n"
        "pulumi.export('region', pulumi.Config('dizuo').get('region'))\n",
        "config:\n  replicas: 3\n  password:\n    secure: v1:AAAA\n  dizuo:registry: registry.yl.gov.cn\n"
        "  dizuo:config:region: RegionOne\n",
    )
    assert exports == {
        "replicas": 3,
        "password": SECRET_PLACEHOLDER,
        "registry": "registry.yl.gov.cn",
        "region": "RegionOne",  # the old <namespace>:config:<name> form, which the CLI still reads
    }


def test_a_map_with_a_secure_key_that_is_no_ciphertext_reaches_the_program_as_a_plain_map(tmp_path: Path) -> None:
    """Only a map of the one key `secure` holding text is an encrypted secret to the Pulumi CLI: `{secure: true,
    port: 443}` or `{secure: false}` is a plain map, handed over as its JSON and not secret, not the placeholder."""
    exports = exports_under_config(
        tmp_path,
        "import pulumi\n"
        "c = pulumi.Config()\n"
        "pulumi.export('tls', c.get_object('tls'))\n"
        "pulumi.export('probe', c.get_object('probe'))\n",
        "config:\n  tls: {secure: true, port: 443}\n  probe:\n    http: {secure: false}\n",
    )
    assert exports == {"tls": {"port": 443, "secure": True}, "probe": {"http": {"secure": False}}}


def test_a_plain_equals_sign_in_a_stack_config_reaches_the_program_as_the_text(tmp_path: Path) -> None:
    """A bare `=` as a stack config value, and in a map, is the text "=" (as the Pulumi CLI passes it), where
    PyYAML's YAML 1.1 "value" type made synth refuse the whole file."""
    exports = exports_under_config(
        tmp_path,
        "import pulumi\n"
        "c = pulumi.Config()\n"
        "pulumi.export('separator', c.get('separator'))\n"
        "pulumi.export('match', c.get_object('match'))\n",
        "config:\n  dizuo-typed:separator: =\n  dizuo-typed:match: {op: =, values: [=]}\n",
    )
    assert exports == {"separator": "=", "match": {"op": "=", "values": ["="]}}


# Go's encoding/json writes a float64 (floatEncoder) with strconv's shortest digits (precision -1, which Python's
# repr picks alike), positionally ('f') for 1e-6 <= |x| < 1e21 and with an exponent ('e') outside, cleaning e-07 to
# e-7; 'f' pads the shortest digits with zeros rather than writing the exact binary value.
GO_JSON_FLOATS = [
    ("9007199254740992.0", "9007199254740992"),  # 2**53: its shortest digits are all of it
    ("1152921504606846976.0", "1152921504606847000"),  # 2**60: shortest digits, zero-padded ('f', -1)
    ("18446744073709551616", "18446744073709552000"),  # 2**64: past uint64, so yaml.v3 reads a float
    ("1e20", "100000000000000000000"),  # below 1e21: positional
    ("1e21", "1e+21"),  # from 1e21: an exponent
    ("1e-7", "1e-7"),  # below 1e-6: an exponent, e-07 cleaned to e-7
    ("1.5e-7", "1.5e-7"),
    ("1e-6", "0.000001"),  # from 1e-6: positional
    ("0.1", "0.1"),
    ("123456789.0", "123456789"),  # a whole float has no fraction
    # Go's JSON alone writes -0; the CLI's loader first writes the file back out with yaml.v3 (-0) and reads the
    # integer 0 from it (LoadProjectStackBytes in sdk/go/common/workspace/loaders.go).
    ("-0.0", "0"),
]


@pytest.mark.parametrize(("written", "passed"), GO_JSON_FLOATS, ids=[written for written, _ in GO_JSON_FLOATS])
def test_a_float_in_a_stack_config_is_written_as_the_pulumi_cli_writes_it(
    tmp_path: Path, written: str, passed: str
) -> None:
    """A float config value, alone or in a map or list, reaches the program in the text Go's encoding/json gives it
    (as `pulumi up` hands it over), not Python's (1e-07, 1e-06) nor the exact integer of a large whole float."""
    from dizuo.synth.engine import read_stack_config  # noqa: PLC0415

    (tmp_path / "Pulumi.yaml").write_text("name: dizuo-typed\nruntime: python\n", encoding="utf-8")
    (tmp_path / "Pulumi.t.yaml").write_text(
        f"config:\n  dizuo-typed:alone: {written}\n  dizuo-typed:limits: {{size: {written}}}\n"
        f"  dizuo-typed:sizes: [{written}]\n",
        encoding="utf-8",
    )
    config, _ = read_stack_config(tmp_path, "t")
    assert config == {
        "dizuo-typed:alone": passed,
        "dizuo-typed:limits": f'{{"size":{passed}}}',
        "dizuo-typed:sizes": f"[{passed}]",
    }


def test_a_map_in_a_stack_config_reaches_the_program_in_the_text_go_writes_it(tmp_path: Path) -> None:
    """A map config value reaches the program as Go's json.Marshal writes it, as `pulumi up` hands it over: keys
    sorted (so get_object's dict iterates in that order) and <, >, &, U+2028 escaped, not in the order written."""
    exports = exports_under_config(
        tmp_path,
        "import pulumi\n"
        "c = pulumi.Config()\n"
        "pulumi.export('text', c.get('routes'))\n"
        "pulumi.export('order', list(c.get_object('routes')))\n",
        "config:\n"
        "  dizuo-typed:routes:\n"
        "    zone: gov\n"
        '    match: "a<b && c>d \\u2028"\n'
        "    数据: 1\n"
        "    Default: [true, null]\n",
    )
    assert exports == {
        "text": '{"Default":[true,null],"match":"a\\u003cb \\u0026\\u0026 c\\u003ed \\u2028","zone":"gov","数据":1}',
        "order": ["Default", "match", "zone", "数据"],
    }


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (b"config:\n  dizuo-typed:blob: !!binary aGVsbG8=\n", "config.dizuo-typed:blob: "),
        ("# 榆林生产环境\nconfig: {}\n".encode("gbk"), "line 1: not UTF-8 (byte 0xd3), "),
        (b"config:\n  dizuo:registry: a\n  dizuo:registry: b\n", "line 3, column 3: duplicate key 'dizuo:registry'"),
        (b"config: [dizuo:registry]\n", "config: a mapping of keys to values, not list"),
        (b"config:\n  dizuo-typed:limits: {cpu: .inf}\n", "config.dizuo-typed:limits.cpu: inf: infinity and NaN"),
        (
            b"config:\n  dizuo:registry: a\n  dizuo:config:registry: b\n",
            "config.dizuo:config:registry: the same key as config.dizuo:registry to the Pulumi CLI (dizuo:registry)",
        ),
        (
            b"config:\n  dizuo:cloud:registry: a\n",
            "config.dizuo:cloud:registry: a key the Pulumi CLI cannot parse, and it refuses the file",
        ),
        (b"config:\n  dizuo-typed:tls: !!bool yes\n", "cannot decode 'yes' as tag:yaml.org,2002:bool"),
        (b"config:\n  dizuo-typed:limits: {unset: !!null none}\n", "cannot decode 'none' as tag:yaml.org,2002:null"),
        (
            b"config:\n  replicas: 3\n  dizuo-typed:replicas: 4\n",
            "config.dizuo-typed:replicas: the same key as config.replicas to the Pulumi CLI (dizuo-typed:replicas), "
            "which keeps one of the two values, either; give it once",
        ),
        (
            b"config:\n  dizuo-typed:cutover: 2026-12-07\n",
            "config.dizuo-typed:cutover: 2026-12-07: a date or time, which the Pulumi CLI reads as a time and hands "
            "the program as Go prints it (2026-12-07 00:00:00 +0000 UTC), not as written; quote it ('2026-12-07')",
        ),
        (
            b"config:\n  dizuo-typed:cutover: 2026-12-07T10:00:00Z\n",
            "config.dizuo-typed:cutover: 2026-12-07T10:00:00Z: a date or time, which the Pulumi CLI reads as a time "
            "and hands the program as Go prints it (2026-12-07 10:00:00 +0000 UTC), not as written; quote it "
            "('2026-12-07T10:00:00Z')",
        ),
        (
            b"config:\n  dizuo-typed:windows: [{start: 2026-12-07 22:00:00}]\n",
            "config.dizuo-typed:windows[0].start: 2026-12-07 22:00:00: a date or time, which the Pulumi CLI reads as "
            "a time and hands the program as Go prints it (2026-12-07 22:00:00 +0000 UTC)",
        ),
        (
            b"config:\n  dizuo-typed:cutover: !!timestamp '2026-12-07'\n",
            "config.dizuo-typed:cutover: !!timestamp 2026-12-07: a date or time, which the Pulumi CLI reads as a "
            "time and hands the program as Go prints it (2026-12-07 00:00:00 +0000 UTC), not as written; write it "
            "quoted, without the tag ('2026-12-07')",
        ),
    ],
    ids=[
        "binary-value",
        "gbk-file",
        "key-twice",
        "config-a-list",
        "infinity-in-a-map",
        "one-key-new-and-old-form",
        "key-of-three-parts",
        "bool-tag-on-no-boolean",
        "null-tag-on-no-null",
        "one-key-with-and-without-namespace",
        "unquoted-date",
        "unquoted-date-and-time",
        "time-in-a-list-of-maps",
        "tagged-timestamp",
    ],
)
def test_a_stack_config_no_program_can_be_handed_is_refused_naming_file_and_line_or_key(
    tmp_path: Path, written: bytes, said: str
) -> None:
    """A stack config the Pulumi CLI would not pass on (a file in GBK, a key twice, config a list), a value JSON
    cannot carry (!!binary, an infinite number in a map), a tag yaml.v3 refuses for its text (!!bool yes, which YAML
    1.1 reads as true) or a date or time the CLI would hand over as Go's text of a
    time (unquoted or tagged !!timestamp, alone or deep in a value) is bad input naming the file and the line or key
    path and how to write it, not a traceback nor a value dropped or changed."""
    from dizuo.synth.synth import StackDir, run_program  # noqa: PLC0415

    folder = one_file_stack(tmp_path / "stacks" / "3-typed", "import pulumi\n")
    (folder / "Pulumi.t.yaml").write_bytes(written)
    with pytest.raises(SynthError) as refused:
        run_program(StackDir(folder, 3, "typed"), "t", YULIN, {})
    assert refused.value.code == BAD_INPUT
    assert f"{folder / 'Pulumi.t.yaml'}: not a readable stack config: " in str(refused.value)
    assert said in str(refused.value)


def test_two_stack_folders_of_one_name_are_refused_not_written_over_each_other(
    tmp_path: Path, yulin: Declaration
) -> None:
    """1-apps and 2-apps both write DIR/apps/: synth refuses them (exit 2), naming both folders, instead of writing
    the second stack's manifests over the first's and counting one stack."""
    program = "import pulumi_kubernetes as k8s\nk8s.core.v1.Namespace('ns', metadata={{'name': '{name}'}})\n"
    one_file_stack(tmp_path / "stacks" / "1-apps", program.format(name="tier-1"))
    two = one_file_stack(tmp_path / "stacks" / "2-apps", program.format(name="tier-2"))
    (two / "Pulumi.yaml").write_text("name: dizuo-apps-2\nruntime: python\n", encoding="utf-8")
    with pytest.raises(SynthError) as refused:
        synth(yulin, YULIN, tmp_path / "build", tmp_path / "stacks")
    assert refused.value.code == BAD_INPUT
    assert "1-apps and 2-apps are both named 'apps'" in str(refused.value)
    assert not (tmp_path / "build").exists()


def test_a_secret_stack_output_stays_secret_in_the_stack_that_reads_it(tmp_path: Path, yulin: Declaration) -> None:
    """A secret export read through a StackReference is secret there too, as `pulumi up` marks it: a ConfigMap built
    from it is written with its keys and the placeholder, never the value, and stays schema-valid."""
    from dizuo.synth.engine import SECRET_PLACEHOLDER  # noqa: PLC0415

    one_file_stack(
        tmp_path / "stacks" / "0-src",
        f"import pulumi\npulumi.export('token', pulumi.Output.secret({TEST_SECRET!r}))\npulumi.export('open', 'o')\n",
    )
    one_file_stack(
        tmp_path / "stacks" / "1-use",
        "import pulumi\nimport pulumi_kubernetes as k8s\n"
        "ref = pulumi.StackReference(f'organization/dizuo-src/{pulumi.get_stack()}')\n"
        "k8s.core.v1.ConfigMap('cm', metadata={'name': 'cm', 'namespace': 'default'},\n"
        "    data={'token': ref.get_output('token'), 'open': ref.get_output('open')})\n",
    )
    out = tmp_path / "build"
    result = synth(yulin, YULIN, out, tmp_path / "stacks")
    assert result.runs["src"].exports == {"token": TEST_SECRET, "open": "o"}
    leaked = [p.name for p in out.rglob("*") if p.is_file() and TEST_SECRET in p.read_text(encoding="utf-8")]
    assert not leaked, f"the secret export is written in plaintext in {leaked}"
    (config_map,) = manifests(out)
    assert config_map["data"] == {"open": SECRET_PLACEHOLDER, "token": SECRET_PLACEHOLDER}, "its keys, no value"


@pytest.mark.parametrize(
    ("project", "said"),
    [
        ("runtime: python\n", "name: missing: the project's name is required"),
        ("name: [dizuo-x\n", "invalid YAML: line 2, column 1"),
        ("name: {a: 1}\n", """name: '{"a": 1}': the project's name is required"""),
    ],
    ids=["no-name", "bad-yaml", "name-a-map"],
)
@pytest.mark.parametrize("configured", [True, False], ids=["with-config", "without-config"])
def test_a_pulumi_yaml_without_a_project_name_is_bad_input_naming_it(
    tmp_path: Path, project: str, said: str, *, configured: bool
) -> None:
    """A Pulumi.yaml without a usable project name is bad input (exit 2) naming that file and its key or line: not
    "the program failed: 'name'" (exit 1), nor, where the stack config is missing too, a complaint about --stack."""
    from dizuo.synth.synth import StackDir, run_program  # noqa: PLC0415

    folder = one_file_stack(tmp_path / "stacks" / "3-x", "import pulumi\n")
    (folder / "Pulumi.yaml").write_text(project, encoding="utf-8")
    if configured:
        (folder / "Pulumi.t.yaml").write_text("config: {}\n", encoding="utf-8")
    with pytest.raises(SynthError) as refused:
        run_program(StackDir(folder, 3, "x"), "t", YULIN, {})
    assert refused.value.code == BAD_INPUT
    assert f"{folder / 'Pulumi.yaml'}: not a Pulumi project file: {said}" in str(refused.value)


# A stack program of a test's own, naming one Namespace per dataset owner after what a careless component might join
# them from: two owners are one logical name, which no check of the declaration foresees.
_JOINED_PROGRAM = """
import pulumi
import pulumi_kubernetes as k8s

from dizuo.cloud.providers import cluster_providers
from dizuo.datapool.shapes import dataset_labels, dataset_namespace
from dizuo.declaration import load

d = load(pulumi.Config("dizuo").require("declaration"))
providers = cluster_providers("joined", d)
for ds in [ds for ds in d.datasets if ds.owner in ("gaj", "sjj")][:2]:
    k8s.core.v1.Namespace(
        f"{d.city.prefix}-joined",
        metadata={"name": dataset_namespace(ds.owner), "labels": dataset_labels(ds, d.city.code)},
        opts=pulumi.ResourceOptions(provider=providers[d.loader_cluster(ds)]),
    )
"""


def test_synth_names_what_made_a_duplicate_urn(tmp_path: Path) -> None:
    """A duplicate URN the checks do not foresee fails synth with one line naming the stack, the resource and what
    each of the two stands for (object, cluster provider, the dataset and owner its labels name), not the URN alone;
    nothing is written."""
    stack = one_file_stack(tmp_path / "stacks" / "0-joined", _JOINED_PROGRAM)
    (stack / "Pulumi.yulin-prod.yaml").write_text("config: {}\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(SynthError) as raised:
        synth(load(YULIN), YULIN, out, tmp_path / "stacks")
    (error,) = raised.value.errors
    assert "\n" not in error, error
    assert error.startswith(
        f"{stack}: duplicate resource URN: yl-joined (kubernetes:core/v1:Namespace) is made 2 times: Namespace dp-gaj "
        "(provider joined-yl-gov) of dataset 'rk-jcxx', owner 'gaj' and Namespace dp-sjj (provider joined-yl-gov) of "
        "dataset 'dzzz-ml', owner 'sjj'; Pulumi refuses two resources of one name"
    ), error
    # Here the program joined the names, not the declaration: the advice must cover both.
    assert error.endswith(
        "rename one of the declaration entries they are named after, or fix the stack program's names"
    ), error
    assert not out.exists()
