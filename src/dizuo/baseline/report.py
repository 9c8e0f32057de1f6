"""Audit reports: JUnit XML for CI, Markdown and HTML for people, JSON for tools.

Every control of every audited host is one row (one JUnit testcase) with its status and the
evidence the check saw, so an auditor reads the proof instead of collecting screenshots.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

from dizuo.files import write_all_atomically


class Status(StrEnum):
    """Outcome of one control on one host."""

    PASS = "pass"  # noqa: S105 - a status, not a password
    FAIL = "fail"
    WAIVED = "waived"
    NOT_VERIFIED = "not_verified"
    ERROR = "error"

    @property
    def label(self) -> str:
        """How reports print it."""
        return self.value.replace("_", " ").upper()

    @property
    def failing(self) -> bool:
        """Whether the audit as a whole fails because of it."""
        return self in {Status.FAIL, Status.ERROR}


@dataclass(frozen=True, slots=True)
class ControlResult:
    """One control on one host, as the report shows it."""

    host: str
    control: str
    clause: str
    title_zh: str
    title_en: str
    status: Status
    evidence: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    note: str = ""
    """Why waived or not verified, or a remark on a waiver; never the status itself, which each report shows in its
    own way (a column, a JUnit element and its message's label)."""


@dataclass(frozen=True, slots=True)
class ControlDoc:
    """An audited control as the catalogue describes it, shown once in each report: what the audit reads as proof
    and what brings a host that fails it back in line."""

    control: str
    clause: str
    title_zh: str
    title_en: str
    checked: str
    """What the audit records as proof (the catalogue's evidence)."""
    remediation: str
    """What the hardening role does for it (the catalogue's remediation summary)."""
    role_tags: tuple[str, ...]
    """The tags of roles/baseline that enforce it."""

    @property
    def fix(self) -> str:
        """The remediation and the command that applies it, in one line."""
        tags = f"role tag{'s' if len(self.role_tags) > 1 else ''} {', '.join(self.role_tags)}"
        return f"{self.remediation} (dizuo harden -i <declaration> --controls {self.control}: {tags})"


@dataclass(frozen=True, slots=True)
class AuditMeta:
    """What was audited, when, against what."""

    city: str
    inventory: str
    hosts: tuple[str, ...]
    started: dt.datetime
    waivers: str
    catalogue_version: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    left_out: tuple[str, ...] = ()
    """What the audit did not check (controls or hosts left out by --controls or --limit): then it is a partial
    audit, and its reports say so next to the verdict, not only by the rows they lack."""
    controls: tuple[ControlDoc, ...] = ()
    """Each audited control once, as the catalogue describes its check and remediation."""
    allow_unverified: bool = False
    """Whether an audit that verified nothing passes (--allow-unverified, the behaviour before it was an outcome of
    its own): by default it reads NOT VERIFIED and fails."""


def nothing_verified(results: Iterable[ControlResult]) -> bool:
    """Whether the audit verified no control at all: every result NOT VERIFIED (the kernel audit controls alone,
    checked on containers). Such an audit shows nothing in force, so a CI gate must not read it as passed."""
    statuses = [r.status for r in results]
    return bool(statuses) and all(status is Status.NOT_VERIFIED for status in statuses)


def passes(results: Iterable[ControlResult], meta: AuditMeta) -> bool:
    """Whether the audit passes (exit 0): nothing failing, and something verified unless ``meta`` allows otherwise."""
    results = list(results)
    return not any(r.status.failing for r in results) and (meta.allow_unverified or not nothing_verified(results))


def verdict(results: Iterable[ControlResult], meta: AuditMeta) -> str:
    """FAILED, NOT VERIFIED (no control could be verified) or PASSED, and whether the audit left controls or
    hosts out."""
    results = list(results)
    if any(r.status.failing for r in results):
        outcome = "FAILED"
    elif nothing_verified(results):
        outcome = "PASSED (nothing verified, --allow-unverified)" if meta.allow_unverified else "NOT VERIFIED"
    else:
        outcome = "PASSED"
    return f"{outcome} (partial audit)" if meta.left_out else outcome


REPORT_FILES = ("junit.xml", "report.md", "report.html", "results.json")


# What XML 1.0 forbids in any document (ElementTree writes them as they are, and the file no longer
# parses), and what browsers show as nothing or as U+FFFD. Host output may hold them: a process name
# with a terminal escape, a file read as bytes.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def visible(text: str) -> str:
    """``text`` with every character XML cannot hold written as its Python escape (ESC as ``\\x1b``),
    so that reports stay well-formed and the evidence stays readable and faithful."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)


def summary(results: Iterable[ControlResult]) -> Counter[Status]:
    """How many results have each status."""
    return Counter(r.status for r in results)


def write_reports(
    results: list[ControlResult], meta: AuditMeta, directory: Path, pytest_log: bytes | None = None
) -> list[Path]:
    """Write every report into ``directory`` (and ``pytest_log``, the checks' log, as pytest.log), all or none (a
    full disk leaves the previous audit's reports as they were, never junit.xml of this audit beside report.html of
    the last one); returns their paths. Raises OSError."""
    directory.mkdir(parents=True, exist_ok=True)
    contents: dict[str, str | bytes] = {
        "junit.xml": junit_xml(results, meta),
        "report.md": markdown(results, meta),
        "report.html": html_report(results, meta),
        "results.json": results_json(results, meta),
    }
    if pytest_log is not None:
        contents["pytest.log"] = pytest_log
    return write_all_atomically({directory / name: text for name, text in contents.items()})


# A lone surrogate: a byte that is no UTF-8 in a path given on the command line (a declaration folder named in GBK,
# as Python reads it), which UTF-8, and so results.json, cannot hold.
_SURROGATE = re.compile("[\ud800-\udfff]")


def results_json(results: list[ControlResult], meta: AuditMeta) -> str:
    """Every result and the audit's metadata as JSON, for tools, with the verdict the other reports print, whether
    the audit passed (its exit code: 0 or 1) and the count of each status, so a tool need not judge the results
    again. A lone surrogate is written as the other reports write it (``visible``: ``\\udcd3``), as text: raw it
    could not be encoded, and a JSON escape of it would give most JSON readers an error."""
    counts = summary(results)
    text = json.dumps(
        {
            "meta": {**asdict(meta), "started": meta.started.isoformat()},
            "verdict": verdict(results, meta),
            "passed": passes(results, meta),
            "summary": {status.value: counts[status] for status in Status},
            "results": [asdict(r) for r in results],
        },
        ensure_ascii=False,
        indent=2,
    )
    # With ensure_ascii=False a surrogate stays raw, and only inside a string: its escape goes there with the
    # backslash itself escaped.
    return _SURROGATE.sub(lambda m: "\\\\" + ascii(m.group())[2:-1], text)


# ------------------------------------------------------------------------ JUnit


def junit_xml(results: list[ControlResult], meta: AuditMeta) -> str:
    """One testsuite per host, one testcase per control; fail -> failure, error -> error,
    waived and not verified -> skipped with the reason (CI shows them, never as passed), a waived one with the
    deviations it still has.

    The JUnit schema CI servers read (Jenkins' junit-10.xsd, pytest's xunit2) takes properties on a testsuite only
    and no skipped count on testsuites: each control's clause and status are properties of its host's testsuite,
    named ``<control> clause`` and ``<control> status``."""
    counts = summary(results)
    docs = {doc.control: doc for doc in meta.controls}
    suites = ET.Element(
        "testsuites",
        name=f"dizuo audit {meta.city}" + (" (partial audit)" if meta.left_out else ""),
        tests=str(len(results)),
        failures=str(counts[Status.FAIL]),
        errors=str(counts[Status.ERROR]),
    )
    for host in meta.hosts:
        mine = [r for r in results if r.host == host]
        mine_counts = summary(mine)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=host,
            tests=str(len(mine)),
            failures=str(mine_counts[Status.FAIL]),
            errors=str(mine_counts[Status.ERROR]),
            skipped=str(mine_counts[Status.WAIVED] + mine_counts[Status.NOT_VERIFIED]),
            timestamp=meta.started.isoformat(timespec="seconds"),
        )
        props = ET.SubElement(suite, "properties")
        for result in mine:
            for name, value in (("clause", result.clause), ("status", result.status.value)):
                ET.SubElement(props, "property", name=f"{result.control} {name}", value=value)
        for result in mine:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{host}.{result.control}",
                name=f"{result.control} {result.title_zh} / {result.title_en}",
            )
            message = "; ".join(result.problems)
            if result.status is Status.FAIL:
                fix = [f"remediation: {docs[result.control].fix}"] if result.control in docs else []
                ET.SubElement(
                    case, "failure", message=_one_line(message, result.note), type="control"
                ).text = "\n".join([*result.problems, *([result.note] if result.note else []), *fix])
            elif result.status is Status.ERROR:
                ET.SubElement(case, "error", message=_one_line(message, result.note), type="check").text = message
            elif result.status in {Status.WAIVED, Status.NOT_VERIFIED}:
                # A waived control still deviates: what the waiver accepts is shown, as the other reports show it
                # (a waiver covers the whole control, so a deviation found after it was signed is listed here too).
                # The message is the one line CI lists for the testcase: it says the status, then why.
                skipped = ET.SubElement(case, "skipped", message=f"{result.status.label}: {result.note}")
                skipped.text = "\n".join(result.problems) or None
            ET.SubElement(case, "system-out").text = "\n".join(result.evidence)
    for element in suites.iter():
        element.text = visible(element.text) if element.text else element.text
        element.attrib = {key: visible(value) for key, value in element.attrib.items()}
    ET.indent(suites)
    # A parser reads a raw CR in text as a line feed (XML's end-of-line handling); only its reference keeps it. ET
    # writes attributes' CRs so already: a raw one left in the document is text's.
    document = ET.tostring(suites, encoding="unicode").replace("\r", "&#13;")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + document + "\n"


def _one_line(*parts: str) -> str:
    return " | ".join(p for p in parts if p)[:500]


# --------------------------------------------------------------------- Markdown


def markdown(results: list[ControlResult], meta: AuditMeta) -> str:
    """A per-control report an auditor reads top to bottom: summary, then each host's controls."""
    counts = summary(results)
    lines = [
        f"# 等保 baseline audit — {_md(meta.city)}: {verdict(results, meta)}",
        "",
        f"- Audited: {meta.started.isoformat(timespec='seconds')} against {_md_code(meta.inventory)}"
        f" (catalogue v{meta.catalogue_version})",
        f"- Hosts: {', '.join(_md(host) for host in meta.hosts)}",
        f"- Waivers: {_md(meta.waivers)}",
        *[f"- **Partial audit**: {_md(gap)}" for gap in meta.left_out],
        *[f"- {_md(note)}" for note in meta.notes],
        "",
        "| Status | Count |",
        "| --- | ---: |",
        *[f"| {status.label} | {counts[status]} |" for status in Status],
        "",
        "PASS: the checks saw the control in force. FAIL: they saw a deviation (listed with ✗). "
        "WAIVED: a deviation accepted by an unexpired waiver. NOT VERIFIED: the control cannot be checked "
        "on this kind of host (reason given) — it is not a pass. ERROR: the check could not run.",
    ]
    for host in meta.hosts:
        lines += [
            "",
            f"## {host}",
            "",
            "| Control | Clause | Title | Status | Evidence |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in (r for r in results if r.host == host):
            cells = [
                *[f"✗ {_md(p)}" for p in r.problems],
                *([f"**{_md(r.note)}**"] if r.note else []),
                *[_md(e) for e in r.evidence],
            ]
            title = f"{_md(r.title_zh)}<br>{_md(r.title_en)}"
            evidence = "<br>".join(cells)
            lines.append(f"| {r.control} | {r.clause} | {title} | **{r.status.label}** | {evidence} |")
    if meta.controls:
        lines += [
            "",
            "## Controls: what the audit reads and how to fix a failure",
            "",
            "| Control | Clause | Title | What the audit reads | Remediation |",
            "| --- | --- | --- | --- | --- |",
        ]
        for doc in meta.controls:
            title = f"{_md(doc.title_zh)}<br>{_md(doc.title_en)}"
            lines.append(f"| {doc.control} | {doc.clause} | {title} | {_md(doc.checked)} | {_md(doc.fix)} |")
    return "\n".join(lines) + "\n"


# Every line break str.splitlines knows: any of them inside a table row would end the row.
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


# What could start an inline construct in a table cell (CommonMark and GitHub's and GitLab's extensions): emphasis,
# code, links and images, strikethrough, math, the cell's own pipes, and the backslash itself. A cell holds inline
# content only, so what starts a block (#, -, >, 1.) is inert there; & < > are written as HTML entities instead.
# An underscore between two letters or digits (PASS_MAX_DAYS) cannot open or close emphasis: it stays, readable.
_MARKDOWN_INLINE = re.compile(r"([\\`*\[\]|~$]|(?<![^\W_])_|_(?![^\W_]))")


def _md_code(text: str) -> str:
    """``text`` as a Markdown code span, shown as written, backslashes too (only what Markdown files cannot hold is
    escaped): fenced by one backtick more than its longest run of them, and padded with a space where it starts or
    ends with one (CommonMark), so that a backtick in a path ends no span."""
    shown = visible(text)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", shown)), default=0) + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def _md(text: str) -> str:
    """``text`` as one table cell, shown as written: HTML escaped, Markdown punctuation backslash-escaped (a host's
    ``*.* @@10.64.1.20:514`` is no emphasis, its ``![x](http://…)`` no image), line breaks as ``<br>``."""
    escaped = _MARKDOWN_INLINE.sub(r"\\\1", html.escape(text, quote=False))
    return visible(_LINE_BREAK.sub("<br>", escaped))


# ------------------------------------------------------------------------- HTML

STATUS_COLOURS = {
    Status.PASS: "#1a7f37",
    Status.FAIL: "#cf222e",
    Status.WAIVED: "#9a6700",
    Status.NOT_VERIFIED: "#6e7781",
    Status.ERROR: "#8250df",
}


def html_report(results: list[ControlResult], meta: AuditMeta) -> str:
    """The same content as the Markdown report, for a browser."""
    counts = summary(results)

    def e(text: str) -> str:
        return visible(html.escape(text))

    parts = [
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>等保 audit {e(meta.city)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
        "td,th{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left}"
        ".st{font-weight:bold;white-space:nowrap}.ev{font-family:monospace;font-size:90%}</style></head><body>",
        f"<h1>等保 baseline audit — {e(meta.city)}: {verdict(results, meta)}</h1>",
        f"<p>Audited {e(meta.started.isoformat(timespec='seconds'))} "
        f"against <code>{e(meta.inventory)}</code> (catalogue v{meta.catalogue_version}); "
        f"waivers: {e(meta.waivers)}.</p>",
        *[f"<p><b>Partial audit</b>: {e(gap)}</p>" for gap in meta.left_out],
        *[f"<p>{e(note)}</p>" for note in meta.notes],
        "<table style='width:auto'><tr><th>Status</th><th>Count</th></tr>",
        *[
            f"<tr><td class='st' style='color:{STATUS_COLOURS[s]}'>{s.label}</td><td>{counts[s]}</td></tr>"
            for s in Status
        ],
        "</table>",
    ]
    for host in meta.hosts:
        parts.append(
            f"<h2>{e(host)}</h2><table><tr><th>Control</th><th>Clause</th><th>Title</th>"
            "<th>Status</th><th>Evidence</th></tr>"
        )
        for r in (r for r in results if r.host == host):
            cells = [*[f"✗ {e(p)}" for p in r.problems], *([f"<b>{e(r.note)}</b>"] if r.note else [])]
            cells += [e(x) for x in r.evidence]
            parts.append(
                f"<tr id='{e(host)}-{e(r.control)}'><td>{e(r.control)}</td><td>{e(r.clause)}</td>"
                f"<td>{e(r.title_zh)}<br>{e(r.title_en)}</td>"
                f"<td class='st' style='color:{STATUS_COLOURS[r.status]}'>{r.status.label}</td>"
                f"<td class='ev'>{'<br>'.join(cells)}</td></tr>"
            )
        parts.append("</table>")
    if meta.controls:
        parts.append(
            "<h2>Controls: what the audit reads and how to fix a failure</h2><table><tr><th>Control</th>"
            "<th>Clause</th><th>Title</th><th>What the audit reads</th><th>Remediation</th></tr>"
        )
        # Anchored by the bare control id: a host's rows are '<host>-<control>', which no control id is, whatever
        # the host is called ('control-DZ-IA-01' would be the row of a host named control).
        parts += [
            f"<tr id='{e(doc.control)}'><td>{e(doc.control)}</td><td>{e(doc.clause)}</td>"
            f"<td>{e(doc.title_zh)}<br>{e(doc.title_en)}</td><td>{e(doc.checked)}</td><td>{e(doc.fix)}</td></tr>"
            for doc in meta.controls
        ]
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
