"""The documentation's commands are the CLI's: every `dizuo ...` a user copies from README.md, the runbook, the
benchmark READMEs or the systemd unit names a command that exists, with flags that exist and no more arguments than
the command takes, each command line parses as the command parses it (nothing it requires is missing), and each such
command's `--help` runs. And what else README.md names is there: the clone's files, the rule files' alerts, the
exporter's metrics, noxfile.py's sessions, `.ci/run`'s test command, a waiver example the audit loads, and the
catalogue's and Yulin's counts."""

from __future__ import annotations

import importlib
import os
import re
import shlex
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import typer
import yaml
from prometheus_client.registry import CollectorRegistry
from typer.testing import CliRunner

from dizuo.baseline.catalogue import Scope, packaged
from dizuo.baseline.waivers import load as load_waivers
from dizuo.capacity.collector import CapacityCollector, Snapshot
from dizuo.cli import app
from dizuo.declaration import load

ROOT = Path(__file__).parents[1]
MARKDOWN = (
    "README.md",
    "monitoring/runbook.md",
    *sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("bench/*/README.md")),
)
UNITS = ("monitoring/deploy/dizuo-capacity.service",)

# Flags the README shows on their own (in prose) that belong to another tool, not to a dizuo command.
OTHER_TOOLS_FLAGS = {
    "--bench-data": "the benchmark scripts (bench/*/run.py)",
    "--collector.textfile.directory": "node_exporter",
    "--default-ssl-certificate": "ingress-nginx's controller",
    "--file": "last and lastb (dizuo-audit-query refuses it)",
    "--input": "ausearch and aureport (dizuo-audit-query refuses it)",
    "--node-labels": "the kubelet",
    "--tags": "ansible-playbook",
}

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# `dizuo` as a word of its own (after a path's slash too: .venv/bin/dizuo), followed by a command word.
COMMAND = re.compile(r"(?:^|(?<=[\s/]))dizuo ([a-z].*)")


@dataclass(frozen=True)
class Documented:
    """A `dizuo ...` command line as a document shows it."""

    where: str
    text: str
    # In prose (an inline code span): `dizuo up` or `dizuo harden --limit` there names the command or its option, and
    # is not a line to run. Any other word (a value, an argument) makes it one, as every line of a code block is.
    prose: bool = False
    # What a systemd unit's Environment= lines give the command (its Prometheus URL), as systemd passes them.
    environment: tuple[tuple[str, str], ...] = ()


def _commands_in(where: str, text: str, *, prose: bool = False) -> Iterator[Documented]:
    for match in COMMAND.finditer(text):
        yield Documented(where, "dizuo " + match[1], prose)


def markdown_commands(name: str, text: str) -> list[Documented]:
    """The `dizuo ...` of one Markdown document: each line of a fenced block, each inline code span (prose)."""
    found: list[Documented] = []
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            found += _commands_in(name, line)
    for _, span in SPAN.findall(FENCE.sub("", text)):
        found += _commands_in(name, " ".join(span.split()), prose=True)
    return found


def documented_commands() -> list[Documented]:
    """Every `dizuo ...` of the documents: each line of a fenced block, each inline code span, each ExecStart."""
    found: list[Documented] = []
    for name in MARKDOWN:
        found += markdown_commands(name, (ROOT / name).read_text(encoding="utf-8"))
    for name in UNITS:
        lines = (ROOT / name).read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
        assignments = [
            word for line in lines if line.startswith("Environment=") for word in shlex.split(line.split("=", 1)[1])
        ]
        environment = tuple((key, value) for key, _, value in (word.partition("=") for word in assignments))
        for line in lines:
            if line.startswith("ExecStart="):
                found += [replace(command, environment=environment) for command in _commands_in(name, line)]
    return list(dict.fromkeys(found))  # each line once, where it first appears


def prose_flags() -> list[Documented]:
    """Every inline code span of README.md that is a flag on its own (`--horizon-days`, `--csv usage.csv.gz`)."""
    text = FENCE.sub("", (ROOT / "README.md").read_text(encoding="utf-8"))
    spans = (" ".join(span.split()) for _, span in SPAN.findall(text))
    return [Documented("README.md", span.split()[0]) for span in spans if re.match(r"--[a-z]", span)]


