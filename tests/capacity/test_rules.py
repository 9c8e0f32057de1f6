"""Alert rules: capacity generated from one config and committed, security hand-written (monitoring/
security-alerts.yaml); all promtool-checked, unit-tested and linked to the runbook."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from typer.testing import CliRunner

from dizuo.capacity.config_files import ConfigError
from dizuo.capacity.rules import load_alert_config, render, rules
from dizuo.cli import app
from dizuo.exit_codes import BAD_INPUT, FAILED

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
CONFIG = MONITORING / "alerts-config.yaml"
ALERTS = MONITORING / "alerts.yaml"
RULE_FILES = (ALERTS, MONITORING / "security-alerts.yaml")
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool (Debian package prometheus) is not installed")


def alert_rules() -> list[dict]:
    groups = [g for path in RULE_FILES for g in yaml.safe_load(path.read_text())["groups"]]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def test_committed_rules_are_what_the_config_generates():
    """monitoring/alerts.yaml is exactly the output of the generator on monitoring/alerts-config.yaml."""
    expected = render(load_alert_config(CONFIG))
    assert ALERTS.read_text() == expected, (
        "monitoring/alerts.yaml is out of date: run `dizuo capacity rules` and commit the result"
    )


@needs_promtool
def test_promtool_accepts_the_rules():
    """promtool check rules passes on the committed rule files."""
    command = [PROMTOOL, "check", "rules", *map(str, RULE_FILES)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_rule_unit_tests_pass():
    """Every promtool test case under monitoring/tests passes (for: windows, labels, annotations)."""
    cases = sorted(str(p.relative_to(ROOT)) for p in (MONITORING / "tests").glob("*.yaml"))
    assert cases, "no promtool test cases under monitoring/tests"
    done = subprocess.run([PROMTOOL, "test", "rules", *cases], capture_output=True, text=True, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_links_into_the_runbook_page_the_city_serves_itself():
    """The city runs air-gapped: every alert, capacity and security, links to the one runbook page alerts-config.yaml
    names, on a private address of the city's network (not github.com, which a paged engineer cannot open), at its
    own section, an anchor monitoring/runbook.html has (that the page is up to date with runbook.md is
    `dizuo capacity rules --check`'s, tested below)."""
    page = (MONITORING / "runbook.html").read_text(encoding="utf-8")
    base = load_alert_config(CONFIG).runbook_url
    assert _private(urlsplit(base).hostname or ""), f"runbook_url {base} is not on the city's own network"
    ids = set(re.findall(r'<h[1-6] id="([^"]+)"', page))
    for rule in alert_rules():
        url, _, section = rule["annotations"]["runbook_url"].partition("#")
        assert url == base, f"{rule['alert']}: runbook_url {url} is not the page of alerts-config.yaml, {base}"
        assert section == rule["alert"].lower(), f"{rule['alert']}: runbook_url #{section} is not its own section"
        assert section in ids, f"{rule['alert']}: monitoring/runbook.html has no anchor #{section}"


def _private(host: str) -> bool:
    """Whether ``host`` is an address of a private network (a name, such as github.com, is none)."""
    try:
        return ipaddress.ip_address(host).is_private
    except ValueError:
        return False


def test_rules_make_the_runbook_page_check_it_and_never_replace_a_page_of_someone_else(tmp_path):
    """`dizuo capacity rules` makes runbook.html of the runbook.md beside the rule file, `--check` fails naming the
    page once runbook.md changed, and a runbook.html it did not write is refused before anything is written."""
    shutil.copy(CONFIG, tmp_path / "alerts-config.yaml")
    runbook = tmp_path / "runbook.md"
    runbook.write_text("# Runbook\n\n## DizuoStorageUsageCritical\n\nFree space.\n", encoding="utf-8")
    command = ["capacity", "rules", "--config", str(tmp_path / "alerts-config.yaml")]
    command += ["--output", str(tmp_path / "alerts.yaml")]
    assert CliRunner().invoke(app, command).exit_code == 0
    page = tmp_path / "runbook.html"
    assert '<h2 id="dizuostorageusagecritical">' in page.read_text(encoding="utf-8")
    runbook.write_text(runbook.read_text(encoding="utf-8") + "\nCall sjj.\n", encoding="utf-8")
    checked = CliRunner().invoke(app, [*command, "--check"], env={"COLUMNS": "400"})
    assert checked.exit_code == FAILED, checked.output
    assert f"{page} is not what {runbook} makes" in checked.output, checked.output
    (tmp_path / "alerts.yaml").unlink()
    page.write_text("<p>our own page</p>\n", encoding="utf-8")
    refused = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert refused.exit_code == BAD_INPUT, refused.output
    assert f"{page}: is not a runbook page this command wrote" in refused.output, refused.output
    assert page.read_text(encoding="utf-8") == "<p>our own page</p>\n"
    assert not (tmp_path / "alerts.yaml").exists(), "the rule file was written before the refusal"


def _runbook_commands() -> list[str]:
    """Every `dizuo ...` command of the runbook, in code blocks and inline (joined where a line break splits one)."""
    text = (MONITORING / "runbook.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
    inline = re.findall(r"`([^`]+)`", re.sub(r"```.*?```", "", text, flags=re.DOTALL))
    commands = [line.strip() for block in blocks for line in block.splitlines()]
    commands += [" ".join(span.split()) for span in inline]
    return [c for c in commands if c.startswith("dizuo ")]


def test_every_dizuo_command_in_the_runbook_runs_as_pasted():
    """Each command of the runbook parses as `dizuo` reads it: no required option missing, none unknown, no
    <placeholder> a shell would take for a redirection."""
    root = typer.main.get_command(app)
    commands = _runbook_commands()
    assert any(c.startswith("dizuo harden ") for c in commands), f"the runbook's commands were not found: {commands}"
    problems = []
    for line in commands:
        if set("<>") & set(line):
            problems.append(f"`{line}`: a shell reads <...> as a redirection; write a placeholder such as HOST")
            continue
        tokens, command, path = shlex.split(line)[1:], root, ["dizuo"]
        while tokens and isinstance(command, typer.core.TyperGroup):
            command, path = command.get_command(None, tokens[0]), [*path, tokens.pop(0)]
        if command is None:
            problems.append(f"`{line}`: no command '{' '.join(path)}'")
        elif tokens:  # a bare `dizuo harden` in a sentence names the command; it is not one to paste
            try:
                command.make_context(" ".join(path), tokens)
            except typer.exceptions.TyperException as exc:  # click's usage errors, from the click typer carries
                problems.append(f"`{line}`: {exc.format_message()}")
    assert not problems, "monitoring/runbook.md:\n" + "\n".join(problems)


def test_alerts_follow_the_house_conventions():
    """Names read Dizuo<Component><Symptom>; severity is set; summary static, description templated."""
    for rule in alert_rules():
        name = rule["alert"]
        assert re.fullmatch(r"Dizuo[A-Z][A-Za-z]+", name), name
        assert rule["labels"]["severity"] in {"warning", "critical"}, f"{name}: severity"
        assert "{{" not in rule["annotations"]["summary"], f"{name}: summary must be static"
        assert "{{" in rule["annotations"]["description"], f"{name}: description must be templated"
        assert rule.get("for"), f"{name}: an alert without for: fires on one evaluation"


def test_forecast_alerts_come_as_a_warning_critical_pair():
    """The forecast has a warning and a critical alert on one metric, critical with the shorter window."""
    forecast = {r["labels"]["severity"]: r for r in alert_rules() if "exhaustion_timestamp" in r["expr"]}
    assert set(forecast) == {"warning", "critical"}, f"severities on the forecast: {sorted(forecast)}"
    within = {s: int(r["expr"].rpartition("<")[2]) for s, r in forecast.items()}
    assert within["critical"] < within["warning"], within


def test_bad_alert_config_names_file_key_and_value(tmp_path):
    """A bad duration or ratio in the alert config is reported with file, key path and value."""
    text = CONFIG.read_text().replace("within: 48h", "within: two days").replace("ratio: 0.95", "ratio: 95")
    path = tmp_path / "alerts-config.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_alert_config(path)
    message = str(caught.value)
    assert f"{path}: forecast.critical.within: " in message, message
    assert "'two days'" in message, message
    assert f"{path}: usage_critical.ratio: " in message, message


def test_a_critical_window_longer_than_the_warning_is_refused(tmp_path):
    """A critical alert that fired at a longer lead than its warning would page first: a located error."""
    path = tmp_path / "alerts-config.yaml"
    path.write_text(CONFIG.read_text().replace("within: 48h", "within: 30d"))
    with pytest.raises(ConfigError) as caught:
        load_alert_config(path)
    assert str(caught.value) == (
        f"{path}: forecast.critical.within: must be shorter than forecast.warning.within (7d): "
        "critical pages for the nearer fills: '30d'"
    )


def promtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    return promtool("check", "rules", path)


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PROMTOOL), *map(str, args)], capture_output=True, text=True, check=False)


