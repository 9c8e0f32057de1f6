"""The 等保 level-3 control catalogue: completeness, consistency, and located errors on bad data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dizuo.baseline.catalogue import (
    CATALOGUE_FILE,
    CatalogueError,
    CheckKind,
    Family,
    Scope,
    load,
    packaged,
    parse,
)

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "dizuo" / "baseline" / CATALOGUE_FILE

# Issue 3 §1: every host control the baseline must cover, by the id that carries it.
REQUIRED_HOST_CONTROLS = {
    "DZ-IA-01": "unique accounts",
    "DZ-IA-02": "no empty passwords",
    "DZ-IA-03": "password complexity",
    "DZ-IA-04": "password maximum age",
    "DZ-IA-05": "login-failure lock-out and unlock time",
    "DZ-IA-06": "idle session timeout",
    "DZ-IA-07": "remote management only over SSH",
    "DZ-IA-08": "SSH hardened",
    "DZ-AC-01": "default accounts locked",
    "DZ-AC-02": "least privilege",
    "DZ-AC-03": "三权分立",
    "DZ-AC-04": "su limited",
    "DZ-AC-05": "umask",
    "DZ-AC-06": "key-file permissions",
    "DZ-AU-01": "auditd running",
    "DZ-AU-02": "audit rules for identity, privilege, key files",
    "DZ-AU-03": "logs to a central log host",
    "DZ-AU-04": "audit logs protected",
    "DZ-AU-05": "retention ≥ 180 days",
    "DZ-IP-01": "minimal services",
    "DZ-IP-02": "listening-port allow-list",
    "DZ-IP-03": "management access restricted by address",
    "DZ-IP-04": "sysctl network hardening",
    "DZ-IP-05": "patch status reported",
    "DZ-MC-01": "AIDE initialised",
    "DZ-MC-02": "AIDE scheduled check",
    "DZ-DB-01": "backup job declared and fresh",
    "DZ-RI-01": "temp areas cleared",
}


def _document() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def test_every_required_host_control_is_catalogued() -> None:
    """Each host control of issue 3 has an entry with clause, remediation, checks and evidence."""
    catalogue = packaged()
    ids = {c.id for c in catalogue.controls}
    missing = {cid: what for cid, what in REQUIRED_HOST_CONTROLS.items() if cid not in ids}
    assert not missing, f"controls missing from the catalogue: {missing}"
    for cid in REQUIRED_HOST_CONTROLS:
        control = catalogue.control(cid)
        assert control.scope is Scope.HOST, f"{cid} is scoped {control.scope}, not host"
        assert control.clause.startswith("8.1.4."), f"{cid} cites {control.clause}, not 安全计算环境 8.1.4"
        assert control.checks, f"{cid} has no check"
        assert control.evidence, f"{cid} names no evidence"


def test_every_family_is_covered() -> None:
    """The catalogue speaks for all seven families of 安全计算环境 it claims."""
    assert {c.family for c in packaged().controls} == set(Family)


def test_the_id_prefix_matches_the_clause_family() -> None:
    """An id's family agrees with its clause (IA -> 8.1.4.1, AC -> 8.1.4.2 or the boundary's 8.1.3.2, ...)."""
    clause_of = {
        Family.IA: ("8.1.4.1 ",),
        Family.AC: ("8.1.4.2 ", "8.1.3.2 "),
        Family.AU: ("8.1.4.3 ",),
        Family.IP: ("8.1.4.4 ",),
    }
    for control in packaged().controls:
        expected = clause_of.get(control.family)
        if expected:
            assert control.clause.startswith(expected), f"{control.id} cites {control.clause}"


def test_every_check_resolves_with_the_defaults() -> None:
    """Every ${param} of every check has a value, so the audit can run on catalogue defaults alone."""
    catalogue = packaged()
    defaults = catalogue.defaults()
    for control in catalogue.controls:
        for check in control.checks:
            text = repr(check.resolved_args(defaults))
            assert "${" not in text, f"{control.id} {check.kind.value} keeps a reference: {text}"


def test_whole_string_references_keep_their_type() -> None:
    """A list parameter referenced alone stays a list; inside text it becomes text."""
    catalogue = packaged()
    defaults = catalogue.defaults()
    absent = catalogue.control("DZ-IA-07").checks[0].resolved_args(defaults)
    assert absent["names"] == defaults["insecure_remote_packages"]
    backup = catalogue.control("DZ-DB-01").checks[1].resolved_args(defaults)
    assert backup == {"path": "/var/backups/dizuo/*.tar.gz", "max_age_hours": 26}


def test_auditd_is_marked_not_verifiable_in_a_container() -> None:
    """The audit can say *why* auditd is not verified in a container instead of passing it."""
    control = packaged().control("DZ-AU-01")
    assert control.container.verifiable is False
    assert control.container.reason
    assert "container" in control.container.reason


def test_log_retention_cannot_go_below_the_legal_floor() -> None:
    """Cybersecurity Law art. 21: the retention parameter defaults to and never drops below 180 days."""
    retention = packaged().parameters()["log_retention_days"]
    assert retention.default == 180
    assert retention.problem_with(179) == "must be ≥ 180"
    assert retention.problem_with(365) is None


def test_every_parameter_explains_its_default() -> None:
    """Each default carries a rationale and is a valid value of its own parameter."""
    for name, param in packaged().parameters().items():
        assert len(param.rationale) >= 10, f"parameter {name} has no rationale"
        assert param.problem_with(param.default) is None, f"default of {name} is invalid"
        assert param.variable == f"baseline_{name}"


def test_check_kinds_are_documented() -> None:
    """Every check kind tells the audit implementer its arguments."""
    source = Path(__file__).resolve().parents[2] / "src" / "dizuo" / "baseline" / "catalogue.py"
    text = source.read_text(encoding="utf-8")
    for kind in CheckKind:
        assert re.search(rf'{kind.name} = "{kind.value}"[^\n]*\n    """.+?Args', text, re.S), (
            f"{kind.value} undocumented"
        )


