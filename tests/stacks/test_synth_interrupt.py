"""Ctrl-C or SIGTERM ends a real `dizuo synth` at once, whenever it comes: exit 130 or 143, no staging folder left, the
previous build as it was, or (a signal after the atomic replace) the new one complete; never a hang."""

from __future__ import annotations

import asyncio
import gc
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
YULIN = ROOT / "inventories" / "yulin"
# A deadline for a hang, not a measurement: a whole synth takes well under it, even on a loaded machine.
ENDED_WITHIN = 120
MARK = "made before the interrupted run"


def _synth(out: Path, stacks: Path, *, prefix: tuple[str, ...] = ("-m", "dizuo")) -> list[str]:
    return [sys.executable, *prefix, "synth", str(YULIN), "--out", str(out), "--stacks", str(stacks)]


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _previous_build(reference: Path, out: Path) -> dict[str, bytes]:
    """A copy of a real build as the previous one, told apart from a new build by a key in its summary."""
    shutil.copytree(reference, out)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    (out / "summary.json").write_text(json.dumps({**summary, "note": MARK}), encoding="utf-8")
    return _tree(out)


def _built(out: Path, stacks: Path) -> Path:
    done = subprocess.run(_synth(out, stacks), capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What an uninterrupted `dizuo synth` of Yulin writes."""
    return _built(tmp_path_factory.mktemp("reference") / "build", ROOT / "stacks")


def _assert_ended_cleanly(
    code: int, signum: int, place: Path, out: Path, previous: dict[str, bytes], reference: Path, *, may_be_new: bool
) -> None:
    # -signum: the signal came as the command was already returning, and ended the interpreter itself (a shell shows
    # that as 128 + signum too).
    assert code in (128 + signum, -signum), f"exit {code} after {signal.Signals(signum).name}"
    assert sorted(p.name for p in place.iterdir()) == ["build"], "no staging or set-aside folder is left"
    tree = _tree(out)
    if tree != previous:
        assert may_be_new, "the previous build was replaced after the signal"
        assert tree == _tree(reference), "the build that replaced the previous one is not complete"


def _ctrl_c_handled() -> None:
    """In the child, before it starts: SIGINT as a terminal's Ctrl-C finds it, not ignored as a background job of a
    non-interactive shell (a CI runner) would leave it (Python installs its KeyboardInterrupt only over the default)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _staging(place: Path) -> Path | None:
    return next((p for p in place.glob(".build.*") if ".old-" not in p.name), None)


# When to send the signal: what the staging folder holds tells which program runs (they run in tier order, 0-baseline,
# 0-network, 1-cloud, 1-datapool, each stack's folder written once its program is done; the DNS zone just before the
# summary and the swap), and a little while later the program is deep in its registrations, where Pulumi's event loop
# swallowed the KeyboardInterrupt. The waits place the signal; nothing measures how long anything takes.
MOMENTS: dict[str, tuple[Callable[[Path], bool], float]] = {
    "early (the first program runs)": (lambda staging: True, 1.0),
    "mid-stack (1-cloud's program runs)": (lambda staging: (staging / "network").is_dir(), 2.0),
    "late (the last program runs)": (lambda staging: (staging / "cloud").is_dir(), 1.0),
    "final (the build is about to be swapped in)": (lambda staging: (staging / "dns").is_dir(), 0.0),
}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("moment", "signum"),
    [
        ("early (the first program runs)", signal.SIGINT),
        ("mid-stack (1-cloud's program runs)", signal.SIGTERM),
        ("late (the last program runs)", signal.SIGINT),
        ("final (the build is about to be swapped in)", signal.SIGTERM),
    ],
)
def test_synth_interrupted_at_any_moment_ends_and_leaves_one_whole_build(
    tmp_path: Path, reference: Path, moment: str, signum: int
) -> None:
    """Whenever Ctrl-C or SIGTERM comes, synth ends with the signal's exit code, removes its staging folder and leaves
    the previous build byte for byte (or, past the atomic replace, the new one complete), and says which."""
    out = tmp_path / "build"
    previous = _previous_build(reference, out)
    # The dizuo console script, as a person runs it: Ctrl-C's handler is Python's default (KeyboardInterrupt).
    process = subprocess.Popen(
        _synth(out, ROOT / "stacks", prefix=("-c", "from dizuo.entry import run; run()")),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=_ctrl_c_handled,  # noqa: PLW1509 - one signal call, no threads started in this test
    )
    try:
        reached, then = MOMENTS[moment]
        while process.poll() is None:
            staging = _staging(tmp_path)
            if staging is not None and reached(staging):
                time.sleep(then)
                break
            time.sleep(0.01)
        assert process.poll() is None or moment.startswith("final"), f"synth ended before {moment}"
        if process.poll() is None:
            process.send_signal(signum)
        output, _ = process.communicate(timeout=ENDED_WITHIN)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(
            f"synth still ran {ENDED_WITHIN} s after {signal.Signals(signum).name} at {moment}: {output[-3000:]}"
        )
    if process.returncode == 0 and moment.startswith("final"):
        return  # it had ended before the signal: nothing to judge
    assert "Traceback" not in output, output[-3000:]
    # A signal sent while the last program runs may land after the commit on a quick run: one whole build, either.
    _assert_ended_cleanly(process.returncode, signum, tmp_path, out, previous, reference, may_be_new=True)
    left = f"the previous build in {out} is left unchanged" if _tree(out) == previous else f"{out} holds it, complete"
    assert left in _said(output), output[-3000:]


