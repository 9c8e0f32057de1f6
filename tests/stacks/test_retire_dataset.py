"""Retiring a dataset as README says: protected data holders are released on purpose, then forgotten, never deleted."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from declarations import city_copy
from dizuo.cli import app
from dizuo.synth.engine import Registered, StackRun
from dizuo.synth.released import replacing_changes

from .conftest import ROOT, YULIN, run_tiers

RELEASED = ["released", "--stack", "yulin-prod", "--stacks", str(ROOT / "stacks")]
DATAPOOL = "urn:pulumi:yulin-prod::dizuo-datapool::dizuo:datapool:DataPool"


def _released_from_yulin(tmp_path: Path, edit: Callable[[dict[str, Any]], None]) -> Result:
    """`dizuo released` from Yulin as deployed to a copy whose datasets.yaml ``edit`` changed."""
    changed = city_copy(tmp_path / "changed", {"datasets.yaml": edit})
    return CliRunner().invoke(app, [*RELEASED, str(YULIN), str(changed), "--backend", f"file://{tmp_path / 's'}"])


def _without_rk_jcxx(datasets: dict[str, Any]) -> None:
    """The police's (gaj) only volume dataset retired: its namespace dp-gaj is no longer needed either."""
    datasets["datasets"] = [d for d in datasets["datasets"] if d["code"] != "rk-jcxx"]


def test_a_data_pool_namespace_keeps_its_fence_and_loses_its_flows_when_the_stack_forgets_it(
    runs: dict[str, StackRun],
) -> None:
    """When an owner's last dataset is retired the stack forgets its namespace, which still holds the data: its quota,
    LimitRange and default-deny are forgotten with it (retain_on_delete), not deleted, so the data stays fenced; its
    declared flows and the owner's RoleBinding, which would still let a pod there reach the retired datasets' source
    systems and the department use it, are deleted, as a retired system's are."""
    datapool = runs["datapool"]
    by_role: dict[tuple[str, str], list[Registered]] = {}
    for r in datapool.resources:
        if r.custom and r.type.startswith("kubernetes:") and "namespace" in r.inputs.get("metadata", {}):
            by_role.setdefault((r.type.rsplit(":", 1)[1], r.inputs["metadata"]["name"]), []).append(r)
    fence = [("ResourceQuota", "quota"), ("LimitRange", "limits"), ("NetworkPolicy", "default-deny")]
    opening = [("NetworkPolicy", "declared-flows"), ("RoleBinding", "dataset-owner")]
    assert all(by_role.get(role) for role in fence + opening), sorted(by_role)
    deleted = [r.name for role in fence for r in by_role[role] if not r.retain_on_delete]
    assert not deleted, f"deleted when their data-pool namespace is forgotten: {deleted}"
    kept = [r.name for role in opening for r in by_role[role] if r.retain_on_delete]
    assert not kept, f"still opening a forgotten data-pool namespace: {kept}"


