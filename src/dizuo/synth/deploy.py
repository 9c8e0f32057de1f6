"""`dizuo preview` / `dizuo up`: the stacks through Pulumi's Automation API, tier by tier, self-managed backend.

Air-gapped cities keep state on a file:// path or an S3-compatible store of their own; never Pulumi Cloud.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from dizuo.declaration.loader import DeclarationError, load, show_value
from dizuo.exit_codes import BAD_INPUT, FAILED
from dizuo.interrupt import held
from dizuo.synth.engine import ProjectConfigError, StackConfigError, read_stack_file, stack_config
from dizuo.synth.synth import StackDir, SynthError, configured_stacks, discover, folders_without_config

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand

INSTALL_HOW = (
    "Install it from your mirror of the Pulumi release tarballs (pulumi-v3.x-linux-<arch>.tar.gz, unpacked onto PATH), "
    "plus the provider plugins `pulumi plugin install resource kubernetes` and `pulumi plugin install resource "
    "openstack` (or PULUMI_HOME pointing at a pre-populated plugin cache). `dizuo synth` needs none of this."
)
INSTALL_HINT = f"the Pulumi CLI is not installed (no `pulumi` on PATH). {INSTALL_HOW}"


class DeployError(Exception):
    """Preview or update cannot start (``code`` BAD_INPUT) or failed (FAILED); the message says what to do.

    ``problems`` are the refusals it stands for, each said on its own `error: ` line (dizuo.refusal): a script
    finding the refusals by that prefix finds every one, not only the first of several said together."""

    def __init__(self, *problems: str, code: int = BAD_INPUT) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.code = code


@dataclass(frozen=True, slots=True)
class StackOutcome:
    """What one stack's preview or update did."""

    stack: str
    changes: dict[str, int]


# Pulumi's self-managed ("DIY") backends. Pulumi Cloud (https://) is a public SaaS: never.
SELF_MANAGED_SCHEMES = ("file://", "s3://", "azblob://", "gs://")


def backend_url(explicit: str | None) -> str:
    """The self-managed backend: ``--backend``, else $PULUMI_BACKEND_URL, else ./.pulumi-state (file://).

    A file:// path is made absolute here: Pulumi runs in each stack's folder and would resolve a relative one there,
    giving every stack a state folder of its own, where no StackReference finds the others. Pulumi opens the folder of
    the URL's path percent-decoded (gocloud.dev fileblob reads Go's url.URL.Path), so the path is decoded here too,
    for :func:`state_folder` to be that folder, and handed on encoded: `file:///srv/pulumi%20state` is the folder
    `pulumi state`, and a folder named with `%`, `#` or a space reaches Pulumi as itself.
    """
    if explicit is not None and not explicit.strip():
        # An unset shell variable (--backend "$STATE"): falling back would take another backend than the one meant.
        raise DeployError(
            "--backend: empty; give the city's file:// path or s3:// bucket, or leave --backend out for "
            "$PULUMI_BACKEND_URL (else .pulumi-state in the current directory)"
        )
    url = explicit or os.environ.get("PULUMI_BACKEND_URL") or f"file://{Path('.pulumi-state').resolve()}"
    named = backend_named(explicit, url)
    if url.startswith("https://api.pulumi.com") or url.startswith("https://app.pulumi.com"):
        raise DeployError(
            f"{named}: Pulumi Cloud is not allowed: use a file:// path or an s3:// bucket of the city's own"
        )
    if not url.startswith(SELF_MANAGED_SCHEMES):
        folder = f" (a folder: file://{Path(url).expanduser().resolve()})" if "://" not in url else ""
        raise DeployError(f"{named}: not a self-managed backend; use a file:// path{folder} or an s3:// bucket")
    if url.startswith("file://"):
        path, query, options = url.removeprefix("file://").partition("?")
        url = f"file://{quote(str(Path(unquote(path)).expanduser().resolve()))}{query}{options}"
    return url