@needs_promtool
@pytest.mark.parametrize("hold", ["30m1h", "15m15m", "1.5h", "30 m", "293y", "106752d", "9223372036855ms"])
def test_a_duration_prometheus_refuses_is_refused_at_its_key(tmp_path, hold):
    """A `for:` Prometheus' duration grammar refuses (units largest first, each once), or one longer than its int64
    nanoseconds hold (some 292 years), is a located error from `dizuo capacity rules`, not a rule file Prometheus will
    not load: promtool refuses the same text."""
    bare = tmp_path / "bare.yaml"
    bare.write_text(yaml.safe_dump({"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "up", "for": hold}]}]}))
    assert promtool_check(bare).returncode != 0, f"promtool accepts for: {hold}"
    config = tmp_path / "alerts-config.yaml"
    config.write_text(CONFIG.read_text().replace("    for: 30m\n", f"    for: {hold}\n", 1))
    output = tmp_path / "alerts.yaml"
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", str(config), "--output", str(output)])
    assert result.exit_code == 2, result.output
    assert f"{config}: forecast.critical.for: " in " ".join(result.output.split()), result.output
    assert f"'{hold}'" in result.output, result.output
    assert not output.exists(), "nothing is written"


@needs_promtool
def test_durations_and_job_in_prometheus_grammar_make_a_rule_file_promtool_accepts(tmp_path):
    """Combined units in Prometheus' order (1h30m, 1d12h), the longest duration Prometheus holds, and a job name with
    the characters scrape jobs use give a rule file promtool accepts, holding them as written."""
    config = tmp_path / "alerts-config.yaml"
    text = CONFIG.read_text().replace("    for: 30m\n", "    for: 1h30m\n", 1).replace("for: 1d\n", "for: 1d12h\n")
    text = text.replace("series_gap: 15m\n", "series_gap: 106751d23h47m16s854ms\n")
    config.write_text(text.replace("exporter_job: dizuo-capacity", "exporter_job: monitoring/dizuo-capacity:9782"))
    output = tmp_path / "alerts.yaml"
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", str(config), "--output", str(output)])
    assert result.exit_code == 0, result.output
    done = promtool_check(output)
    assert done.returncode == 0, done.stdout + done.stderr
    written = yaml.safe_load(output.read_text())["groups"][0]["rules"]
    assert {r["for"] for r in written} >= {"1h30m", "1d12h"}
    down = next(r for r in written if r["alert"] == "DizuoCapacityExporterDown")
    assert 'up{job="monitoring/dizuo-capacity:9782"}' in down["expr"]


@needs_promtool
@pytest.mark.parametrize(
    ("ratio", "shown", "used", "full"),
    [
        ("0.995", "99.5%", 99970, "99.97%"),
        ("0.9", "90%", 99970, "99.97%"),
        ("0.9995", "99.95%", 99970, "99.97%"),
        ("0.9999995", "99.99995%", 99999.96, "100%"),
    ],
)
def test_the_usage_summary_shows_the_threshold_unrounded(tmp_path, ratio, shown, used, full):
    """DizuoStorageUsageCritical's summary states the configured ratio as written: 0.995 is "more than 99.5% full",
    not a rounded "more than 100%" on a volume that is not full; and the expression compares with that ratio, not one
    rounded to 6 digits (0.9999995 as 1: it fired on over-full volumes only). Checked on the alert promtool
    evaluates."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text(CONFIG.read_text().replace("ratio: 0.95\n", f"ratio: {ratio}\n"))
    output = tmp_path / "alerts.yaml"
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", str(config), "--output", str(output)])
    assert result.exit_code == 0, result.output
    volume = 'job="dizuo-capacity",instance="127.0.0.1:9782",kind="pvc",volume="ns/data"'
    case = {
        "rule_files": [str(output)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": f"dizuo_storage_used_bytes{{{volume}}}", "values": f"{used}x30"},
                    {"series": f"dizuo_storage_capacity_bytes{{{volume}}}", "values": "100000x30"},
                ],
                "alert_rule_test": [
                    {
                        "eval_time": "20m",
                        "alertname": "DizuoStorageUsageCritical",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "critical",
                                    "job": "dizuo-capacity",
                                    "kind": "pvc",
                                    "volume": "ns/data",
                                },
                                "exp_annotations": {
                                    "summary": f"A volume is more than {shown} full.",
                                    "description": "pvc ns/data (no department in the declaration, pool unknown) is"
                                    f" {full} full.",
                                    "runbook_url": "http://10.64.1.30/dizuo/runbook.html#dizuostorageusagecritical",
                                },
                            }
                        ],
                    }
                ],
            }
        ],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    done = promtool("test", "rules", tmp_path / "case.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("job", ['dizuo"capacity', "dizuo capacity", "{{ .Value }}", ""])
def test_an_exporter_job_that_would_break_the_rule_file_is_refused_at_its_key(tmp_path, job):
    """exporter_job is pasted into PromQL and annotation templates: a quote, a space, template braces or nothing is a
    located error, not a broken rule file."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text(CONFIG.read_text().replace("exporter_job: dizuo-capacity", f"exporter_job: '{job}'"))
    with pytest.raises(ConfigError) as caught:
        load_alert_config(config)
    assert f"{config}: exporter_job: " in str(caught.value)
    assert repr(job) in str(caught.value) or f"'{job}'" in str(caught.value), str(caught.value)


@pytest.mark.parametrize("label", ["volume", "kind", "department", "dataset", "job", "__address__", "pod-name"])
def test_a_replica_label_that_would_merge_volumes_is_refused_at_its_key(tmp_path, label):
    """replica_labels are aggregated away in the volume alerts: one of the exporter's own labels (two volumes or
    datasets would become one alert), job, or no label name at all is a located error naming the value."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text(
        CONFIG.read_text().replace("replica_labels: [instance, pod]", f"replica_labels: [pod, '{label}']")
    )
    with pytest.raises(ConfigError) as caught:
        load_alert_config(config)
    assert f"{config}: replica_labels[1]: " in str(caught.value), str(caught.value)
    assert repr(label) in str(caught.value), str(caught.value)


def test_no_replica_labels_keep_the_instance_on_every_alert(tmp_path):
    """replica_labels: [] (one exporter) aggregates nothing away: the volume alerts keep `instance`, as before."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text(CONFIG.read_text().replace("replica_labels: [instance, pod]", "replica_labels: []"))
    exprs = [r["expr"] for r in rules(load_alert_config(config))["groups"][0]["rules"]]
    assert all("without" not in e and "unless on (job" not in e for e in exprs), exprs


@needs_promtool
def test_an_alert_on_one_replica_names_it_by_the_city_s_replica_label(tmp_path):
    """Two exporter replicas behind one address, told apart by the city's own label (`replica`): the one whose runs
    fail is named in DizuoCapacityForecastStale by that label beside its address, not by the address both share.
    Evaluated by promtool on the rules `dizuo capacity rules` generates from that config."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text(CONFIG.read_text().replace("replica_labels: [instance, pod]", "replica_labels: [replica]"))
    output = tmp_path / "alerts.yaml"
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", str(config), "--output", str(output)])
    assert result.exit_code == 0, result.output
    target = 'job="dizuo-capacity",instance="10.61.0.10:9782",replica="%s"'
    series = [
        {"series": f"dizuo_capacity_forecast_stale{{{target % replica}}}", "values": f"{stale}x40"}
        for replica, stale in (("a", 1), ("b", 0))
    ]
    stale = {
        "eval_time": "35m",
        "alertname": "DizuoCapacityForecastStale",
        "exp_alerts": [
            {
                "exp_labels": {
                    "severity": "warning",
                    "job": "dizuo-capacity",
                    "instance": "10.61.0.10:9782",
                    "replica": "a",
                },
                "exp_annotations": {
                    "summary": "Capacity forecasts are stale: forecast alerts rest on old data.",
                    "description": "The capacity exporter 10.61.0.10:9782 (replica a) has not completed a forecast run"
                    " for more than 30m; it serves its last good forecast.",
                    "runbook_url": "http://10.64.1.30/dizuo/runbook.html#dizuocapacityforecaststale",
                },
            }
        ],
    }
    case = {
        "rule_files": [str(output)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": [stale]}],
    }
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    done = promtool("test", "rules", tmp_path / "case.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "url",
    [
        "https://wiki.example/{{ runbook",  # a template Prometheus refuses the rule file for
        "https://wiki.example/ops#capacity",  # every alert's link would end #capacity#<alert>
        "https://wiki.example/run book.md",
        "ftp://wiki.example/runbook.md",
    ],
)
def test_a_runbook_url_that_would_break_the_links_or_the_rule_file_is_refused_at_its_key(tmp_path, url):
    """runbook_url is the start of each alert's link, `#<alert>` appended: template braces (a rule file Prometheus will
    not load), a fragment of its own (every link to the wrong anchor), a space or another scheme is a located error
    from `dizuo capacity rules`, which writes nothing."""
    config = tmp_path / "alerts-config.yaml"
    text = CONFIG.read_text()
    config.write_text(re.sub(r"(?m)^runbook_url: .*$", f"runbook_url: '{url}'", text))
    output = tmp_path / "alerts.yaml"
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", str(config), "--output", str(output)])
    assert result.exit_code == 2, result.output
    assert f"{config}: runbook_url: must be an http(s) URL without a #fragment" in " ".join(result.output.split())
    assert f"'{url}'" in result.output, result.output
    assert not output.exists(), "nothing is written"


@pytest.mark.parametrize("severity", ["warning", "critical"])
def test_a_forecast_window_beyond_the_horizon_is_refused(tmp_path, severity):
    """The exporter exports no exhaustion date beyond its 30-day horizon: an alert window longer than that could
    never fire, and is a located error."""
    config = tmp_path / "alerts-config.yaml"
    within = {"warning": "45d", "critical": "5w"}[severity]
    config.write_text(
        CONFIG.read_text().replace({"warning": "within: 7d", "critical": "within: 48h"}[severity], f"within: {within}")
    )
    with pytest.raises(ConfigError) as caught:
        load_alert_config(config)
    assert str(caught.value) == (
        f"{config}: forecast.{severity}.within: must be at most the forecast horizon, 30d (no exhaustion date "
        f"further out is exported, so the alert could never fire): '{within}'"
    )


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("folder", "--output folder: is a directory; give the path of the rule file"),
        ("notes.txt/alerts.yaml", "--output notes.txt/alerts.yaml: notes.txt is a file, not a directory"),
    ],
)
def test_rules_output_that_cannot_be_written_is_a_clear_error(tmp_path, monkeypatch, output, message):
    """An --output that is a folder, or under a file, exits 2 with the reason, never a traceback."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("mine")
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", str(CONFIG), "--output", output])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_rules_outside_the_clone_say_where_they_looked_and_what_to_do(tmp_path, monkeypatch):
    """`dizuo capacity rules` run from a folder other than the clone finds no monitoring/alerts-config.yaml there: it
    exits 2 naming the option, the folder it looked in and the way out, and writes nothing."""
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["capacity", "rules"], env={"COLUMNS": "400"})
    assert result.exit_code == 2, result.output
    looked = tmp_path.resolve() / "monitoring" / "alerts-config.yaml"
    assert result.output == (
        f"error: --config monitoring/alerts-config.yaml: no such file (looked for {looked}): run in the folder that "
        "holds monitoring/ (the clone), or pass --config and --output\n"
    ), result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("output", "held", "why"),
    [
        ("alerts-config.yaml", None, "is the alert config itself"),
        ("prometheus.yml", "global:\n  scrape_interval: 1m\n", "is not a rule file this command wrote"),
        ("node-rules.yaml", "groups:\n- name: node\n  rules: []\n", "is not a rule file this command wrote"),
        ("binary", b"\x7fELF\xd0\x00", "is not a rule file this command wrote"),
    ],
)
def test_rules_never_replace_a_file_they_did_not_write(tmp_path, output, held, why):
    """`dizuo capacity rules --output` naming the commented alert config itself, prometheus.yml, someone's own rules or
    a binary exits 2 saying so and leaves it as it was (it was replaced by the rule file, the config's explanations
    lost); `--check` on a binary says it differs (not a UnicodeDecodeError traceback)."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text(CONFIG.read_text())
    path = tmp_path / output
    if isinstance(held, bytes):
        path.write_bytes(held)
    elif held is not None:
        path.write_text(held)
    before = path.read_bytes()
    args = ["capacity", "rules", "--config", str(config), "--output", str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"--output {path}: {why}" in " ".join(result.output.split()), result.output
    assert path.read_bytes() == before, f"{output} was changed"
    checked = CliRunner().invoke(app, [*args, "--check"])
    assert checked.exit_code == FAILED, checked.output
    assert "is not what" in checked.output, checked.output


def test_rules_check_detects_a_stale_rule_file(tmp_path):
    """`dizuo capacity rules --check` exits 1 when the rule file differs, and writing fixes it atomically."""
    output = tmp_path / "alerts.yaml"
    output.write_text("# GENERATED by `dizuo capacity rules` from an older config\ngroups: []\n")
    runner = CliRunner()
    args = ["capacity", "rules", "--config", str(CONFIG), "--output", str(output)]
    checked = runner.invoke(app, [*args, "--check"])
    assert checked.exit_code == FAILED, checked.output
    written = runner.invoke(app, args)
    assert written.exit_code == 0, written.output
    assert runner.invoke(app, [*args, "--check"]).exit_code == 0
    assert list(tmp_path.iterdir()) == [output], "no temporary file is left behind"


@pytest.mark.parametrize(
    ("cwd", "config", "output"),
    [
        ("monitoring", "alerts-config.yaml", "alerts.yaml"),
        (".", "./monitoring/alerts-config.yaml", "monitoring/alerts.yaml"),
        ("/", str(CONFIG), str(ALERTS)),
        ("tests", "../monitoring/alerts-config.yaml", "../monitoring/alerts.yaml"),
    ],
)
def test_rules_check_passes_however_the_paths_are_spelled(monkeypatch, cwd, config, output):
    """`dizuo capacity rules --check` accepts the committed rule file from any folder and any spelling of the paths."""
    monkeypatch.chdir(ROOT / cwd)
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", config, "--output", output, "--check"])
    assert result.exit_code == 0, result.output


def test_written_rule_file_is_readable_by_prometheus(tmp_path):
    """Prometheus runs as its own user: under umask 022 the rule file is 0644, not a temporary file's 0600."""
    output = tmp_path / "alerts.yaml"
    previous = os.umask(0o022)
    try:
        written = CliRunner().invoke(app, ["capacity", "rules", "--config", str(CONFIG), "--output", str(output)])
    finally:
        os.umask(previous)
    assert written.exit_code == 0, written.output
    assert output.stat().st_mode & 0o777 == 0o644


