"""What every committed Grafana dashboard must be, checked the same way for each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def check_dashboard(path: Path, uid: str, variables: set[str]) -> dict[str, Any]:
    """The dashboard parses, has ``uid``, unique panel ids, every panel a query of the chosen Prometheus and a
    description, and the template ``variables`` (``datasource`` among them); returns it."""
    dashboard: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert dashboard["uid"] == uid
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", f"panel {panel['title']!r} hard-codes a datasource"
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        assert panel.get("description"), f"panel {panel['title']!r} says nothing about what it shows"
    assert variables <= {v["name"] for v in dashboard["templating"]["list"]}
    return dashboard