def test_unknown_parameter_reference_is_named() -> None:
    """A check that references a parameter no control defines is refused, naming the control."""
    document = _document()
    document["controls"][0]["checks"][0]["args"] = {"x": "${no_such_param}"}
    with pytest.raises(CatalogueError) as caught:
        parse(yaml.safe_dump(document, allow_unicode=True), "bad.yaml")
    assert "DZ-IA-01" in str(caught.value)
    assert "no_such_param" in str(caught.value)


def test_bad_value_is_located_by_file_key_and_value() -> None:
    """A typo'd scope is reported with the file, the key path and the bad value."""
    document = _document()
    document["controls"][2]["scope"] = "hots"
    with pytest.raises(CatalogueError) as caught:
        parse(yaml.safe_dump(document, allow_unicode=True), "bad.yaml")
    problem = caught.value.problems[0]
    assert (problem.file, problem.path) == ("bad.yaml", "controls[2].scope")
    assert "'hots'" in problem.message


def test_default_outside_its_bounds_is_refused() -> None:
    """A default that breaks its own minimum never loads (the role would enforce an illegal value)."""
    document = _document()
    control = next(c for c in document["controls"] if c["id"] == "DZ-AU-05")
    control["parameters"][0]["default"] = 90
    with pytest.raises(CatalogueError, match="log_retention_days: must be ≥ 180"):
        parse(yaml.safe_dump(document, allow_unicode=True), "bad.yaml")


def test_duplicate_ids_and_parameters_are_refused() -> None:
    """Ids and parameter names are unique: they become audit test ids and Ansible variables."""
    document = _document()
    document["controls"].append(document["controls"][3])
    with pytest.raises(CatalogueError) as caught:
        parse(yaml.safe_dump(document, allow_unicode=True), "bad.yaml")
    assert "DZ-IA-04: duplicate control id" in str(caught.value)
    assert "parameter password_max_days is already defined by DZ-IA-04" in str(caught.value)


def test_invalid_yaml_is_a_catalogue_error(tmp_path: Path) -> None:
    """Broken YAML raises CatalogueError with the file name, never a raw parser traceback."""
    broken = tmp_path / "catalogue.yaml"
    broken.write_text("controls: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=str(broken)):
        load(broken)


def test_a_format_that_does_not_fit_the_type_is_refused() -> None:
    """A named rule only applies where it means something: ports to ints, networks and calendars to strings."""
    document = _document()
    control = next(c for c in document["controls"] if c["id"] == "DZ-IP-03")
    control["parameters"][0]["format"] = "port"
    with pytest.raises(CatalogueError, match="mgmt_allowed_sources: format port does not apply to a str_list"):
        parse(yaml.safe_dump(document, allow_unicode=True), "bad.yaml")


def test_a_default_that_breaks_its_format_is_refused() -> None:
    """A default port list the role could not open never loads."""
    document = _document()
    control = next(c for c in document["controls"] if c["id"] == "DZ-IP-02")
    control["parameters"][0]["default"] = [22, 0]
    with pytest.raises(CatalogueError, match="default of listen_tcp_allowed: 0: must be a port number, 1-65535"):
        parse(yaml.safe_dump(document, allow_unicode=True), "bad.yaml")


@pytest.mark.parametrize(
    ("tag", "says"),
    [(["pam", "pam"], "a list of tags names each tag once"), ([], "a list of tags names each tag once"), (["Pam"], "")],
)
def test_a_bad_list_of_remediation_tags_is_located(tag: list[str], says: str) -> None:
    """A control's tags may be a list; an empty one, a repeated tag or a bad name is refused with where it is."""
    document = _document()
    document["controls"][1]["remediation"]["tag"] = tag
    with pytest.raises(CatalogueError) as caught:
        parse(yaml.safe_dump(document, allow_unicode=True), "bad.yaml")
    problem = caught.value.problems[0]
    assert (problem.file, problem.path.split(".tag")[0]) == ("bad.yaml", "controls[1].remediation"), problem
    assert says in problem.message
