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


# What Grafana substitutes for the other variables: "All" for the choosers, a rate window for $__rate_interval.
_CHOSEN = {"$department": ".*", "$pool": ".*", "$instance": ".*", "$__rate_interval": "5m"}


def as_sent(expr: str, dashboard: dict[str, Any]) -> str:
    """``expr`` as Grafana sends it to Prometheus from ``dashboard``: its hidden constants' values in place, every
    department, pool and instance chosen."""
    constants = {f"${v['name']}": str(v["query"]) for v in dashboard["templating"]["list"] if v["type"] == "constant"}
    # Longest first: `$pool` must not eat the start of a longer name.
    for variable, value in sorted({**_CHOSEN, **constants}.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(variable, value)
    return expr