def backend_named(explicit: str | None, url: str) -> str:
    """The backend as errors name it, with where it came from: `--backend URL`, `PULUMI_BACKEND_URL=URL`, or the
    default, so that a URL the user never typed is traced to the variable that set it."""
    if explicit is not None:
        return f"--backend {url}"
    if os.environ.get("PULUMI_BACKEND_URL"):
        return f"PULUMI_BACKEND_URL={url}"
    return f"the default backend {url}"


def state_folder(url: str) -> Path | None:
    """The folder of a file:// backend (from :func:`backend_url`), or None for a bucket."""
    return Path(unquote(url.removeprefix("file://").partition("?")[0])) if url.startswith("file://") else None


def policy_pack(stacks_root: Path) -> Path:
    """The 等保 policy pack every preview and update runs with (stacks/policy); DeployError when it is missing."""
    pack = (stacks_root / "policy").resolve()
    if not (pack / "PulumiPolicy.yaml").is_file():
        raise DeployError(
            f"{pack}: no policy pack (PulumiPolicy.yaml) here; dizuo never previews or updates without the "
            "等保 policies"
        )
    return pack


def selected_stacks(stacks_root: Path, only: set[str] | None) -> list[StackDir]:
    """The stacks to run, lowest tier first; DeployError for a missing folder or an unknown --only name."""
    try:
        stacks = discover(stacks_root)
    except SynthError as exc:
        raise DeployError(str(exc)) from None
    unknown = sorted((only or set()) - {s.short for s in stacks})
    if unknown:
        known = ", ".join(s.short for s in stacks)
        raise DeployError(f"--only: no stack {', '.join(map(repr, unknown))} in {stacks_root} (stacks: {known})")
    return [s for s in stacks if only is None or s.short in only]


def check_stack_configs(selected: list[StackDir], stack: str) -> None:
    """DeployError unless every selected folder holds ``Pulumi.<stack>.yaml``: Pulumi would otherwise create a new,
    empty stack of that name in the city's backend (a mistyped --stack left stray stacks there)."""
    if missing := folders_without_config(selected, stack):
        lines = [
            f"{s.shown}: there is no Pulumi.{stack}.yaml here; stacks with a config: "
            f"{', '.join(configured_stacks(s.path)) or 'none'}"
            for s in missing
        ]
        raise DeployError(
            f"--stack {stack}: not a stack of {'these folders' if len(missing) > 1 else 'this folder'} (Pulumi would "
            "create it, empty, in the backend):",
            *lines,
        )