# Sends the signal to its own process right after a rename of the swap: out set aside, or the build renamed into
# place (the commit). The rest is the real `dizuo synth`.
SIGNAL_AFTER_RENAME = """
import os, sys
from pathlib import Path

after, signum, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
rename = Path.rename

def rename_then_signal(self, target):
    moved = rename(self, target)
    set_aside = self == out and ".old-" in Path(target).name
    committed = Path(target) == out and self.name.startswith(f".{out.name}.") and ".old-" not in self.name
    if (after == "set-aside" and set_aside) or (after == "commit" and committed):
        os.kill(os.getpid(), signum)
    return moved

Path.rename = rename_then_signal
sys.argv = ["dizuo", *sys.argv[4:]]
from dizuo.entry import run
run()
"""


@pytest.mark.parametrize(("after", "signum"), [("set-aside", signal.SIGINT), ("commit", signal.SIGTERM)])
def test_a_signal_during_the_swap_leaves_one_whole_build(tmp_path: Path, after: str, signum: int) -> None:
    """A signal while the previous build is set aside puts it back and nothing replaces it; one right after the new
    build is renamed into place leaves that one, the previous one removed: either way exit 130/143 and nothing
    beside the build."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", stacks / "0-network")
    place = tmp_path / "place"
    place.mkdir()
    reference = _built(tmp_path / "reference", stacks)
    out = place / "build"
    previous = _previous_build(reference, out)
    command = _synth(out, stacks, prefix=("-c", SIGNAL_AFTER_RENAME, after, str(int(signum)), str(out)))
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=ENDED_WITHIN,
        preexec_fn=_ctrl_c_handled,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    _assert_ended_cleanly(done.returncode, signum, place, out, previous, reference, may_be_new=after == "commit")
    assert (_tree(out) == previous) == (after == "set-aside"), f"a signal after the {after}: {done.stderr[-2000:]}"
    said = _said(done.stderr)
    if after == "set-aside":
        assert f"interrupted: the previous build in {out} is left unchanged" in said, done.stderr[-2000:]
    else:
        assert f"interrupted after the new build was in place: {out} holds it, complete" in said, done.stderr[-2000:]


def _said(output: str) -> str:
    """Output as one line of words: Rich wraps a long line at the terminal's width (80 columns in a pipe)."""
    return " ".join(output.split())