# Commands, groups and parameters are click's classes, which newer typer vendors (typer._click) and older typer takes
# from click itself: Any, and duck typing, keep this independent of which (as dizuo.cli does).
@cache
def root() -> Any:
    return typer.main.get_command(app)


def is_group(command: Any) -> bool:
    return hasattr(command, "get_command")


def subcommand(group: Any, name: str) -> Any:
    return group.get_command(group.context_class(group), name)


def _words(text: str) -> list[str]:
    """The shell words of a documented command, without its comment, redirection or pipe, optional parts unbracketed
    (`[--limit yl-log-01]`)."""
    text = re.split(r"\s#|\s\|\s|\s2?>", text)[0]
    text = text.replace("[", " ").replace("]", " ")
    try:
        return shlex.split(text)
    except ValueError:  # a quote the document opens in prose
        return text.split()


def problems(documented: Documented) -> Iterator[tuple[list[str], str | None]]:
    """For each command a documented line names (`preview|up` names two): its path of command names, and what is
    wrong with the line, or None."""
    words = _words(documented.text)[1:]
    paths: list[tuple[list[str], Any]] = [([], root())]
    while words and is_group(paths[0][1]) and not words[0].startswith("-"):
        names = words.pop(0).split("|")
        extended = []
        for path, group in paths:
            for name in names:
                command = subcommand(group, name)
                if command is None:
                    yield [*path, name], f"no command {' '.join(['dizuo', *path, name])!r}"
                    continue
                extended.append(([*path, name], command))
        if not extended:
            return
        paths = extended
    # Prose naming a command (`dizuo up`) or its options (`dizuo harden --limit`) is not a line to run.
    to_run = not documented.prose or any(not word.startswith("-") for word in words)
    for path, command in paths:
        yield (
            path,
            _arguments_problem(command, words)
            or (_parse_problem(path, command, words, documented.environment) if to_run else None),
        )


def _parse_problem(
    path: list[str], command: Any, words: list[str], environment: tuple[tuple[str, str], ...] = ()
) -> str | None:
    """What the command itself says of the line (a required argument or option missing, an option without its value,
    a value of the wrong type), or None when it parses. Placeholders (`<stack>`, `PATH`, `...`) are values like any
    other: they parse wherever the command takes text or a path, which is where the documents use them."""
    if "--help" in words:
        return None  # its callback prints the help and exits: nothing else of the line is read
    with mock.patch.dict(os.environ):
        # An option the line leaves out is not given by the environment the tests run in ($DIZUO_PROMETHEUS_URL).
        for param in command.params:
            for name in [param.envvar] if isinstance(param.envvar, str) else param.envvar or ():
                os.environ.pop(name, None)
        os.environ.update(environment)
        try:
            command.make_context(" ".join(["dizuo", *path]), list(words), resilient_parsing=False)
        except Exception as exc:  # click's UsageError, from click or from typer's vendored copy (see root())
            if not hasattr(exc, "format_message"):
                raise
            return str(exc.format_message())
    return None


def _arguments_problem(command: Any, words: list[str]) -> str | None:
    options = {name: param for param in command.params for name in (*param.opts, *param.secondary_opts)}
    options["--help"] = command.get_help_option(command.context_class(command))
    # nargs -1: any number
    takes = sum(
        param.nargs if param.nargs > 0 else 99 for param in command.params if param.param_type_name == "argument"
    )
    positional = 0
    rest = iter(words)
    for word in rest:
        if word.startswith("-") and word != "-":
            flag = word.split("=", 1)[0]
            param = options.get(flag)
            if param is None:
                return f"no option {flag} (it has {', '.join(sorted(o for o in options if o.startswith('-')))})"
            if param.param_type_name == "option" and not param.is_flag and "=" not in word:
                next(rest, None)  # its value
        else:
            positional += 1
    if positional > takes:
        return f"{positional} arguments given, the command takes {takes}"
    return None


