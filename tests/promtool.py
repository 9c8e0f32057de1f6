"""promtool's rule unit tests, run from tests: the harness the alert rules' and the selectors' tests share."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml


def assert_promtool_passes(tmp_path: Path, case: dict[str, Any]) -> None:
    """`promtool test rules` passes the unit test file ``case``, written in ``tmp_path``."""
    (tmp_path / "case.yaml").write_text(yaml.safe_dump(case))
    done = subprocess.run(
        ["promtool", "test", "rules", str(tmp_path / "case.yaml")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