def check_declarations(selected: list[StackDir], stack: str) -> None:
    """DeployError listing every problem of the declarations the selected stacks' ``Pulumi.<stack>.yaml`` name
    (``dizuo:declaration``), before Pulumi runs: each stack program would otherwise fail in turn with a traceback."""
    problems: dict[str, None] = {}  # in order, once: the stacks of a city share its declaration
    declarations: dict[Path, list[str]] = {}  # each declaration named, with the stacks that name it
    for stack_dir in selected:
        shown = f"{stack_dir.shown}/Pulumi.{stack}.yaml"
        stack_file, found = read_stack_file(stack_dir.path / f"Pulumi.{stack}.yaml", shown)
        problems.update((str(p), None) for p in found)
        if stack_file is None:
            continue
        try:
            # The folder as the program will be handed it: `dizuo:declaration: 2026` or `no` is that folder's name
            # to the Pulumi CLI (yaml.v3 reads `no` as text), where YAML 1.1 (read_yaml) would make it a boolean.
            config = stack_config(stack_dir.path, stack, stack_file)
        except ProjectConfigError as exc:
            problems[f"{stack_dir.shown}/Pulumi.yaml: {exc}"] = None
            continue
        except StackConfigError as exc:
            problems[f"{shown}: {exc}"] = None
            continue
        given = config.read.get("dizuo:declaration")
        given_in = f"{stack_dir.shown}/Pulumi.yaml" if "dizuo:declaration" in config.from_project else shown
        if "dizuo:declaration" in config.secrets:
            # `pulumi config set --secret`: only the Pulumi CLI can decrypt it, so the declaration cannot be checked
            # here, and the folder's name hides nothing a secret would keep.
            problems[
                f"{given_in}: config.dizuo:declaration: a secret, which cannot name the folder of the city "
                "declaration for dizuo up to check: write the path in plain text (pulumi config set "
                "dizuo:declaration ../../inventories/yulin)"
            ] = None
            continue
        if isinstance(given, dict | list):  # its JSON would be taken for a folder's name
            kind = "map" if isinstance(given, dict) else "list"
            problems[
                f"{given_in}: config.dizuo:declaration: {show_value(given)}: a {kind}, not the folder of the city "
                "declaration (a path, e.g. ../../inventories/yulin)"
            ] = None
            continue
        named = config.values.get("dizuo:declaration")
        # An empty value reaches the program as "", as the CLI hands it over: no declaration either.
        if not named:
            problems[f"{shown}: config.dizuo:declaration: missing (the folder of the city declaration)"] = None
            continue
        declarations.setdefault((stack_dir.path / named).resolve(), []).append(stack_dir.shown)
        try:
            load(stack_dir.path / named)  # as the program will: relative to its folder (cached for the next stack)
        except DeclarationError as exc:
            problems.update((str(p), None) for p in exc.problems)
    if len(declarations) > 1:
        # Each tier would deploy another city's (or another copy's) intent, and read contracts of the other.
        named_by = "; ".join(f"{', '.join(stacks)}: {path}" for path, stacks in declarations.items())
        problems[
            f"config.dizuo:declaration of Pulumi.{stack}.yaml names {len(declarations)} declarations ({named_by}): "
            "the stacks of an environment deploy one declaration; name the same folder in each"
        ] = None
    if problems:
        raise DeployError(f"{len(problems)} problem(s) in the declaration(s) the stacks name; nothing ran:", *problems)


def check_prerequisites() -> str:
    """The Pulumi CLI to run, as found on PATH, made absolute; fails early, with what to install, when it or the
    secrets passphrase is missing. Its version is checked as it is run (:func:`pulumi_in_a_session_of_its_own`).

    Absolute, since Pulumi runs in each stack's folder: a relative PATH entry (`PATH=bin:...`) found `bin/pulumi` in
    the folder dizuo was started in, which the stacks would have looked for in theirs (another CLI, or none)."""
    found = shutil.which("pulumi")
    missing = [] if found is not None else [INSTALL_HINT]
    try:
        passphrase_file()  # before any stack: Pulumi would fail on it in the first one
    except DeployError as exc:
        missing.append(str(exc))  # said with a missing CLI, not after it is installed
    if missing or found is None:
        raise DeployError(*missing)
    return os.path.abspath(found)


def passphrase_file() -> Path | None:
    """$PULUMI_CONFIG_PASSPHRASE_FILE made absolute, or None where $PULUMI_CONFIG_PASSPHRASE is set (Pulumi takes that
    first); DeployError when neither gives a passphrase, or the file cannot be read.

    Pulumi reads the file relative to where it runs, each stack's folder, not where dizuo was started, and takes an
    empty value for none (pulumi/pulumi pkg/secrets/passphrase, readPassphrase).
    """
    if "PULUMI_CONFIG_PASSPHRASE" in os.environ:
        return None
    named = os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE", "")
    if not named:
        raise DeployError(
            "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE): self-managed backends encrypt "
            "stack secrets with it"
        )
    path = Path(named).expanduser().resolve()
    try:
        with path.open("rb"):
            pass
    except OSError as exc:
        raise DeployError(
            f"PULUMI_CONFIG_PASSPHRASE_FILE={named}: cannot read {path}: {exc.strerror or exc}; it holds the "
            "passphrase the stacks' secrets are encrypted with"
        ) from None
    return path