def every_option() -> set[str]:
    """The options of every dizuo command."""
    found: set[str] = set()
    pending: list[Any] = [root()]
    while pending:
        command = pending.pop()
        if is_group(command):
            ctx = command.context_class(command)
            pending += [c for name in command.list_commands(ctx) if (c := command.get_command(ctx, name))]
        for param in command.params:
            found.update(o for o in (*param.opts, *param.secondary_opts) if o.startswith("-"))
    return found


DOCUMENTED = documented_commands()
PROSE_FLAGS = prose_flags()


def test_the_documents_show_commands_to_check() -> None:
    """The scan finds the documents' commands (the set-up's synth, the harden line, the unit's serve), so an empty
    scan cannot pass for a correct one."""
    texts = {d.text for d in DOCUMENTED}
    assert "dizuo synth inventories/yulin --out build" in texts
    assert any(t.startswith("dizuo harden --inventory inventories/yulin [--limit") for t in texts), texts
    assert any(d.where.endswith(".service") and "capacity serve" in d.text for d in DOCUMENTED)
    assert len({d.where for d in DOCUMENTED}) >= 3


@pytest.mark.parametrize("documented", DOCUMENTED, ids=[f"{d.where}: {d.text[:60]}" for d in DOCUMENTED])
def test_a_documented_command_exists_with_its_flags(documented: Documented) -> None:
    """A command a user copies from the documentation is one the CLI has, every flag it shows is one of that
    command's, and it gives no more arguments than the command takes."""
    found = list(problems(documented))
    assert found, documented
    for path, problem in found:
        assert problem is None, f"{documented.where}: `{documented.text}`: {problem}"
        shown = CliRunner().invoke(app, [*path, "--help"])
        assert shown.exit_code == 0, (path, shown.output)


@pytest.mark.parametrize("flag", PROSE_FLAGS, ids=[d.text for d in PROSE_FLAGS])
def test_a_flag_the_readme_names_alone_is_an_option_of_a_command(flag: Documented) -> None:
    """A flag README.md names in prose (`--horizon-days` to change the horizon) is an option of some dizuo command,
    or one of another tool's it names (the kubelet's `--node-labels`)."""
    if flag.text in OTHER_TOOLS_FLAGS:
        assert flag.text not in every_option(), f"{flag.text} is dizuo's now: take it off OTHER_TOOLS_FLAGS"
        return
    assert flag.text in every_option(), f"README.md names {flag.text}, which no dizuo command has"


def python_spans() -> list[Documented]:
    """Every inline code span of the Markdown documents that names dizuo's Python (`dizuo.migration.solve.solve(...)`),
    not a Kubernetes label of dizuo's (`dizuo.io/owner`)."""
    found: list[Documented] = []
    for name in MARKDOWN:
        text = FENCE.sub("", (ROOT / name).read_text(encoding="utf-8"))
        found += [
            Documented(name, span)
            for _, span in SPAN.findall(text)
            if re.match(r"dizuo\.\w", span) and not span.startswith("dizuo.io/")
        ]
    return found


def python_problems(span: str) -> list[str]:
    """What a user pasting ``span`` into Python (after ``import dizuo...``, ``pathlib``) would not find: a dotted
    name of dizuo's that does not resolve, or a function called by a bare name that does not say its module."""
    problems = []
    for dotted in re.findall(r"\bdizuo(?:\.\w+)+", span):
        parts = dotted.split(".")
        for split in range(len(parts), 0, -1):
            try:
                found: Any = importlib.import_module(".".join(parts[:split]))
            except ImportError:
                continue
            break
        else:
            problems.append(f"{dotted}: no such module")
            continue
        for part in parts[split:]:
            if not hasattr(found, part):
                problems.append(f"{dotted}: {'.'.join(parts[:split])} has no {part}")
                break
            found = getattr(found, part)
    problems += [f"{bare}(...): from which module?" for bare in re.findall(r"(?<![.\w])([a-z_]\w*)\(", span)]
    return problems


PYTHON_SPANS = python_spans()


@pytest.mark.parametrize("documented", PYTHON_SPANS, ids=[f"{d.where}: {d.text[:60]}" for d in PYTHON_SPANS])
def test_each_python_name_a_document_shows_resolves(documented: Documented) -> None:
    """`From Python: dizuo.migration.solve.solve(...)`: each function and module a document names is there, and a call
    says which module its function comes from (`load_instance(path)` alone leaves the user searching)."""
    assert python_problems(documented.text) == [], f"{documented.where}: `{documented.text}`"


