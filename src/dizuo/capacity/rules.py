"""Prometheus alert rules for capacity, generated from one commented config.

``monitoring/alerts-config.yaml`` holds every threshold and window with the reason for it;
:func:`render` turns it into ``monitoring/alerts.yaml``. Both are committed, and a test checks
that they agree, so the YAML Prometheus loads is always the one the config explains.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from dizuo.capacity.config_files import ConfigError, load_model
from dizuo.capacity.exporter import HORIZON_SECONDS
from dizuo.capacity.prometheus_source import parse_duration
from dizuo.declaration.loader import Problem

GROUP = "dizuo-capacity"
_LABELS_OF_VOLUME = (
    "{{ $labels.kind }} {{ $labels.volume }}"
    " ({{ with $labels.department }}department {{ . }}{{ else }}no department in the declaration{{ end }},"
    " pool {{ with $labels.pool }}{{ . }}{{ else }}unknown{{ end }})"
)


_DATASET = (
    "Dataset {{ $labels.dataset }} (owner {{ with $labels.department }}{{ . }}{{ else }}unknown{{ end }},"
    " pool {{ $labels.pool }})"
)
# Appended to the dataset alerts: nothing while no exporter has a fresh forecast (with two exporters, one is enough).
_ALL_EXPORTERS_STALE = "unless on () (min(dizuo_capacity_forecast_stale) == 1)"


def _duration(value: str) -> str:
    parse_duration(value)  # Prometheus' grammar: the text goes into the rule file as written
    return value


PromDuration = Annotated[str, AfterValidator(_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Window(_Model):
    """A forecast alert: fire when the median forecast is within ``within`` for ``for``."""

    within: PromDuration
    for_: PromDuration = Field(alias="for")


class ForecastAlerts(_Model):
    """The warning/critical pair on the forecast."""

    warning: Window
    critical: Window


class UsageCritical(_Model):
    """The hard threshold on used/capacity."""

    ratio: float = Field(gt=0, le=1)
    for_: PromDuration = Field(alias="for")


class DatasetStale(_Model):
    """A data-pool dataset not written for longer than its declared refresh period, with some slack."""

    slack: float = Field(ge=0, le=10)
    for_: PromDuration = Field(alias="for")


class Hold(_Model):
    """An alert with only a ``for`` window."""

    for_: PromDuration = Field(alias="for")


class AlertConfig(_Model):
    """monitoring/alerts-config.yaml."""

    runbook_url: str = Field(pattern=r"^https?://")
    # Pasted into PromQL (`job="..."`) and into annotation templates: the characters scrape job names use, nothing
    # that would end a string or open a template.
    exporter_job: str = Field(pattern=r"^[A-Za-z0-9_.:/-]+$")
    forecast: ForecastAlerts
    usage_critical: UsageCritical
    stale: Hold
    no_volumes: Hold
    left_out: Hold
    exporter_down: Hold
    dataset_stale: DatasetStale
    dataset_unwatched: Hold
    series_gap: PromDuration


def load_alert_config(path: Path) -> AlertConfig:
    """Read and validate the alert config; :class:`ConfigError` names file, key and value."""
    config = load_model(path, AlertConfig)
    warning, critical = config.forecast.warning.within, config.forecast.critical.within
    # The exporter exports no exhaustion date beyond its horizon (absent = not soon): a longer window never fires.
    beyond = [
        Problem(
            str(path),
            f"forecast.{severity}.within",
            f"must be at most the forecast horizon, {HORIZON_SECONDS // 86400}d (no exhaustion date further "
            f"out is exported, so the alert could never fire): '{within}'",
        )
        for severity, within in (("warning", warning), ("critical", critical))
        if parse_duration(within) > HORIZON_SECONDS
    ]
    if beyond:
        raise ConfigError.of(beyond)
    # A critical that fired at a longer lead than the warning would page before any warning is seen.
    if parse_duration(critical) >= parse_duration(warning):
        raise ConfigError.of(
            [
                Problem(
                    str(path),
                    "forecast.critical.within",
                    f"must be shorter than forecast.warning.within ({warning}): critical pages for the nearer "
                    f"fills: '{critical}'",
                )
            ]
        )
    return config


def _seconds(duration: str) -> int:
    return round(parse_duration(duration))


def percent(ratio: float) -> str:
    """``ratio`` as a percentage, every digit it was written with and no more: 0.995 is 99.5%, not a rounded 100%."""
    return f"{Decimal(repr(ratio)).scaleb(2).normalize():f}%"


def _alert(
    config: AlertConfig, name: str, *, expr: str, hold: str, severity: str, summary: str, description: str
) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": hold,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{config.runbook_url}#{name.lower()}",
        },
    }


def rules(config: AlertConfig) -> dict[str, Any]:
    """The rule file as a document: one group, warning/critical pairs first."""
    forecast = config.forecast

    def bridged(metric: str) -> str:
        """``metric`` read at its last value for ``series_gap`` after its last sample: an exporter restart (the scrape
        it misses, its first run serving no volume) neither resolves an alert on it nor restarts its ``for:``."""
        return f"last_over_time({metric}[{config.series_gap}])"

    # Seconds until the median forecast date; clamp at 0 so "already full" reads as 0s, not negative.
    until_full = f"clamp_min({bridged('dizuo_storage_exhaustion_timestamp_seconds')} - time(), 0)"
    write, period = (
        bridged("dizuo_dataset_last_write_timestamp_seconds"),
        bridged("dizuo_dataset_refresh_period_seconds"),
    )
    job = f'job="{config.exporter_job}"'
    # Seconds left, humanized: "1d 11h 29m 0s".
    in_time = "is forecast to be full in {{ $value | humanizeDuration }} (median)."
    alerts = [
        _alert(
            config,
            "DizuoStorageExhaustionForecastCritical",
            expr=f"{until_full} < {_seconds(forecast.critical.within)}",
            hold=forecast.critical.for_,
            severity="critical",
            summary=f"A volume is forecast to be full within {forecast.critical.within}.",
            description=f"{_LABELS_OF_VOLUME} {in_time}",
        ),
        _alert(
            config,
            "DizuoStorageExhaustionForecastWarning",
            expr=f"{until_full} < {_seconds(forecast.warning.within)}",
            hold=forecast.warning.for_,
            severity="warning",
            summary=f"A volume is forecast to be full within {forecast.warning.within}.",
            description=f"{_LABELS_OF_VOLUME} {in_time}",
        ),
        _alert(
            config,
            "DizuoStorageUsageCritical",
            expr=f"{bridged('dizuo_storage_used_bytes')} / {bridged('dizuo_storage_capacity_bytes')}"
            f" > {config.usage_critical.ratio!r}",  # every digit: `:g` would make 0.9999995 a 1 that never fires
            hold=config.usage_critical.for_,
            severity="critical",
            summary=f"A volume is more than {percent(config.usage_critical.ratio)} full.",
            description=f"{_LABELS_OF_VOLUME} is {{{{ $value | humanizePercentage }}}} full.",
        ),
        _alert(
            config,
            "DizuoCapacityForecastStale",
            expr="dizuo_capacity_forecast_stale == 1",
            hold=config.stale.for_,
            severity="warning",
            summary="Capacity forecasts are stale: forecast alerts rest on old data.",
            description="The capacity exporter {{ $labels.instance }} has not completed a forecast run "
            f"for more than {config.stale.for_}; it serves its last good forecast.",
        ),
        _alert(
            config,
            "DizuoCapacitySelectorStale",
            expr="dizuo_capacity_selector_stale == 1",
            hold=config.stale.for_,
            severity="warning",
            summary="One kind of storage cannot be read: its forecast alerts rest on old data.",
            description="The capacity exporter {{ $labels.instance }} has not read its {{ $labels.kind }} volumes"
            f" for more than {config.stale.for_} (Prometheus refuses that selector's query) while it reads the"
            " others; it serves their forecasts from the last run that read them.",
        ),
        _alert(
            config,
            "DizuoCapacityForecastNoVolumes",
            expr="dizuo_capacity_forecast_series == 0",
            hold=config.no_volumes.for_,
            severity="warning",
            summary="The capacity exporter forecasts no volume: no capacity alert can fire.",
            description="The capacity exporter {{ $labels.instance }} has had no volume to forecast for more than "
            f"{config.no_volumes.for_}: its selectors match nothing in Prometheus, or no run has succeeded yet.",
        ),
        _alert(
            config,
            "DizuoCapacityVolumesLeftOut",
            expr=bridged("dizuo_capacity_left_out_last_sample_timestamp_seconds"),
            hold=config.left_out.for_,
            severity="warning",
            summary="A volume stopped reporting its usage: it is no longer forecast, and none of its alerts can fire.",
            description="The capacity exporter {{ $labels.instance }} leaves out"
            f" {_LABELS_OF_VOLUME}: no usage sample since {{{{ $value | humanizeTimestamp }}}} (its exporter stopped"
            " reporting it, or it was deleted: then silence this alert for its volume), for more than"
            f" {config.left_out.for_}.",
        ),
        _alert(
            config,
            "DizuoCapacityExporterDown",
            expr=f"up{{{job}}} == 0 or absent(up{{{job}}})",
            hold=config.exporter_down.for_,
            severity="warning",
            summary="The capacity exporter cannot be scraped: capacity alerts are blind.",
            description=f"Prometheus has not scraped job {config.exporter_job}"
            "{{ with $labels.instance }} at {{ . }}{{ end }}"
            f" for more than {config.exporter_down.for_}.",
        ),
        _alert(
            config,
            "DizuoDatasetStale",
            # Age of the last write against the declared period: the alert's labels are the write's (dataset,
            # department, pool), its value the age. Not while every exporter serves an old forecast, nor for a write
            # read from a kind of storage no exporter can read any more: such writes are as old as the last read,
            # and the owners are not to blame (DizuoCapacityForecastStale, DizuoCapacitySelectorStale say why).
            expr=f"time() - max by (dataset, department, pool) ({write})"
            f" > on (dataset) group_left () ({1 + config.dataset_stale.slack:g}"
            f" * max by (dataset) ({period}))"
            f" unless on (dataset) ({write} and on (kind)"
            f" (min by (kind) ({bridged('dizuo_capacity_selector_stale')}) == 1))"
            f" {_ALL_EXPORTERS_STALE}",
            hold=config.dataset_stale.for_,
            severity="warning",
            summary="A data-pool dataset has not been refreshed within its declared period.",
            description=f"{_DATASET} has not been written for {{{{ $value | humanizeDuration }}}}: "
            "longer than the refresh period datasets.yaml declares for it.",
        ),
        _alert(
            config,
            "DizuoDatasetUnwatched",
            expr=f"max by (dataset, department, pool) ({period}) unless on (dataset) {write} {_ALL_EXPORTERS_STALE}",
            hold=config.dataset_unwatched.for_,
            severity="warning",
            summary="A data-pool dataset's volume is not seen: its freshness is unknown.",
            description=f"{_DATASET}: the capacity exporter has seen no volume of it"
            f" for {config.dataset_unwatched.for_} (no bucket or claim named after it, a bucket without a quota, or a"
            " claim no pod has mounted within the history the exporter reads).",
        ),
    ]
    return {"groups": [{"name": GROUP, "rules": alerts}]}


def render(config: AlertConfig, source: str = "alerts-config.yaml") -> str:
    """The rule file text, with a header saying where it comes from: ``source``, the config's path from the rule
    file's folder (:func:`source_from`), so the text does not depend on how the paths were spelled."""
    header = (
        f"# GENERATED by `dizuo capacity rules` from {source} (its path from this file's folder): edit that file, not"
        " this one.\n"
        "# Thresholds and windows, and why they are what they are, are explained there.\n"
    )
    return header + yaml.safe_dump(rules(config), sort_keys=False, allow_unicode=True, width=1000)


def source_from(config: Path, output: Path) -> str:
    """How the header of ``output`` names ``config``: its path relative to ``output``'s folder, the same from whatever
    folder and however (relative, absolute, ``./``) the two were given."""
    return Path(os.path.relpath(config.absolute(), output.absolute().parent)).as_posix()