def program_env(url: str) -> dict[str, str]:
    """The environment Pulumi runs the stack programs and the policy pack in.

    Both must run on this Python, which has dizuo and the Pulumi SDK: `.venv/bin/dizuo up` with the venv not
    activated would otherwise have Pulumi start the system `python3`, which has neither. The language host takes
    PULUMI_PYTHON_CMD (pulumi/pulumi sdk/python/toolchain/pip.go, CommandPath); the policy pack's analyzer runs the
    first `python3` on PATH (sdk/python/dist/pulumi-analyzer-policy-python), hence this interpreter's folder first.
    """
    python = Path(sys.executable)  # not resolved: a venv's python is a symlink, and the venv is found through it
    env = {
        "PULUMI_BACKEND_URL": url,
        "PULUMI_PYTHON_CMD": str(python),
        "PATH": os.pathsep.join(p for p in (str(python.parent), os.environ.get("PATH", "")) if p),
    }
    if (passphrase := passphrase_file()) is not None:
        env["PULUMI_CONFIG_PASSPHRASE_FILE"] = str(passphrase)  # absolute: Pulumi runs in each stack's folder
    return env


# How much of a failed command's stderr its error repeats: the last lines carry Pulumi's error summary.
STDERR_TAIL = 40


def run(
    action: str,
    stack: str,
    stacks_root: Path,
    backend: str | None = None,
    only: set[str] | None = None,
    on_output: Callable[[str], None] = print,
    *,
    new_backend: bool = False,
) -> list[StackOutcome]:
    """Preview or update (``action``) environment ``stack`` of every stack, lowest tier first, each with the policy
    pack of ``stacks_root``.

    A tier runs only when the tier below it succeeded: a consumer must never read a half-updated contract. A preview
    or update against a file:// backend that holds no state is refused unless ``new_backend`` (the city's first
    deployment): a backend chosen by mistake would create every network and cluster object a second time (a preview
    creates the stacks there, after which an update would no longer see the mistake).
    """
    if action not in {"preview", "up"}:
        raise ValueError(action)
    # A mistake in what was given and a missing CLI (or passphrase) are said together: said one at a time, a user who
    # fixed the one said first would only then meet the other.
    try:
        pulumi_path, missing = check_prerequisites(), None
    except DeployError as exc:
        pulumi_path, missing = "", exc
    try:
        selected, pack, url, folder = _checked_inputs(stack, stacks_root, backend, only, new_backend=new_backend)
    except DeployError as exc:
        if missing is None:
            raise
        raise DeployError(*exc.problems, *missing.problems, code=exc.code) from None
    if missing is not None:
        raise missing
    # Pulumi in a session of its own: each signal reaches it from dizuo only, once (_cancel_pulumi).
    with tempfile.TemporaryDirectory(prefix="dizuo-pulumi-") as wrapper_root:
        session_command = pulumi_in_a_session_of_its_own(pulumi_path, Path(wrapper_root))
        if folder is not None:
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DeployError(f"{backend_named(backend, url)}: cannot create it: {exc.strerror or exc}") from None
        return _run_stacks(action, stack, selected, pack, url, session_command, on_output)


def _checked_inputs(
    stack: str, stacks_root: Path, backend: str | None, only: set[str] | None, *, new_backend: bool
) -> tuple[list[StackDir], Path, str, Path | None]:
    """:func:`run`'s checks of what it was given, before Pulumi runs: the stacks selected, their policy pack, the
    backend's URL and its folder (None for a bucket). DeployError for the first problem."""
    selected = selected_stacks(stacks_root, only)
    check_stack_configs(selected, stack)
    pack = policy_pack(stacks_root)
    url = backend_url(backend)
    folder = state_folder(url)
    # A preview too: it creates the stacks in the backend it is given, and an update would then find state there.
    if folder is not None and not (folder / ".pulumi").is_dir() and not new_backend:
        raise DeployError(
            f"{backend_named(backend, url)}: holds no Pulumi state. For the city's first deployment pass "
            "--new-backend; otherwise this is not the city's backend (the default is .pulumi-state in the current "
            "directory), and an update would create every resource a second time (a preview would create the stacks "
            "there)"
        )
    check_declarations(selected, stack)
    return selected, pack, url, folder