def test_the_python_check_refuses_a_name_that_is_not_there() -> None:
    """The check itself: a misspelt function, a missing module and an unqualified call are each found."""
    assert python_problems("dizuo.migration.solve.solve(load_instance(path))") == [
        "load_instance(...): from which module?"
    ]
    assert python_problems("dizuo.capacity.forecast.forecast_history") == [
        "dizuo.capacity.forecast.forecast_history: dizuo.capacity.forecast has no forecast_history"
    ]
    assert python_problems("dizuo.nosuch.thing") == ["dizuo.nosuch.thing: dizuo has no nosuch"]


@pytest.mark.parametrize(
    ("text", "wrong"),
    [
        ("dizuo synth inventories/yulin --outt build", "no option --outt"),
        ("dizuo capacity serve --prometheus-url http://127.0.0.1:9090 --listen-on 127.0.0.1:9782", "no option"),
        ("dizuo capacity forcast usage.csv.gz > forecasts.jsonl", "no command 'dizuo capacity forcast'"),
        ("dizuo preview|upp --stack yulin-prod", "no command 'dizuo upp'"),
        ("dizuo migrate check-wave migration-plan 2 inventories/yulin extra", "4 arguments given, the command takes 3"),
        ("dizuo harden --inventory inventories/yulin [--limit yl-log-01] [--chek]", "no option --chek"),
        ("dizuo up", "Missing option '--stack'"),
        ("dizuo preview|up --backend file:///srv/s", "Missing option '--stack'"),
        ("dizuo migrate city --out migration-plan", "Missing argument 'CITY_DIR'"),
        ("dizuo released inventories/yulin --stack yulin-prod", "Missing argument 'CITY_DIR'"),
        ("dizuo harden --inventory inventories/yulin --limit", "'--limit' requires an argument"),
        ("dizuo capacity serve --listen 127.0.0.1:9782", "Missing option '--prometheus-url'"),
        ("dizuo migrate check-wave migration-plan second inventories/yulin", "Invalid value for 'WAVE'"),
    ],
)
def test_the_check_refuses_a_wrong_command_or_flag(text: str, wrong: str) -> None:
    """The check itself: a misspelt flag or command, an argument too many, or a required argument, option or value
    missing, in a documented line is found."""
    found = [problem for _, problem in problems(Documented("test", text)) if problem]
    assert any(wrong in problem for problem in found), found


def test_the_check_reads_optional_parts_values_and_alternatives() -> None:
    """A right line passes: optional parts in brackets, option values, a redirection, a comment and `preview|up`."""
    text = "dizuo preview|up --stack yulin-prod --backend file:///srv/s [--new-backend] > log  # or s3://bucket"
    assert [(path, problem) for path, problem in problems(Documented("test", text))] == [
        (["preview"], None),
        (["up"], None),
    ]


def test_the_check_refuses_a_bare_command_a_readme_gives_to_run() -> None:
    """A README code block with a bare `dizuo up` (it needs --stack) is refused; the same words in prose, naming the
    command (`dizuo up` fails with AlreadyExists), or an option of it (`dizuo harden --limit`), are not."""
    readme = "Deploy:\n\n```\ndizuo up\n```\n\nThen `dizuo up` fails, as `dizuo harden --limit` says.\n"
    found = {
        (documented.text, documented.prose): [problem for _, problem in problems(documented)]
        for documented in markdown_commands("README.md", readme)
    }
    assert found == {
        ("dizuo up", False): ["Missing option '--stack'."],
        ("dizuo up", True): [None],
        ("dizuo harden --limit", True): [None],
    }


def test_the_check_takes_placeholders_as_values() -> None:
    """README's placeholders stand for a value the command takes: `<stack>`, `PATH`, `DIR`, `...`, an optional part."""
    for text in (
        "dizuo up --stack <stack> --only network",
        "dizuo synth PATH --out DIR",
        "dizuo capacity report --prometheus-url ... --config ...",
        "dizuo harden --inventory inventories/yulin --limit HOST [--check]",
    ):
        assert [problem for _, problem in problems(Documented("test", text))] == [None], text