def _interrupted_as_the_programs_run(
    out: Path, stacks: Path, signum: int, prefix: tuple[str, ...] = ("-c", "from dizuo.entry import run; run()")
) -> tuple[int, str]:
    """The exit code and stderr of a real `dizuo synth` sent ``signum`` as its stack programs start to run."""
    process = subprocess.Popen(
        _synth(out, stacks, prefix=prefix),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        preexec_fn=_ctrl_c_handled,  # noqa: PLW1509 - one signal call, no threads started in this test
    )
    while process.poll() is None and _staging(out.parent) is None:  # the programs run once the staging folder is
        time.sleep(0.01)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=ENDED_WITHIN)
    return process.returncode, stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_synth_says_so_and_that_the_previous_build_is_left(tmp_path: Path, signum: int) -> None:
    """Ctrl-C or SIGTERM while the stack programs run: beside the frozen progress bar, one line on stderr says the run
    was interrupted and the previous build is left unchanged (and, with no previous build, that nothing was written)."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", stacks / "0-network")
    reference = _built(tmp_path / "reference", stacks)
    for out in (tmp_path / "place" / "build", tmp_path / "new" / "build"):
        out.parent.mkdir()
        previous = _previous_build(reference, out) if out.parent.name == "place" else {}
        code, stderr = _interrupted_as_the_programs_run(out, stacks, signum)
        assert code in (128 + signum, -signum), stderr[-2000:]
        assert (_tree(out) if out.exists() else {}) == previous
        kept = f"the previous build in {out} is left unchanged" if previous else f"nothing was written to {out}"
        assert f"interrupted: {kept}" in _said(stderr), stderr[-2000:]


# The child's own marker of Python's shutdown: its atexit callbacks run only there.
_SHUTDOWN_SAID = (
    "-c",
    "import atexit, sys; atexit.register(lambda: print('python shut down', file=sys.stderr)); "
    "from dizuo.entry import run; run()",
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_synth_ends_without_pythons_shutdown(tmp_path: Path, signum: int) -> None:
    """Ctrl-C or SIGTERM while a stack program runs: once the interruption is said, the process ends with 130 or 143
    without Python's shutdown, which stops the program's still running thread inside grpc and then aborted the
    process ("FATAL: exception not rethrown", exit -6) on a loaded machine."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks" / "0-network", stacks / "0-network")
    out = tmp_path / "place" / "build"
    out.parent.mkdir()
    code, stderr = _interrupted_as_the_programs_run(out, stacks, signum, prefix=_SHUTDOWN_SAID)
    assert code == 128 + signum, stderr[-2000:]
    assert f"interrupted: nothing was written to {out}" in _said(stderr), stderr[-2000:]
    assert "python shut down" not in stderr, "Python's shutdown ran after the interruption was said"


def test_a_stack_program_leaves_no_event_loop_for_the_garbage_collector_to_close() -> None:
    """Every event loop a stack program's run opens (its own, and those Pulumi's mock monitor sets for the threads that
    serve its calls) is closed by the run: one left to the garbage collector, as the process exits after an interrupted
    synth, can be finalised after its own socket and print an "Exception ignored in BaseEventLoop.__del__" traceback."""
    import pulumi  # noqa: PLC0415 - only this test builds a program of its own
    import pulumi_kubernetes as k8s  # noqa: PLC0415

    from dizuo.synth.engine import run_stack  # noqa: PLC0415

    def program() -> None:
        k8s.core.v1.Namespace("one", metadata={"name": "one"})
        pulumi.export("name", "one")

    threads_before = set(threading.enumerate())
    open_before = {id(o) for o in gc.get_objects() if isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        run_stack(ROOT / "stacks" / "1-cloud", "yulin-prod", {}, set(), {}, program=program)
        for thread in set(threading.enumerate()) - threads_before:  # the monitor's threads end once the run closes
            thread.join(ENDED_WITHIN)
        gc.collect()
        left_open = [
            repr(o)
            for o in gc.get_objects()
            if isinstance(o, asyncio.AbstractEventLoop) and not o.is_closed() and id(o) not in open_before
        ]
    unclosed = [str(w.message) for w in caught if "unclosed event loop" in str(w.message)]
    assert (left_open, unclosed) == ([], []), "event loops the run left for the garbage collector"
