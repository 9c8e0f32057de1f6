"""Baseline parameters of a city: defaults, declaration-derived values, city and zone overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from dizuo.baseline.catalogue import packaged
from dizuo.baseline.params import host_vars, resolve
from dizuo.declaration import Declaration, DeclarationError, load

YULIN = Path(__file__).resolve().parents[2] / "inventories" / "yulin"


@pytest.fixture(scope="module")
def yulin() -> Declaration:
    return load(YULIN)


def _with_baseline(declaration: Declaration, baseline: dict) -> Declaration:
    city = declaration.city.model_copy(update={"baseline": baseline})
    return declaration.model_copy(update={"city": city})


def test_defaults_apply_when_the_city_overrides_nothing(yulin: Declaration) -> None:
    """Without overrides every parameter has its catalogue default (empty ones excepted)."""
    params = resolve(_with_baseline(yulin, {}))
    for name, default in packaged().defaults().items():
        if default not in ("", []):
            assert params.city[name] == default, f"{name} differs from its catalogue default"


def test_empty_defaults_are_derived_from_the_declaration(yulin: Declaration) -> None:
    """Management CIDRs, the log host and the automation account come from the declaration itself."""
    params = resolve(_with_baseline(yulin, {}))
    assert params.city["mgmt_allowed_sources"] == ["10.64.0.0/16"]
    assert params.city["log_server"] == "10.64.1.20", "the first loghost (yl-log-01) receives the logs"
    assert params.city["automation_account"] == "dzadmin"


def test_zone_override_beats_city_override_beats_default(yulin: Declaration) -> None:
    """A zone value applies to that zone's hosts only; the city value to all others."""
    declaration = _with_baseline(
        yulin, {"session_timeout_seconds": 300, "zones": {"extranet": {"session_timeout_seconds": 120}}}
    )
    params = resolve(declaration)
    assert params.for_zone("extranet")["session_timeout_seconds"] == 120
    assert params.for_zone("management")["session_timeout_seconds"] == 300
    variables = host_vars(declaration, params)
    assert variables["yl-db-dm-01"]["baseline_session_timeout_seconds"] == 120, "yl-db-dm-01 is in extranet"
    assert variables["yl-log-01"]["baseline_session_timeout_seconds"] == 300, "yl-log-01 is in management"


@pytest.mark.parametrize(
    ("baseline", "path", "message"),
    [
        ({"log_retention_days": 90}, "baseline.log_retention_days", "must be ≥ 180 (DZ-AU-05): '90'"),
        ({"passwd_max_days": 90}, "baseline.passwd_max_days", "unknown baseline parameter"),
        ({"umask": "022"}, "baseline.umask", "must be one of 027, 077 (DZ-AC-05): '022'"),
        ({"ssh_ciphers": "aes256-ctr"}, "baseline.ssh_ciphers", "must be of type str_list"),
        ({"zones": {"moon": {"umask": "077"}}}, "baseline.zones.moon", "unknown zone"),
        (
            {"zones": {"extranet": {"password_max_days": 365}}},
            "baseline.zones.extranet.password_max_days",
            "must be ≤ 180 (DZ-IA-04): '365'",
        ),
    ],
)
def test_bad_override_names_file_key_and_value(yulin: Declaration, baseline: dict, path: str, message: str) -> None:
    """A bad override is refused with city.yaml, its key path, the rule it breaks and the value."""
    with pytest.raises(DeclarationError) as caught:
        resolve(_with_baseline(yulin, baseline), source="inventories/yulin/city.yaml")
    problem = caught.value.problems[0]
    assert problem.file == "inventories/yulin/city.yaml"
    assert problem.path == path
    assert message in problem.message
