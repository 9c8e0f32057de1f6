"""The files an ops team installs next to Prometheus: the exporter's systemd unit and the scrape snippet."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "monitoring" / "deploy"
DIZUO = Path(sys.executable).with_name("dizuo")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    """With its install paths pointed at this checkout, systemd accepts the unit: syntax, sandboxing options and
    an executable ExecStart; the command line it runs is one `dizuo capacity serve` accepts."""
    text = (DEPLOY / "dizuo-capacity.service").read_text(encoding="utf-8")
    unit = tmp_path / "dizuo-capacity.service"
    unit.write_text(text.replace("/opt/dizuo/.venv/bin/dizuo", str(DIZUO)).replace("/opt/dizuo", str(ROOT)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", f"systemd warns about the unit: {done.stderr}"
    exec_start = next(
        line for line in unit.read_text().replace("\\\n", " ").splitlines() if line.startswith("ExecStart=")
    )
    command = exec_start.removeprefix("ExecStart=").split()
    assert command[1:3] == ["capacity", "serve"]
    for option in ("--listen", "--declaration", "--config"):
        assert option in command, f"{option} missing from {command}"
    # The URL comes from the environment, so the commented EnvironmentFile (a root-only file for a URL with a
    # password) can override it: a --prometheus-url on the command line would win over both.
    assert "--prometheus-url" not in command, command
    # systemd.exec(5): settings from an EnvironmentFile= override Environment=, wherever each stands in the unit.
    lines = unit.read_text().splitlines()
    assert "Environment=DIZUO_PROMETHEUS_URL=http://127.0.0.1:9090" in lines
    assert "#EnvironmentFile=/etc/dizuo/capacity.env" in lines
    config = Path(command[command.index("--config") + 1])
    declaration = Path(command[command.index("--declaration") + 1])
    assert config == ROOT / "monitoring" / "capacity-sources.yaml"
    assert (declaration / "city.yaml").exists()


def test_scrape_snippet_is_a_valid_prometheus_config_with_the_alerts(tmp_path: Path) -> None:
    """The snippet merged into a prometheus.yml passes `promtool check config`, which also checks the rules it
    loads: both of dizuo's rule files, the capacity alerts and the security alerts README says to load next to them
    (merging the snippet alone must not leave the hosts' malware and integrity alerts out); its job name is the one
    the exporter-down alert watches."""
    snippet = yaml.safe_load((DEPLOY / "prometheus-scrape.yaml").read_text(encoding="utf-8"))
    copies = {"dizuo-capacity-alerts.yaml": "alerts.yaml", "dizuo-security-alerts.yaml": "security-alerts.yaml"}
    assert sorted(Path(rules).name for rules in snippet["rule_files"]) == sorted(copies), snippet["rule_files"]
    for copy, original in copies.items():
        shutil.copy(ROOT / "monitoring" / original, tmp_path / copy)
    snippet["rule_files"] = [str(tmp_path / Path(rules).name) for rules in snippet["rule_files"]]
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1m"}, **snippet}))
    done = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    job = yaml.safe_load((ROOT / "monitoring" / "alerts-config.yaml").read_text(encoding="utf-8"))["exporter_job"]
    assert [c["job_name"] for c in snippet["scrape_configs"]] == [job]