def _run_stacks(
    action: str,
    stack: str,
    selected: list[StackDir],
    pack: Path,
    url: str,
    session_command: PulumiCommand,
    on_output: Callable[[str], None],
) -> list[StackOutcome]:
    """:func:`run`'s preview or update of each selected stack in turn, until one fails or a signal comes."""
    from pulumi import automation as auto  # noqa: PLC0415 - only needed when the CLI exists

    outcomes: list[StackOutcome] = []
    for stack_dir in selected:
        where = stack_dir.shown
        workspace = auto.LocalWorkspaceOptions(
            work_dir=str(stack_dir.path), env_vars=program_env(url), pulumi_command=session_command
        )
        # Pulumi's stdout streams to on_output as it comes; its stderr (warnings, the error summary) is kept and
        # said once: after the stack, or in the error when the stack failed.
        stderr: list[str] = []
        streamed = False
        # A signal must not cut Pulumi short: ended mid-update (or killed by SIGPIPE as the Automation API closes its
        # pipes), it leaves the stack locked with operations pending, resources made that its state does not hold.
        # Held, Pulumi cancels as at its terminal (the operations in flight finish, the state is saved), and the signal
        # ends the command once it has, before the next tier.
        with held(on_signal=_cancel_pulumi) as interrupted:
            try:
                # Only stacks with a Pulumi.<stack>.yaml get here (check_stack_configs): a new one is the city's first.
                pulumi_stack = auto.create_or_select_stack(
                    stack_name=stack, work_dir=str(stack_dir.path), opts=workspace
                )
                streamed = True
                if interrupted():  # the signal came as the stack was selected: its preview or update never starts
                    on_output(f"stopped before {where}; not run: {_not_started(outcomes, selected)}")
                    return outcomes
                if action == "preview":
                    preview = pulumi_stack.preview(
                        on_output=on_output, on_error=stderr.append, policy_packs=[str(pack)]
                    )
                    changes = {k.value if hasattr(k, "value") else str(k): v for k, v in preview.change_summary.items()}
                else:
                    result = pulumi_stack.up(on_output=on_output, on_error=stderr.append, policy_packs=[str(pack)])
                    changes = {str(k): int(v) for k, v in (result.summary.resource_changes or {}).items()}
            except auto.errors.CommandError as exc:
                # The error's text repeats the whole of stdout, which the user has just seen stream by: only stderr
                # is new.
                if stderr:
                    said = "\n".join(stderr[-STDERR_TAIL:])
                else:
                    said = "(nothing on stderr; its output is above)" if streamed else str(exc).strip()
                if interrupted():  # Pulumi cancelled: what it said, then the signal ends the command (130, 143)
                    on_output(f"{where}: pulumi {action} cancelled:\n{said}\n{_progress(outcomes, selected)}")
                    return outcomes
                raise DeployError(
                    f"{where}: pulumi {action} failed:\n{said}\n{_progress(outcomes, selected)}", code=FAILED
                ) from exc
            except Exception as exc:  # the Automation API reading an answer of the CLI it did not expect
                raise DeployError(
                    f"{where}: pulumi {action}: could not read the CLI's answer: {type(exc).__name__}: {exc}\n"
                    f"{_progress(outcomes, selected)}",
                    code=FAILED,
                ) from exc
            for line in stderr:
                on_output(line)
            outcomes.append(StackOutcome(stack=stack_dir.path.name, changes=changes))
            if interrupted():  # the signal came as the stack finished: no tier above it starts
                on_output(f"stopped after {where}; not run: {_not_started(outcomes, selected)}")
                return outcomes
    return outcomes


def _cancel_pulumi(_signum: int) -> None:
    """Ask the running `pulumi` to cancel, as one Ctrl-C at its terminal does, for each Ctrl-C or SIGTERM dizuo gets: a
    second one makes Pulumi stop at once without saving, as its own second Ctrl-C does. Pulumi runs in a session of its
    own (:func:`pulumi_in_a_session_of_its_own`), so nothing else hands it the signal: not a terminal's Ctrl-C, which
    reaches the foreground process group, nor `kill -INT` of dizuo alone, nor SIGTERM (`timeout`, a cancelled CI
    job)."""
    for pid in _children():
        with contextlib.suppress(ProcessLookupError):  # it has just ended
            os.kill(pid, signal.SIGINT)