def test_released_prints_the_unprotect_commands_a_retired_dataset_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dizuo released DEPLOYED CHANGED` names, by the URNs the Pulumi engine uses, exactly the protected resources the
    change drops (the claim, and the namespace of the owner's last dataset), each kept where it is once unprotected;
    the quota, limits and policies need no unprotect, and nothing else is touched."""
    changed = city_copy(tmp_path / "changed", {"datasets.yaml": _without_rk_jcxx})
    backend = f"file://{tmp_path / 'state'}"
    monkeypatch.chdir(tmp_path)  # stack folders outside the working directory are named in full
    result = CliRunner().invoke(app, [*RELEASED, str(YULIN), str(changed), "--backend", backend])
    assert result.exit_code == 0, result.output
    folder = ROOT / "stacks" / "1-datapool"
    lines = [line for line in result.stdout.splitlines() if line]
    assert lines == [
        f"export PULUMI_BACKEND_URL={backend}",
        f"# {folder}: kept where it is, forgotten by the stack",
        f"pulumi -C {folder} state unprotect --stack yulin-prod --yes "
        f"'{DATAPOOL}$kubernetes:core/v1:Namespace::yl-datapool-yl-gov-dp-gaj'",
        f"# {folder}: kept where it is, forgotten by the stack",
        f"pulumi -C {folder} state unprotect --stack yulin-prod --yes "
        f"'{DATAPOOL}$kubernetes:core/v1:PersistentVolumeClaim::yl-datapool-rk-jcxx-pvc'",
    ], result.stdout


def test_released_says_a_kept_claim_still_counts_against_its_owner_s_quota(tmp_path: Path) -> None:
    """Retiring one of an owner's datasets keeps its claim in dp-<owner>, whose quota shrinks to the claims still
    declared while Kubernetes counts the kept one too, on its storage class: `released` says so beside its unprotect
    command, since until the claim is deleted a dataset grown or declared there on that class is refused (exceeded
    quota); the quota has no total, so the owner's other classes are not held up."""

    def without_fy_xx(datasets: dict[str, Any]) -> None:
        datasets["datasets"] = [d for d in datasets["datasets"] if d["code"] != "fy-xx"]

    result = _released_from_yulin(tmp_path, without_fy_xx)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    unprotect = next(
        i for i, line in enumerate(lines) if line.endswith("PersistentVolumeClaim::yl-datapool-fy-xx-pvc'")
    )
    assert lines[unprotect - 1] == (
        "# its storage still counts against the quota of dp-wjw on storage class yl-datapool-ceph, which no longer "
        "grants it: a dataset grown or declared in dp-wjw on yl-datapool-ceph is refused (exceeded quota) until this "
        "claim is deleted"
    ), lines


def test_a_change_that_releases_nothing_says_so(tmp_path: Path) -> None:
    """A declaration change that drops no protected resource prints no command: `dizuo up` goes through as it is."""
    result = CliRunner().invoke(app, [*RELEASED, str(YULIN), str(YULIN), "--backend", f"file://{tmp_path / 'state'}"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert "no protected resource is released" in result.stderr


def test_engine_urns_qualify_a_type_by_every_ancestor_but_the_stack() -> None:
    """The URNs printed for `pulumi state unprotect` are the engine's: a component's children carry its type, a
    top-level resource none (Pulumi's own mock monitor's URNs carry the stack's type and only the parent's; dizuo's
    mock engine gives the engine's)."""
    run = run_tiers(YULIN, "0-baseline", "1-datapool")["1-datapool"]

    by_name = {r.name: r for r in run.resources}
    assert by_name["yl-datapool"].urn == "urn:pulumi:yulin-prod::dizuo-datapool::dizuo:datapool:DataPool::yl-datapool"
    claim = by_name["yl-datapool-rk-jcxx-pvc"]
    assert claim.urn == f"{DATAPOOL}$kubernetes:core/v1:PersistentVolumeClaim::yl-datapool-rk-jcxx-pvc"


def _rk_jcxx_on_the_xinchuang_pool(datasets: dict[str, Any]) -> None:
    """The police's volume dataset moved to the Xinchuang Ceph pool of the same cluster: its claim's storage class
    changes."""
    for d in datasets["datasets"]:
        if d["code"] == "rk-jcxx":
            d["storage_pool"] = "xc-ceph"


def test_released_refuses_a_change_that_would_replace_a_dataset_s_claim(tmp_path: Path) -> None:
    """Moving a dataset to another pool keeps its claim's name but changes its storage class: the provider would
    replace the claim with a new, empty one, which Pulumi refuses for a protected resource. `released` names the
    claim and what forces it, and exits 1, instead of saying `dizuo up` needs nothing."""
    result = _released_from_yulin(tmp_path, _rk_jcxx_on_the_xinchuang_pool)
    assert result.exit_code == 1, result.output
    error = " ".join(result.stderr.split())
    claim = f"{DATAPOOL}$kubernetes:core/v1:PersistentVolumeClaim::yl-datapool-rk-jcxx-pvc"
    assert f"{claim} would be replaced by a new, empty one" in error, error
    assert "(spec.storageClassName: 'yl-datapool-ceph' -> 'yl-xc-ceph')" in error, error


def test_released_exiting_1_does_not_say_dizuo_up_needs_nothing(tmp_path: Path) -> None:
    """When a change would replace a protected claim, `released` says there is nothing to unprotect but that
    `dizuo up` fails until the move is a migration, not "no protected resource is released: `dizuo up` needs no
    unprotect" just before the replacement error; with a release beside it, not "run the commands, then dizuo up"."""

    def moved_and_retired(datasets: dict[str, Any]) -> None:
        _rk_jcxx_on_the_xinchuang_pool(datasets)
        # The Statistics Bureau's datasets retired beside the move: their claims are released.
        datasets["datasets"] = [d for d in datasets["datasets"] if not d["code"].startswith("tj-")]

    moved = _rk_jcxx_on_the_xinchuang_pool
    for name, change, unprotect in (("moved", moved, "nothing to unprotect:"), ("both", moved_and_retired, "but")):
        changed = city_copy(tmp_path / name, {"datasets.yaml": change})
        result = CliRunner().invoke(app, [*RELEASED, str(YULIN), str(changed), "--backend", f"file://{tmp_path}/s"])
        assert result.exit_code == 1, result.output
        said = " ".join(result.stderr.split())
        assert "needs no unprotect" not in said, said
        assert "no protected resource is released" not in said, said
        assert "run the commands, then" not in said, said
        assert unprotect in said, said
        refused = "1 protected resource(s) would be replaced, which Pulumi refuses: `dizuo up --stack yulin-prod` fails"
        assert refused in said, said


def test_a_claim_moved_to_another_cluster_is_replaced() -> None:
    """A claim whose Kubernetes provider changes (its dataset's pool in another cluster) is created anew there,
    whatever its inputs: the provider is named among what forces the replacement."""
    provider = "urn:pulumi:prod::dizuo-datapool::pulumi:providers:kubernetes::datapool-{0}::datapool-{0}"
    inputs = {"metadata": {"name": "rk-jcxx", "namespace": "dp-gaj"}, "spec": {"storageClassName": "yl-ceph"}}
    before, after = (
        Registered(
            type="kubernetes:core/v1:PersistentVolumeClaim",
            name="yl-datapool-rk-jcxx-pvc",
            urn="urn",
            parent="",
            provider=provider.format(cluster),
            custom=True,
            protect=True,
            retain_on_delete=True,
            inputs=inputs,
        )
        for cluster in ("yl-gov", "yl-dmz")
    )
    assert replacing_changes(before, after) == ("provider: 'datapool-yl-gov' -> 'datapool-yl-dmz'",)
    assert replacing_changes(before, before) == ()


def test_growing_a_dataset_replaces_nothing(tmp_path: Path) -> None:
    """A dataset grown in datasets.yaml changes its claim's requested size, which Kubernetes changes in place
    (volume expansion): released finds nothing to replace or unprotect."""

    def grow(datasets: dict[str, Any]) -> None:
        datasets["datasets"][0]["size_gib"] += 10

    result = _released_from_yulin(tmp_path, grow)
    assert result.exit_code == 0, result.output
    assert "no protected resource is released" in result.stderr
    assert "replaced" not in result.stderr


def test_released_refuses_a_change_that_would_shrink_a_dataset_s_claim(tmp_path: Path) -> None:
    """A dataset's size_gib lowered asks its claim for less storage, which Kubernetes refuses (a claim never shrinks):
    `released` names the claim with both sizes and exits 1, instead of saying `dizuo up` needs nothing while the update
    would fail on the claim after shrinking the owner's quota."""

    def shrink(datasets: dict[str, Any]) -> None:
        rk = next(d for d in datasets["datasets"] if d["code"] == "rk-jcxx")
        rk["size_gib"] -= 11

    result = _released_from_yulin(tmp_path, shrink)
    assert result.exit_code == 1, result.output
    said = " ".join(result.stderr.split())
    claim = f"{DATAPOOL}$kubernetes:core/v1:PersistentVolumeClaim::yl-datapool-rk-jcxx-pvc"
    assert f"{claim} would shrink from 211Gi to 200Gi" in said, said
    assert "needs no unprotect" not in said, said
    assert "1 claim(s) would shrink, which Kubernetes refuses: `dizuo up --stack yulin-prod` fails" in said, said


def _adoption(lines: list[str]) -> tuple[set[str], dict[str, Any]]:
    """What `dizuo released`'s commented adoption lines name: the objects to look for (as `kubectl get` names them)
    and the `pulumi import` document its printf line writes."""
    gets = {line.removeprefix("#   kubectl get ") for line in lines if line.startswith("#   kubectl get ")}
    (printf,) = (line for line in lines if line.startswith("# printf"))
    return gets, json.loads(shlex.split(printf.removeprefix("# "))[2])


def test_released_prints_the_import_that_adopts_a_retired_dataset_declared_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dataset retired earlier and declared again: its claim and its owner's namespace, quota, limits and default-deny
    were kept in the cluster, and pulumi-kubernetes >= 4.29 refuses to create over them (AlreadyExists). `dizuo
    released` names them and gives, commented, the `pulumi import` document adopting each under the URN the update
    gives it, by its Kubernetes ID, parent and provider; the RoleBinding and declared flows, deleted on retirement, are
    not among them."""
    deployed = city_copy(tmp_path / "deployed", {"datasets.yaml": _without_rk_jcxx})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*RELEASED, str(deployed), str(YULIN), "--backend", f"file://{tmp_path / 's'}"])
    assert result.exit_code == 0, result.output
    assert "AlreadyExists" in result.stderr
    lines = result.stdout.splitlines()
    assert all(line.startswith("#") for line in lines), "adopting is conditional: nothing runs when piped to sh"
    gets, document = _adoption(lines)
    assert gets == {
        "namespace/dp-gaj --context yl-gov",
        "resourcequota/quota -n dp-gaj --context yl-gov",
        "limitrange/limits -n dp-gaj --context yl-gov",
        "networkpolicy/default-deny -n dp-gaj --context yl-gov",
        "persistentvolumeclaim/rk-jcxx -n dp-gaj --context yl-gov",
    }, "each looked for in the cluster that holds it (the provider's context), not the current one: " + result.stdout
    (command,) = (line for line in lines if " import " in line)
    folder = ROOT / "stacks" / "1-datapool"
    written = tmp_path / "adopt-yulin-prod-1-datapool.json"
    assert command == f"# pulumi -C {folder} import --stack yulin-prod --yes --generate-code=false --file {written}"
    by_id = {r["id"]: r for r in document["resources"]}
    namespace = by_id["dp-gaj"]
    assert namespace["type"] == "kubernetes:core/v1:Namespace"
    assert namespace["name"] == "yl-datapool-yl-gov-dp-gaj"
    assert document["nameTable"][namespace["parent"]] == f"{DATAPOOL}::yl-datapool"
    assert document["nameTable"][namespace["provider"]].startswith("urn:pulumi:yulin-prod::dizuo-datapool::")
    assert by_id["dp-gaj/rk-jcxx"]["type"] == "kubernetes:core/v1:PersistentVolumeClaim"
    assert not any(r["type"].endswith(":RoleBinding") for r in document["resources"])
    assert "dp-gaj/declared-flows" not in by_id, "the declared flows were deleted on retirement"


def test_a_retired_system_s_namespace_keeps_its_quota_limits_and_default_deny(runs: dict[str, StackRun]) -> None:
    """A retired system's namespace, which the cloud stack forgets and still holds its volumes, keeps its quota,
    LimitRange and default-deny (retain_on_delete), so the data stays fenced; what opens it (declared flows, role
    bindings, pull secret) is deleted with the system."""
    cloud = runs["cloud"]
    tenants = [r for r in cloud.resources if r.type == "dizuo:cloud:SystemTenant"]
    assert tenants
    by_name = {r.name: r for r in cloud.resources}
    for tenant in tenants:
        for kept in ("quota", "limits", "default-deny"):
            assert by_name[f"{tenant.name}-{kept}"].retain_on_delete, f"{tenant.name}-{kept} deleted on retirement"
        for opening in ("declared-flows", "admins", "viewers", "sysadmin-workloads", "registry"):
            assert not by_name[f"{tenant.name}-{opening}"].retain_on_delete, f"{tenant.name}-{opening} kept"


def _without_a_leaf_system(systems: dict[str, Any]) -> None:
    """hs-01 retired: no system depends on it and no dataset comes from it."""
    systems["systems"] = [s for s in systems["systems"] if s["code"] != "hs-01"]


def test_released_adopts_a_retired_system_s_namespace_under_its_new_component(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retired system declared again: the cloud stack kept its namespace with its quota, LimitRange and default-deny,
    and its SystemTenant component is new to the stack, so the import document creates that component empty (as
    `pulumi import` does for "component": true) and adopts those objects under it, the types printed as they are (no
    emoji for ':cloud:'); the declared flows and bindings, deleted on retirement, are created anew."""
    deployed = city_copy(tmp_path / "deployed", {"systems.yaml": _without_a_leaf_system})
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*RELEASED, str(deployed), str(YULIN), "--backend", f"file://{tmp_path / 's'}"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    gets, document = _adoption(lines)
    assert gets == {
        "namespace/hs-01 --context yl-gov",
        "resourcequota/quota -n hs-01 --context yl-gov",
        "limitrange/limits -n hs-01 --context yl-gov",
        "networkpolicy/default-deny -n hs-01 --context yl-gov",
    }, result.stdout
    component, *adopted = document["resources"]
    assert component == {"type": "dizuo:cloud:SystemTenant", "name": "yl-hs-01", "component": True}
    by_id = {r["id"]: r for r in adopted}
    assert set(by_id) == {"hs-01", "hs-01/quota", "hs-01/limits", "hs-01/default-deny"}
    for r in adopted:
        assert r["parent"] == "yl-hs-01", r
        assert document["nameTable"][r["provider"]].endswith("::pulumi:providers:kubernetes::cloud-yl-gov"), r