def test_rules_name_a_folder_with_square_brackets_as_it_is(tmp_path):
    """A rule file under a folder named `[x]` is named whole when written, unchanged and checked: rich markup would
    read `[x]` as a tag and drop it, naming another file."""
    folder = tmp_path / "[x]" / "[/old]"  # `[/old]` alone, as markup, would stop the command with a MarkupError
    folder.mkdir(parents=True)
    config = folder / "alerts-config.yaml"
    shutil.copy(CONFIG, config)
    output = folder / "alerts.yaml"
    args = ["capacity", "rules", "--config", str(config), "--output", str(output)]
    runner = CliRunner()
    written = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert written.exit_code == 0, written.output
    assert f"wrote {output}\n" in written.output, written.output
    unchanged = runner.invoke(app, args, env={"COLUMNS": "400"})
    assert f"{output} unchanged\n" in unchanged.output, unchanged.output
    checked = runner.invoke(app, [*args, "--check"], env={"COLUMNS": "400"})
    assert checked.exit_code == 0, checked.output
    assert f"ok {output} matches {config}\n" in checked.output, checked.output


@pytest.mark.parametrize("refused", ["alerts.yaml", "dashboards/dizuo-capacity.json", "runbook.html"])
def test_a_refused_write_names_the_file_and_leaves_every_output_as_it_was(tmp_path, immutable, refused):
    """`dizuo capacity rules` (the installed command) with one of the files it writes refusing writes (immutable) exits
    1 naming that file, and leaves the rule file, the dashboard and the runbook page byte for byte as they were, with
    no temporary file beside them: never a new rule file beside an old runbook page or dashboard."""
    monitoring = tmp_path / "monitoring"
    shutil.copytree(MONITORING, monitoring, ignore=shutil.ignore_patterns("deploy", "tests"))
    config = monitoring / "alerts-config.yaml"
    command = [sys.executable, "-m", "dizuo", "capacity", "rules", "--config", str(config)]
    command += ["--output", str(monitoring / "alerts.yaml")]
    # Every output differs from what the edited config and runbook make: each of them is to be written.
    config.write_text(config.read_text().replace("replica_labels: [instance, pod]", "replica_labels: [pod]"))
    runbook = monitoring / "runbook.md"
    runbook.write_text(runbook.read_text(encoding="utf-8") + "\nCall sjj.\n", encoding="utf-8")
    outputs = [monitoring / name for name in ("alerts.yaml", "dashboards/dizuo-capacity.json", "runbook.html")]
    before = {path: path.read_bytes() for path in outputs}
    listed = sorted(monitoring.rglob("*"))
    immutable(monitoring / refused)
    env = {**os.environ, "COLUMNS": "400"}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=tmp_path)
    assert result.returncode == FAILED, result.stdout + result.stderr
    named = {"alerts.yaml": "--output ", "dashboards/dizuo-capacity.json": "--dashboard "}.get(refused, "")
    refusal = f"error: {named}{monitoring / refused}: cannot write: Operation not permitted (no file was replaced)\n"
    assert result.stderr == refusal, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    changed = [str(path.relative_to(monitoring)) for path in outputs if path.read_bytes() != before[path]]
    assert changed == [], f"written although {refused} was refused: {changed}"
    assert sorted(monitoring.rglob("*")) == listed, "a temporary file was left behind"


def test_check_says_ok_on_one_line_in_a_ci_log():
    """`dizuo capacity rules --check`, as CI runs it (a pipe, which rich prints 80 wide), says its "ok" on one line,
    naming every file it compared, so a grep of the log for it finds it whole."""
    done = subprocess.run(
        [sys.executable, "-m", "dizuo", "capacity", "rules", "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok monitoring/alerts.yaml matches monitoring/alerts-config.yaml"), done.stdout
    assert done.stdout.endswith(" monitoring/runbook.html\n"), done.stdout
    assert done.stdout.count("\n") == 1, done.stdout