# Run by the Automation API as `pulumi`: the real CLI, the same process (exec), in a session of its own. The API puts
# this folder first on PATH; the CLI gets PATH as it was.
# A CLI the kernel will not run (no `#!` line, a missing interpreter) is said in one line, as sh says it, with sh's
# status for it (126), rather than a Python traceback above dizuo's own refusal.
_SESSION_WRAPPER = """#!/bin/sh
case "$PATH" in {folder}:*) PATH=${{PATH#*:}} ;; esac
exec {python} -c 'import os, sys
os.setsid()
try:
    os.execv(sys.argv[1], sys.argv[1:])
except OSError as error:
    print(f"{{sys.argv[1]}}: cannot run it: {{error.strerror}}", file=sys.stderr)
    sys.exit(126)
' {pulumi} "$@"
"""


def pulumi_in_a_session_of_its_own(pulumi_path: str, root: Path) -> PulumiCommand:
    """The Pulumi CLI at ``pulumi_path`` run through a wrapper in ``root/bin`` that starts the CLI in a session (and
    process group) of its own. In dizuo's process group a terminal's Ctrl-C reached Pulumi directly, so dizuo could
    not hand on a SIGINT sent to it alone (`kill -INT`) without a terminal's Ctrl-C reaching Pulumi twice, which stops
    it without saving; signals are not told apart by their sender.

    The Automation API checks the CLI's version (`pulumi version` against the SDK's minimum) through the wrapper too,
    so the CLI checked is the one run, not a `pulumi` of the API's own lookup on PATH. DeployError, with what to
    install, for a CLI it cannot drive (too old, or not answering)."""
    folder = root / "bin"
    folder.mkdir()
    wrapper = folder / "pulumi"  # where PulumiCommand(root=...) runs the CLI from
    wrapper.write_text(
        _SESSION_WRAPPER.format(
            folder=shlex.quote(str(folder)), python=shlex.quote(sys.executable), pulumi=shlex.quote(pulumi_path)
        ),
        encoding="utf-8",
    )
    wrapper.chmod(0o700)
    from pulumi import automation as auto  # noqa: PLC0415 - only needed when the CLI exists

    try:
        return auto.PulumiCommand(root=str(root))  # runs `pulumi version` and checks it against the SDK's minimum
    except subprocess.CalledProcessError as exc:  # named by the wrapper's path, which the user never gave
        said = f"`pulumi version` exited with status {exc.returncode}"
    except (auto.InvalidVersionError, OSError) as exc:
        said = str(exc)
    raise DeployError(f"{pulumi_path}: not a Pulumi CLI dizuo can use: {said}. {INSTALL_HOW}")


def _children() -> list[int]:
    """This process's children, from /proc: while a stack runs, the one `pulumi` command the Automation API started
    (Pulumi stops its own plugins). Where there is no /proc, none: the stack then runs to its end before the signal."""
    me = os.getpid()
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # ended meanwhile
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so the fields are read after the last ")".
        fields = text.rpartition(")")[2].split()
        if len(fields) > 1 and fields[1] == str(me):
            found.append(int(stat.parent.name))
    return found


def _not_started(outcomes: list[StackOutcome], selected: list[StackDir]) -> str:
    """The stacks after those done, in order (the one a signal stopped first): 'none' when all were done."""
    return ", ".join(s.path.name for s in selected[len(outcomes) :]) or "none"


def _progress(outcomes: list[StackOutcome], selected: list[StackDir]) -> str:
    """Which stacks were done before one failed, and which did not run."""
    done = ", ".join(o.stack for o in outcomes) or "none"
    return f"done before it: {done}; not run: {_not_started(outcomes, selected[1:])}"  # selected[len(outcomes)] failed