def readme_code() -> list[str]:
    """The code of README.md: each fenced block, and each inline code span outside them, its whitespace joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return FENCE.findall(text) + [" ".join(span.split()) for _, span in SPAN.findall(FENCE.sub("", text))]


# Folders of the clone a README path starts from (`dizuo/...` is the installed package, under src/).
CLONE_FOLDERS = (".ci/", "bench/", "dizuo/", "inventories/", "monitoring/", "roles/", "src/", "stacks/", "tests/")
# Words of README.md that start like a path of the clone and are none.
NOT_CLONE_PATHS = {
    "inventories/yulin/.schema": "the folder README's own `mkdir -p` makes for the editor's schema",
    "inventories/yulin/.schema/departments.json": "the file README's own `dizuo schema ... >` writes",
    "monitoring/prometheus-db": "a namespace/claim of the capacity example, not a file",
}


def readme_clone_paths() -> list[str]:
    """Each word of README's code that names a path of the clone (`monitoring/alerts.yaml`, `bench/synth/run.py`),
    without placeholders (`stacks/<stack>/Pulumi.<env>.yaml`) or globs."""
    words = (word.strip(",;:()'\"").lstrip("@") for code in readme_code() for word in code.split())
    paths = (word for word in words if word.startswith(CLONE_FOLDERS) and not re.search(r"[<>*{}|$]", word))
    return sorted(set(paths) - NOT_CLONE_PATHS.keys())


def test_each_file_the_readme_names_is_in_the_clone() -> None:
    """`load monitoring/alerts.yaml`, `python bench/synth/run.py`: every file and folder of the clone README tells a
    user to open, load or run is there, under that name."""
    paths = readme_clone_paths()
    assert {"monitoring/alerts.yaml", "roles/baseline.yml", "bench/synth/run.py"} <= set(paths), paths
    missing = [p for p in paths if not (ROOT / ("src/" if p.startswith("dizuo/") else "") / p).exists()]
    assert missing == [], f"README.md names these, which the clone does not hold: {missing}"


RULE_FILES = ("monitoring/alerts.yaml", "monitoring/security-alerts.yaml")


def test_each_alert_the_readme_names_is_one_dizuo_ships() -> None:
    """`DizuoDatasetStale warns the owner department`: every alert README names is an alert of the rule files it says
    to load, so the name an operator looks up in Prometheus or the runbook is one that can fire."""
    shipped = {
        rule["alert"]
        for name in RULE_FILES
        for group in yaml.safe_load((ROOT / name).read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    named = set(re.findall(r"\bDizuo[A-Z][A-Za-z]+\b", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert "DizuoMalwareFound" in named, sorted(named)
    assert sorted(named - shipped) == [], f"README.md names alerts no rule file of {RULE_FILES} has"


def exporter_metrics() -> set[str]:
    """The sample names the capacity exporter serves (a counter with its `_total`), from a fresh registry."""
    registry = CollectorRegistry()
    CapacityCollector(Snapshot, stale_after=900, registry=registry)
    return {f.name + ("_total" if f.type == "counter" else "") for f in registry.collect()}


def readme_exporter_metrics() -> set[str]:
    """The capacity exporter's metrics README names (its subsystems: storage, capacity, dataset), a brace list
    spelled out (`dizuo_capacity_forecast_{stale,series}`) and a label matcher left off (`...{kind}`)."""
    names: set[str] = set()
    for code in readme_code():
        for stem, braces in re.findall(r"\b(dizuo_(?:storage|capacity|dataset)_[a-z0-9_]*)(\{[a-z0-9_,]+\})?", code):
            alternatives = braces.strip("{}").split(",") if braces and "," in braces else [""]
            names |= {stem + alternative for alternative in alternatives}
    return names


def test_each_exporter_metric_the_readme_names_is_served() -> None:
    """`dizuo_storage_exhaustion_timestamp_seconds (median)`, `dizuo_capacity_forecast_{...,runs_total,series}`: every
    metric of the capacity exporter README names is one it serves, under that name, for dashboards and queries."""
    named = readme_exporter_metrics()
    assert {"dizuo_storage_used_bytes", "dizuo_capacity_forecast_runs_total"} <= named, sorted(named)
    assert sorted(named - exporter_metrics()) == [], "README.md names metrics the capacity exporter does not serve"


def nox_sessions() -> set[str]:
    """The sessions noxfile.py defines: the functions it decorates with @nox.session."""
    return set(re.findall(r"^@nox\.session\b.*\ndef (\w+)\(", (ROOT / "noxfile.py").read_text(encoding="utf-8"), re.M))


def test_each_nox_session_the_documents_name_is_defined() -> None:
    """`nox -s bench runs them all`: every `nox -s NAME` of README.md and the benchmark READMEs is a session of
    noxfile.py, so the command a user copies runs something."""
    named = {
        (name, session)
        for name in MARKDOWN
        for session in re.findall(r"\bnox -s (\w+)", (ROOT / name).read_text(encoding="utf-8"))
    }
    assert ("README.md", "tests") in named, sorted(named)
    assert sorted(n for n in named if n[1] not in nox_sessions()) == [], sorted(nox_sessions())


def test_ci_runs_the_readme_s_test_command() -> None:
    """README says `.ci/run` runs its second set-up command: the script holds that command, word for word, so CI tests
    what a user who follows README runs."""
    blocks = FENCE.findall((ROOT / "README.md").read_text(encoding="utf-8"))
    test_command = next(line for block in blocks for line in block.splitlines() if "nox -s tests" in line)
    assert test_command in (ROOT / ".ci/run").read_text(encoding="utf-8").splitlines(), test_command


def readme_prose() -> str:
    """README.md's text with its lines joined, as a sentence reads across them."""
    return " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())


