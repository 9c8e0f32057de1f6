"""`dizuo capacity serve`, `dizuo capacity report` and `dizuo capacity rules` (see capacity/cli.py)."""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, NamedTuple

import typer
from rich.console import Console
from rich.markup import escape

from dizuo.capacity.commands_forecast import CalendarOption, calendar_warnings_as, load_calendar_option
from dizuo.exit_codes import BAD_INPUT, FAILED
from dizuo.refusal import print_error, print_interruption

# The Prometheus client and the declaration model load with the command that needs them: `dizuo capacity forecast`
# is in this domain too and should start fast.
if TYPE_CHECKING:
    from dizuo.capacity.calendar_cn import WorkingCalendar
    from dizuo.capacity.prometheus_source import PrometheusSource
    from dizuo.capacity.rules import AlertConfig, RenderedDashboard
    from dizuo.capacity.types import Reading, UsageHistory
    from dizuo.declaration.model import Declaration

err = Console(stderr=True)
out = Console()

DeclarationOption = Annotated[
    Path | None,
    typer.Option(
        "--declaration",
        help="City declaration (e.g. inventories/yulin): labels volumes with departments and pools",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Selectors YAML (default: built in; see monitoring/capacity-sources.yaml)"),
]


def fail(message: str, code: int = BAD_INPUT) -> typer.Exit:
    """Print a located error and return the exit to raise: bad input never ends in a traceback."""
    for line in message.splitlines():
        print_error(err, line)
    return typer.Exit(code)


def parse_listen(value: str) -> tuple[str, int]:
    """``127.0.0.1:9782`` or ``[::1]:9782`` -> (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise fail(f"--listen: expected HOST:PORT such as 127.0.0.1:9782, got '{value}'")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - ":9782" means all addresses, as the user asked


def load_declaration(path: Path | None) -> Declaration | None:
    """The declaration, or exit 2 listing every problem in it."""
    if path is None:
        return None
    from dizuo.declaration.cli import load_or_exit  # noqa: PLC0415 - not for `dizuo capacity forecast`

    return load_or_exit(path)


def load_calendar(path: Path | None) -> WorkingCalendar:
    """The working calendar with the file's notices, or exit 2 naming the file, key and value."""
    from dizuo.capacity.config_files import ConfigError  # noqa: PLC0415

    try:
        return load_calendar_option(path)
    except ConfigError as exc:
        raise fail(str(exc)) from None


class OncePerDay(logging.Filter):
    """Pass each distinct message at most once a day: the forecast runs every few minutes, and a warning that
    holds until someone acts (a calendar year not yet declared) would otherwise fill the log."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._clock = clock
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        message, now = record.getMessage(), self._clock()
        if now - self._last.get(message, -math.inf) < 86400:
            return False
        self._last[message] = now
        return True


def log_warnings_plainly() -> None:
    """Send warnings (the forecaster's: a calendar year not yet published) to the log as one line each,
    ``CalendarNotCoveredWarning: the working calendar does not know 2027 yet: ...``, not Python's file:line
    form with a line of source under it, and each at most once a day."""
    logging.captureWarnings(True)
    warnings.formatwarning = lambda message, category, *_where, **_line: f"{category.__name__}: {message}"
    captured = logging.getLogger("py.warnings")
    if not any(isinstance(f, OncePerDay) for f in captured.filters):
        captured.addFilter(OncePerDay())


def make_source(url: str, config: Path | None, declaration: Declaration | None) -> PrometheusSource:
    """A Prometheus source, or exit 2 naming the bad option or config key."""
    from dizuo.capacity.config_files import ConfigError  # noqa: PLC0415
    from dizuo.capacity.prometheus_source import PrometheusSource, load_config  # noqa: PLC0415

    try:
        return PrometheusSource(url, load_config(config), declaration, config_path=config)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def check_selectors(source: PrometheusSource, *, required: bool) -> None:
    """Exit 2 naming the file and key path of each selector expression Prometheus refuses as invalid PromQL or cannot
    evaluate where there is no data (an invalid regular expression in ``label_replace``). When
    Prometheus cannot be asked: exit 1 if ``required`` (a one-off report), else a warning (an exporter starts anyway,
    and its runs say why they fail until Prometheus answers)."""
    from dizuo.capacity.config_files import ConfigError  # noqa: PLC0415
    from dizuo.capacity.prometheus_source import SourceError  # noqa: PLC0415

    try:
        source.check_selectors()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    except SourceError as exc:
        if required:
            raise fail(str(exc), FAILED) from None
        err.print(f"warning: selectors not checked, Prometheus did not answer: {escape(str(exc))}", highlight=False)


def unwritable_dir(path: Path) -> str | None:
    """Why a directory cannot be created or written at ``path``, or None when it can."""
    if path.exists():
        if not path.is_dir():
            return f"{path} is a file, not a directory"
        return None if os.access(path, os.W_OK | os.X_OK) else f"{path} is not writable"
    existing = next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir():
        return f"{existing} is a file, not a directory"
    return None if os.access(existing, os.W_OK | os.X_OK) else f"cannot create it: {existing} is not writable"


def read_usage(
    prometheus_url: str | None, csv: Path | None, config: Path | None, city: Declaration | None
) -> list[UsageHistory]:
    """The usage histories of a Prometheus (with the selectors of ``config``) or of a CSV, labelled after the
    declaration; exit 2 on bad input, 1 when Prometheus fails or nothing is found."""
    return read_usage_and_source(prometheus_url, csv, config, city)[0].histories


def read_usage_and_source(
    prometheus_url: str | None, csv: Path | None, config: Path | None, city: Declaration | None
) -> tuple[Reading, PrometheusSource | None]:
    """``read_usage``, with the volumes Prometheus left out (no recent sample: a claim no pod mounts now) and the
    Prometheus source it read (None for a CSV), for a further read from the same one."""
    from dizuo.capacity.csvio import UsageCsvError, read_usage_csv  # noqa: PLC0415 - see load_declaration
    from dizuo.capacity.prometheus_source import Ownership, SourceError  # noqa: PLC0415
    from dizuo.capacity.report import label_from_declaration  # noqa: PLC0415
    from dizuo.capacity.types import Reading  # noqa: PLC0415

    if (prometheus_url is None) == (csv is None):
        raise fail("give exactly one of --prometheus-url URL or --csv FILE")
    if csv is not None and config is not None:
        raise fail("--config holds the Prometheus selectors: it goes with --prometheus-url, not with --csv")
    source = None
    with err.status("reading usage history"):
        try:
            if csv is not None:
                reading = Reading(label_from_declaration(read_usage_csv(csv), Ownership.from_declaration(city)))
            else:
                source = make_source(prometheus_url or "", config, city)
                check_selectors(source, required=True)
                reading = source.read_whole()
        except UsageCsvError as exc:
            raise fail(str(exc)) from None
        except SourceError as exc:  # Prometheus unreachable or answering errors: the input was fine
            raise fail(str(exc), FAILED) from None
    if not reading.histories:
        raise fail(_nothing_read(prometheus_url, csv, config, reading), FAILED)
    return reading, source


def _nothing_read(prometheus_url: str | None, csv: Path | None, config: Path | None, reading: Reading) -> str:
    """Why a read found no usage series, naming what was read: a Prometheus that scrapes none of the exporters the
    selectors read (another Prometheus than the cluster's, a first mistake) is told apart from a CSV with no rows, and
    both from a Prometheus scraping for less than a step (``reading`` says up to when it read)."""
    from dizuo.capacity.prometheus_source import read_until, redacted  # noqa: PLC0415 - see load_declaration

    if csv is not None:
        return f"--csv {csv}: no usage series in it"
    selectors = f"the selectors of --config {config}" if config is not None else "the built-in selectors"
    return (
        f"--prometheus-url {redacted(prometheus_url or '')}: no usage series found by {selectors}"
        f"{read_until(reading)}: check that this "
        "is the Prometheus scraping kubelet, node_exporter, ceph-mgr or MinIO, and the selectors "
        "(monitoring/capacity-sources.yaml spells out the defaults)"
    )


def read_older_writes(source: PrometheusSource, histories: Sequence[UsageHistory]) -> list[UsageHistory]:
    """The longer past of the datasets with no write in ``histories`` (see ``PrometheusSource.write_histories``); a
    warning, and nothing, when Prometheus fails it: the report then says "at least"."""
    from dizuo.capacity.exporter import dataset_writes, unseen_datasets  # noqa: PLC0415 - see load_declaration
    from dizuo.capacity.prometheus_source import SourceError  # noqa: PLC0415

    unseen = unseen_datasets(dataset_writes(histories))
    if not unseen:
        return []
    with err.status(f"looking further back for the last write of {len(unseen)} dataset(s)"):
        try:
            return source.write_histories(unseen)
        except SourceError as exc:
            err.print(f"warning: no older writes read, ages are lower bounds: {escape(str(exc))}", highlight=False)
            return []


def run_report(
    prometheus_url: str | None,
    csv: Path | None,
    config: Path | None,
    declaration: Path | None,
    out_dir: Path,
    *,
    charts: int,
    within: str,
    rows: int,
    calendar_file: Path | None = None,
) -> None:
    """The body of `dizuo capacity report`: read, forecast, tabulate, chart."""
    from rich.progress import Progress  # noqa: PLC0415 - see load_declaration

    from dizuo.capacity.exporter import forecaster_for  # noqa: PLC0415
    from dizuo.capacity.prometheus_source import parse_duration  # noqa: PLC0415
    from dizuo.capacity.report import (  # noqa: PLC0415
        ReportDirError,
        build_report,
        out_dir_problem,
        report_horizon,
        tables,
        write_report,
    )
    from dizuo.files import interruption_said  # noqa: PLC0415

    try:
        risk_seconds = round(parse_duration(within))
    except ValueError as exc:
        raise fail(f"--within: {exc}: '{within}'") from None
    problem = out_dir_problem(out_dir)
    if problem:  # before the reading and the forecast, not after them
        raise fail(f"--out {out_dir}: {problem}")
    # Ctrl-C or SIGTERM while Prometheus is read, the forecast runs or the charts are drawn: say what became of --out.
    with interruption_said(out_dir, "report", partial(print_interruption, err)):
        city = load_declaration(declaration)
        calendar = load_calendar(calendar_file)
        reading, source = read_usage_and_source(prometheus_url, csv, config, city)
        histories = reading.histories
        # The volumes not sampled now (unmounted, left out) are not forecast, but hold their datasets' last writes (see
        # build_report).
        unsampled = [*reading.unmounted, *reading.left_out, *reading.gone]
        older = [] if source is None else read_older_writes(source, [*histories, *unsampled])
        with (
            err.status(f"forecasting {len(histories)} series"),
            calendar_warnings_as(lambda line: err.print(escape(line), highlight=False)),
        ):
            # --within past the 30-day horizon: forecast that far, or a p10 beyond 30 days would count as never.
            forecasts = forecaster_for(calendar, report_horizon(risk_seconds))(histories)
        result = build_report(histories, forecasts, city, risk_seconds, older, left_out=unsampled)
        shown = tables(result, rows)
        # Piped into a file or a CI log, rich would assume 80 columns and squeeze the tables into unreadable wraps;
        # and as wide as the widest table needs, or a long mount point (kept whole) squeezes the figures beside it to
        # "100…".
        needed = max(Console(width=1_000_000).measure(table).maximum for table in shown)
        wide = out if out.is_terminal else Console(width=max(out.width, 160, needed))
        for table in shown:
            wide.print(table)
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task("charts", total=min(charts, len(result.at_risk)) + 1)
            try:
                page = write_report(result, out_dir, charts, lambda _name: progress.advance(task))
            except ReportDirError as exc:  # changed while the report was made
                raise fail(f"--out {out_dir}: {exc}") from None
            except OSError as exc:
                raise fail(f"--out {out_dir}: cannot write: {exc.strerror or exc}", FAILED) from None
    out.print(f"wrote {page}", markup=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `dizuo capacity`."""

    @app.command()
    def serve(
        prometheus_url: Annotated[
            str,
            typer.Option(
                "--prometheus-url",
                envvar="DIZUO_PROMETHEUS_URL",
                help="Prometheus to read usage from, e.g. http://127.0.0.1:9090 (user:password@ for basic auth: "
                "pass it in DIZUO_PROMETHEUS_URL, not on a command line every local user can read)",
            ),
        ],
        listen: Annotated[str, typer.Option(help="HOST:PORT to serve /metrics on")] = "127.0.0.1:9782",
        config: ConfigOption = None,
        declaration: DeclarationOption = None,
        # At most a day: a forecast staler than that helps nobody, and a longer wait overflows the loop's timer
        # (threading refuses waits past its limit), which would end the loop and serve its first forecast forever.
        interval: Annotated[
            float, typer.Option(min=1, max=86400, help="Seconds between forecast runs (1 to 86400)")
        ] = 300,
        calendar_file: CalendarOption = None,
    ) -> None:
        """Serve storage-exhaustion forecasts as Prometheus metrics, recomputed every --interval seconds."""
        from dizuo.capacity.collector import (  # noqa: PLC0415 - see load_declaration
            allocations,
            refresh_periods,
            unwatched_refresh_periods,
        )
        from dizuo.capacity.exporter import ForecastLoop, forecaster_for, start_exporter  # noqa: PLC0415

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        log_warnings_plainly()
        host, port = parse_listen(listen)
        city = load_declaration(declaration)
        calendar = load_calendar(calendar_file)
        source = make_source(prometheus_url, config, city)
        check_selectors(source, required=False)
        lookback_days = source.config.write_lookback_seconds / 86400
        for unwatched in unwatched_refresh_periods(city, source.config.write_lookback_seconds):
            err.print(
                f"warning: {declaration / 'datasets.yaml' if declaration else 'datasets.yaml'}: {unwatched}, "
                f"no shorter than write_lookback ({lookback_days:g} days, {config or 'the default'}): its last write "
                "is looked for no further back, so DizuoDatasetStale cannot fire for it; raise write_lookback past "
                "its refresh period and the alert's slack (and write_step with it) in the --config file",
                highlight=False,
                markup=False,
            )
        loop = ForecastLoop(source, forecaster_for(calendar), interval=interval)
        try:
            exporter = start_exporter(loop, allocations(city), host, port, refresh_periods(city))
        except OSError as exc:
            raise fail(f"--listen {listen}: cannot listen: {exc.strerror or exc}") from None
        err.print(
            f"serving {exporter.url}, forecasting from {source.url} every {interval:g} s", markup=False, highlight=False
        )
        stop = threading.Event()

        def on_signal(_signum: int, _frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            stop.wait()
        finally:
            exporter.close()
            err.print("stopped")

    @app.command()
    def report(
        ctx: typer.Context,
        *,
        prometheus_url: Annotated[
            str | None,
            typer.Option(
                "--prometheus-url", envvar="DIZUO_PROMETHEUS_URL", help="Read usage history from this Prometheus"
            ),
        ] = None,
        csv: Annotated[
            Path | None,
            typer.Option("--csv", help="Read usage history from a CSV (benchmark format, .csv[.gz])"),
        ] = None,
        config: ConfigOption = None,
        declaration: DeclarationOption = None,
        out_dir: Annotated[
            Path,
            typer.Option(
                "--out",
                help="Directory for index.html and the PNG charts, replaced whole: new, empty or a previous report's",
            ),
        ] = Path("capacity-report"),
        charts: Annotated[int, typer.Option(min=0, help="Charts for this many volumes, soonest full first")] = 12,
        within: Annotated[str, typer.Option(help="At risk: early (p10) forecast within this long")] = "30d",
        rows: Annotated[int, typer.Option(min=1, help="Rows per table in the terminal")] = 20,
        calendar_file: CalendarOption = None,
    ) -> None:
        """Allocation vs usage vs forecast per department and pool: tables, PNG charts and an HTML page."""
        # By name: typer carries its own copy of click, whose enum is not click's.
        url_source = ctx.get_parameter_source("prometheus_url")
        if csv is not None and url_source is not None and url_source.name == "ENVIRONMENT":
            prometheus_url = None  # a --csv given on the command line outranks the exporter's environment
        if (prometheus_url is None) == (csv is None):
            raise fail("give exactly one of --prometheus-url URL or --csv FILE")
        run_report(
            prometheus_url,
            csv,
            config,
            declaration,
            out_dir,
            charts=charts,
            within=within,
            rows=rows,
            calendar_file=calendar_file,
        )

    @app.command()
    def rules(
        config: Annotated[Path, typer.Option(help="The commented alert config")] = Path(
            "monitoring/alerts-config.yaml"
        ),
        output: Annotated[Path, typer.Option(help="The rule file Prometheus loads")] = Path("monitoring/alerts.yaml"),
        check: Annotated[
            bool,
            typer.Option(
                "--check",
                help="Exit 1 if OUTPUT (or the dashboard's replica labels, or runbook.html) differs; write nothing",
            ),
        ] = False,
        dashboard: Annotated[
            Path | None,
            typer.Option(
                help="The capacity dashboard whose replica labels to set from the config "
                "(default: dashboards/dizuo-capacity.json beside OUTPUT, where there is one)"
            ),
        ] = None,
    ) -> None:
        """Generate the capacity alert rules from their one commented config, set the dashboard's replica labels, and
        make runbook.html (the page the alerts link to) of the runbook.md beside the rules."""
        run_rules(config, output, check=check, dashboard=dashboard)


def dashboard_to_set(output: Path, dashboard: Path | None) -> Path | None:
    """The dashboard whose replica labels to set: ``dashboard`` (which must exist), else the one beside ``output``
    where the clone keeps it."""
    if dashboard is None:
        beside = output.parent / "dashboards" / "dizuo-capacity.json"
        # A rule file written outside the clone (a city's deploy repository) may have no dashboard beside it.
        return beside if beside.is_file() else None
    if not dashboard.is_file():
        raise fail(f"--dashboard {dashboard}: no such file; give the path of dizuo-capacity.json")
    return dashboard


class DashboardLabels(NamedTuple):
    """The dashboard whose replica labels `dizuo capacity rules` sets, and its text with the config's."""

    path: Path
    rendered: RenderedDashboard

    def replacement(self) -> Replacement | None:
        """The dashboard's rendered text to write, unless its labels were the config's already."""
        # Labels right: a dashboard Grafana exported in its own layout is not rewritten for its spacing.
        if not self.rendered.changed:
            return None
        return Replacement(self.path, self.rendered.text, f"--dashboard {self.path}", " (replica labels)")


def dashboard_labels(config: AlertConfig, dashboard: Path) -> DashboardLabels:
    """``dashboard`` with its replica labels set from ``config``; a located refusal when it cannot be."""
    from dizuo.capacity.config_files import ConfigError  # noqa: PLC0415
    from dizuo.capacity.rules import render_dashboard  # noqa: PLC0415

    try:
        return DashboardLabels(
            dashboard, render_dashboard(config, dashboard.read_text(encoding="utf-8"), str(dashboard))
        )
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"--dashboard {dashboard}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    except ConfigError as exc:
        raise fail(str(exc)) from None


class Replacement(NamedTuple):
    """A file `dizuo capacity rules` replaces, its new text, and how its messages name it."""

    path: Path
    text: str
    named: str  # in a refusal: `--output PATH`, `--dashboard PATH`, or the path
    note: str  # after its name in the `wrote` line


def replace_files(replacements: Sequence[Replacement]) -> None:
    """Replace every file of ``replacements`` atomically, all or none, and say which; a refusal naming the file that
    cannot be written as its ``named`` says, every file then as it was (not a new rule file beside an old dashboard)."""
    from dizuo.files import write_all_atomically  # noqa: PLC0415

    try:
        write_all_atomically({r.path: r.text for r in replacements})
    except OSError as exc:
        named = {str(r.path): r.named for r in replacements}
        refused = named.get(str(exc.filename), str(exc.filename))
        raise fail(f"{refused}: cannot write: {exc.strerror or exc}", FAILED) from None
    for r in replacements:
        out.print(f"wrote {r.path}{r.note}", markup=False)


class RunbookPage(NamedTuple):
    """runbook.html beside the rule file: the page the alerts' runbook_url points to, as the city serves it."""

    source: Path  # runbook.md
    path: Path
    text: str  # what runbook.md makes
    held: str | None  # what the page holds now (None: no page, or not one this command wrote in UTF-8)

    def replacement(self) -> Replacement | None:
        """What runbook.md makes, to write over the page, unless the page already is that."""
        if self.held == self.text:
            return None
        return Replacement(self.path, self.text, str(self.path), " (the runbook the alerts link to)")


def runbook_page(output: Path, *, check: bool) -> RunbookPage | None:
    """The runbook page beside ``output`` where the clone keeps runbook.md there (a rule file written elsewhere, a
    city's deploy repository, may have none); refused before anything is written when the page there is not one this
    command wrote, so that a refusal leaves the rule file and the dashboard as they were too."""
    from dizuo.capacity.runbook import GENERATED, render_runbook  # noqa: PLC0415

    source, path = output.parent / "runbook.md", output.parent / "runbook.html"
    if not source.is_file():
        return None
    try:
        text = render_runbook(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"{source}: cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        held: str | None = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        held = None
    if not check and path.exists() and not (held or "").startswith(GENERATED):
        raise fail(f"{path}: is not a runbook page this command wrote: not replaced; move it away first")
    return RunbookPage(source, path, text, held)


def run_rules(config: Path, output: Path, *, check: bool, dashboard: Path | None = None) -> None:
    """The body of `dizuo capacity rules`: render, then compare or write atomically; the same for the dashboard's
    replica labels (``dashboard``, or the one beside ``output`` where the clone keeps it) and for the runbook page made
    of the runbook.md beside ``output`` (runbook.html, which the city serves where the alerts' runbook_url points)."""
    from dizuo.capacity.config_files import ConfigError  # noqa: PLC0415
    from dizuo.capacity.rules import GENERATED, load_alert_config, render, source_from  # noqa: PLC0415

    if not config.exists():
        # Both defaults are relative (monitoring/...): run anywhere but the clone, they name nothing.
        raise fail(
            f"--config {config}: no such file (looked for {config.resolve()}): run in the folder that holds "
            "monitoring/ (the clone), or pass --config and --output"
        )
    try:
        alert_config = load_alert_config(config)
        text = render(alert_config, source=source_from(config, output))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    dashboard = dashboard_to_set(output, dashboard)
    labels = None if dashboard is None else dashboard_labels(alert_config, dashboard)
    page = runbook_page(output, check=check)
    if output.is_dir():
        raise fail(f"--output {output}: is a directory; give the path of the rule file")
    problem = None if check else unwritable_dir(output.parent)
    if problem:
        raise fail(f"--output {output}: {problem}")
    try:
        held = output.read_bytes() if output.exists() else None
    except OSError as exc:
        raise fail(f"--output {output}: cannot read: {exc.strerror or exc}") from None
    # Not UTF-8 (a binary file given by mistake) is no rule file of ours either: it differs, and is not replaced.
    current = None if held is None else held.decode("utf-8", errors="replace")
    if check:
        if current != text:
            raise fail(f"{output} is not what {config} generates: run `dizuo capacity rules`", FAILED)
        if labels is not None and labels.rendered.changed:
            raise fail(
                f"{labels.path}: its replica labels are not {config}'s replica_labels: run `dizuo capacity rules`",
                FAILED,
            )
        if page is not None and page.held != page.text:
            raise fail(f"{page.path} is not what {page.source} makes: run `dizuo capacity rules`", FAILED)
        also = "" if labels is None else f", and so do {labels.path}'s replica labels"
        also += "" if page is None else f" and {page.path}"
        out.print(f"[green]ok[/green] {escape(f'{output} matches {config}{also}')}", soft_wrap=True)  # one line
        return
    if current == text:
        out.print(f"{output} unchanged", markup=False)
    elif current is not None and not current.startswith(GENERATED):
        what = "is the alert config itself" if output.samefile(config) else "is not a rule file this command wrote"
        raise fail(
            f"--output {output}: {what} (it does not begin '{GENERATED}'): not replaced; give the rule file's "
            "path, or move that file away first"
        )
    # All or none: one file refused (immutable) leaves the rule file, the dashboard and the runbook page as they were.
    rule_file = Replacement(output, text, f"--output {output}", "") if current != text else None
    others = [None if labels is None else labels.replacement(), None if page is None else page.replacement()]
    replace_files([r for r in (rule_file, *others) if r is not None])