def test_the_catalogue_counts_the_readme_gives_are_the_catalogue_s() -> None:
    """`32 host controls, ids DZ-IA-01…DZ-RI-01, and 6 network, cluster and data-pool controls`, and `today's 32` of
    the audit benchmark: the counts and first and last ids an auditor reads are those `dizuo baseline controls`
    lists."""
    controls = packaged().controls
    host = [c.id for c in controls if c.scope is Scope.HOST]
    found = re.search(
        r"\((\d+) host controls, ids `(\S+)`…`(\S+)`, and (\d+) network, cluster and data-pool", readme_prose()
    )
    assert found, "README.md no longer gives the catalogue's counts in the words this test reads"
    assert found.groups() == (str(len(host)), host[0], host[-1], str(len(controls) - len(host)))
    assert f"not measured since with today's {len(host)})" in readme_prose()


def test_the_reference_city_the_readme_describes_is_the_declaration() -> None:
    """`33 departments and counties, 115 business systems ... a data pool of 68 million records`: the numbers README
    gives for Yulin are the bundled declaration's, which `dizuo validate inventories/yulin` prints."""
    yulin = load(ROOT / "inventories" / "yulin")
    records = sum(dataset.records for dataset in yulin.datasets)
    said = (
        f"{len(yulin.departments)} departments and counties, {len(yulin.systems)} business systems",
        f"a data pool of {records / 1e6:g} million records",
    )
    assert [s for s in said if s not in readme_prose()] == [], said


def test_the_waiver_readme_shows_is_one_the_audit_takes(tmp_path: Path) -> None:
    """The `waivers.yaml` example README gives auditors (`--waivers waivers.yaml`) loads as the audit loads it for
    Yulin: its control is a host control and its hosts are declared, so copying it is a start, not a refusal."""
    blocks = re.findall(r"^( *)```yaml\n(.*?)^\1```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S | re.M)
    examples = [textwrap.dedent(block) for _, block in blocks if block.lstrip().startswith("waivers:")]
    assert len(examples) == 1, "README.md shows no waivers example, or more than one"
    (tmp_path / "waivers.yaml").write_text(examples[0], encoding="utf-8")
    declared = {host.name for host in load(ROOT / "inventories" / "yulin").inventory.hosts}
    loaded = load_waivers(tmp_path / "waivers.yaml", known_hosts=declared)
    assert [waiver.control for waiver in loaded.items] == ["DZ-IP-02"]
