"""Output files are written whole and get the mode a plain open() would give them, not a temp file's 0600."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dizuo.files import (
    ChangedWhileWritingError,
    atomic_path,
    interruption_said,
    make_staging,
    output_place_problem,
    resolved_out,
    swap_in,
    write_all_atomically,
    write_atomically,
)


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask_027")
def test_written_file_has_the_umask_mode_and_no_leftovers(tmp_path: Path) -> None:
    """Under umask 027 the file is 0640 (a service in the group can read it), and nothing else is left."""
    target = tmp_path / "alerts.yaml"
    target.write_text("old\n")
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert list(tmp_path.iterdir()) == [target]


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    """An error while writing removes the temporary file and keeps the previous content."""
    target = tmp_path / "chart.png"
    target.write_bytes(b"previous")

    def render_and_fail() -> None:
        with atomic_path(target, suffix=".png") as partial:
            partial.write_bytes(b"half")
            raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        render_and_fail()
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]


def test_a_set_of_files_is_written_all_or_none(tmp_path: Path) -> None:
    """When one file of a set cannot be written, none of the set is replaced and no temporary file is left."""
    first, second = tmp_path / "junit.xml", tmp_path / "report.md"
    first.write_text("old junit")
    second.write_text("old report")
    with pytest.raises(UnicodeEncodeError):
        write_all_atomically({first: "new junit", second: "a lone surrogate \udcff is no UTF-8"})
    assert (first.read_text(), second.read_text()) == ("old junit", "old report")
    assert sorted(tmp_path.iterdir()) == [first, second]
    write_all_atomically({first: "new junit", second: b"new report"})
    assert (first.read_text(), second.read_text()) == ("new junit", "new report")


def test_a_set_of_files_one_of_which_refuses_its_rename_is_put_back_whole(
    tmp_path: Path, immutable: Callable[[Path], None]
) -> None:
    """When a file of a set refuses to be replaced (immutable, even to root), the files renamed before it are put back
    with the bytes and mode they had, one new to the set is removed again, those after it are left as they were, the
    refusal names the file refused, and no temporary file is left."""
    rules, new, page, dashboard = (tmp_path / name for name in ("alerts.yaml", "new.json", "runbook.html", "d.json"))
    for path in (rules, page, dashboard):
        path.write_text(f"old {path.name}")
    rules.chmod(0o640)
    immutable(page)
    with pytest.raises(PermissionError, match=r"Operation not permitted \(no file was replaced\)") as refused:
        write_all_atomically({rules: "new rules", new: "new file", page: "new page", dashboard: "new dashboard"})
    assert refused.value.filename == str(page)
    assert [p.read_text() for p in (rules, page, dashboard)] == ["old alerts.yaml", "old runbook.html", "old d.json"]
    assert rules.stat().st_mode & 0o777 == 0o640, oct(rules.stat().st_mode)
    assert sorted(tmp_path.iterdir()) == sorted([rules, page, dashboard]), "a new or temporary file was left behind"


def test_a_ctrl_c_while_a_set_of_files_is_renamed_into_place_is_taken_once_all_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C that comes once the first file of a set is renamed into place ends the command only after the others
    are: never the new junit.xml beside the old report.md."""
    first, second = tmp_path / "junit.xml", tmp_path / "report.md"
    first.write_text("old junit")
    second.write_text("old report")
    real_replace = Path.replace
    renamed: list[Path] = []

    def replace_then_ctrl_c(self: Path, target: Path) -> Path:
        done = real_replace(self, target)
        renamed.append(target)
        if len(renamed) == 1:
            signal.raise_signal(signal.SIGINT)
        return done

    monkeypatch.setattr(Path, "replace", replace_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        write_all_atomically({first: "new junit", second: "new report"})
    assert len(renamed) == 2, "the Ctrl-C came between the two renames"
    assert (first.read_text(), second.read_text()) == ("new junit", "new report")
    assert sorted(tmp_path.iterdir()) == [first, second]


@pytest.mark.usefixtures("umask_027")
def test_a_staged_folder_replaces_the_old_one_whole(tmp_path: Path) -> None:
    """swap_in leaves exactly the staged tree: no file of the old one, no staging or old folder beside it."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "old.png").write_bytes(b"old chart")
    staging = make_staging(out)
    assert staging.parent == tmp_path, "staged beside the target: the swap is a rename on one file system"
    assert staging.stat().st_mode & 0o777 == 0o750, "the mode mkdir gives, not mkdtemp's 0700"
    (staging / "index.html").write_text("new\n")
    swap_in(staging, out)
    assert [p.name for p in out.iterdir()] == ["index.html"]
    assert [p.name for p in tmp_path.iterdir()] == ["report"]
    fresh = make_staging(tmp_path / "new")
    swap_in(fresh, tmp_path / "new")
    assert (tmp_path / "new").is_dir(), "a target that did not exist is created"


def test_what_came_into_the_old_folder_while_the_new_was_made_puts_it_back(tmp_path: Path) -> None:
    """swap_in judges the old content once set aside: a file put there meanwhile puts the old folder back, whole,
    and nothing new replaces it."""
    out = tmp_path / "report"
    out.mkdir()
    (out / "index.html").write_text("old\n")
    staging = make_staging(out)
    (staging / "index.html").write_text("new\n")
    (out / "notes.txt").write_text("mine\n")  # written by someone while the report was made

    def problem_with(old: Path) -> str | None:
        return "holds notes.txt" if (old / "notes.txt").exists() else None

    with pytest.raises(ChangedWhileWritingError, match=r"holds notes\.txt"):
        swap_in(staging, out, problem_with)
    assert sorted(p.name for p in out.iterdir()) == ["index.html", "notes.txt"]
    assert (out / "index.html").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["report", staging.name]), "no old folder left"


def test_an_interrupted_swap_puts_the_old_folder_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C between setting the old folder aside and renaming the new one in leaves the old one where it was."""
    out = tmp_path / "build"
    out.mkdir()
    (out / "summary.json").write_text("{}\n")
    staging = make_staging(out)
    real_rename = Path.rename

    def interrupted(self: Path, target: Path) -> Path:
        if self == staging:
            raise KeyboardInterrupt
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        swap_in(staging, out)
    assert (out / "summary.json").read_text() == "{}\n"
    assert not [p for p in tmp_path.iterdir() if ".old-" in p.name]


def test_an_output_path_through_a_link_is_the_folder_the_system_means(tmp_path: Path) -> None:
    """`link/../x` names x beside the link's target (as the kernel resolves it), not x beside the link."""
    (tmp_path / "elsewhere" / "sub").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "link").symlink_to(tmp_path / "elsewhere" / "sub")
    assert resolved_out(tmp_path / "work" / "link" / ".." / "x") == tmp_path / "elsewhere" / "x"
    assert resolved_out(tmp_path / "work" / "link") == tmp_path / "work" / "link", "a link itself stays one"


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda root: root / "new", None),
        (lambda root: (root / "empty").mkdir() or root / "empty", None),
        (lambda root: (root / "link").symlink_to(root) or root / "link", "is a symbolic link"),
        (lambda root: (root / "f").write_text("mine") and root / "f", "exists and is not a directory"),
        (lambda root: (root / "f").write_text("mine") and root / "f" / "out", "/f is a file, not a directory"),
        (lambda root: root, "is the working directory or holds it; the build replaces"),
        (lambda root: root.parent, "is the working directory or holds it"),
    ],
    ids=["new", "empty", "a-link", "a-file", "under-a-file", "the-working-directory", "holding-it"],
)
def test_a_place_an_output_folder_cannot_be_replaced_whole_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make, problem
) -> None:
    """One judgement of an output folder's place for synth, report and migrate city, each saying what it writes."""
    monkeypatch.chdir(tmp_path)
    found = output_place_problem(resolved_out(make(tmp_path)), "the build")
    assert (found is None) if problem is None else (found is not None and problem in found), found


def test_a_mount_point_is_no_place_for_an_output_folder() -> None:
    """A mount point cannot be renamed onto: refused before the work, not when the work is done."""
    mounted = next((Path(p) for p in ("/proc", "/sys", "/dev") if os.path.ismount(p)), None)
    if mounted is None:
        pytest.skip("no mount point to try here")
    assert "is a mount point, which the report cannot be renamed onto" in str(
        output_place_problem(mounted, "the report")
    )


def test_an_unwritable_parent_is_found_before_the_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is made beside --out: a parent nobody may write is named up front (root may write anywhere, so
    the permission is what os.access says)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    assert output_place_problem(locked / "out", "the plan") == (
        f"{locked} is not writable (the plan is written beside out and renamed into place)"
    )
    assert output_place_problem(locked, "the plan") == "is not writable"


def test_a_bind_mount_of_the_same_disk_is_no_place_for_an_output_folder(tmp_path: Path) -> None:
    """A folder bind-mounted onto another of the same file system (as CI runners and containers do) cannot be
    renamed onto either; os.path.ismount does not see it, the kernel's mount table does."""
    source, target = tmp_path / "source", tmp_path / "with space"
    source.mkdir()
    target.mkdir()
    mounted = subprocess.run(["mount", "--bind", str(source), str(target)], capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        assert not os.path.ismount(target), "the case this guards: the device comparison misses it"
        assert "is a mount point" in str(output_place_problem(target, "the report"))
        assert output_place_problem(source, "the report") is None, "the folder mounted elsewhere is no mount point"
    finally:
        subprocess.run(["umount", str(target)], check=True)


def _previous_and_staged(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "build"
    out.mkdir()
    (out / "summary.json").write_text("old\n")
    staging = make_staging(out)
    (staging / "summary.json").write_text("new\n")
    return out, staging


def test_a_ctrl_c_after_the_commit_finds_the_swap_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the previous folder is removed (the new one already in place) is taken once the swap is done: the
    new folder is whole and the old one gone, nothing set aside is left."""
    out, staging = _previous_and_staged(tmp_path)
    remove = shutil.rmtree

    def remove_and_interrupt(path: Path, *args: Any, **kwargs: Any) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        remove(path, *args, **kwargs)

    monkeypatch.setattr(shutil, "rmtree", remove_and_interrupt)
    # Ctrl-C as Python handles it by default, whatever an earlier test or the runner's shell left (a background job
    # of a non-interactive shell starts with SIGINT ignored).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            swap_in(staging, out)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (out / "summary.json").read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["build"]


def test_a_signal_whose_handler_returns_still_stops_the_swap(tmp_path: Path) -> None:
    """A SIGTERM that arrives with the previous folder set aside, under a handler that only takes note (a server's
    stop flag), leaves the previous folder in place and says so (InterruptedError): nothing swapped in after it."""
    out, staging = _previous_and_staged(tmp_path)
    noted: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: noted.append(signum))
    try:
        with pytest.raises(InterruptedError, match="interrupted before build was replaced"):
            swap_in(staging, out, lambda _old: os.kill(os.getpid(), signal.SIGTERM))
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert noted == [signal.SIGTERM], "the signal reached its own handler"
    assert (out / "summary.json").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["build", staging.name]), "no old folder left"


REPORTS = ("report.md", "results.json")


def _interrupted_after(tmp_path: Path, commit: bool) -> list[str]:
    """What interruption_said says of a report folder's files when Ctrl-C comes before or after they are replaced."""
    reports = tmp_path / "reports"
    write_all_atomically({reports / name: "previous\n" for name in REPORTS})
    said: list[str] = []

    def interrupted() -> None:
        with interruption_said(reports, "reports", said.append, files=REPORTS, plural=True):
            if commit:
                write_all_atomically({reports / name: "new\n" for name in REPORTS})
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    return said


def test_an_interruption_before_the_files_are_replaced_says_the_previous_ones_are_left(tmp_path: Path) -> None:
    """Ctrl-C before a set of files is replaced: one line says the previous files in the folder are left unchanged."""
    assert _interrupted_after(tmp_path, commit=False) == [
        f"interrupted: the previous reports in {tmp_path / 'reports'} are left unchanged"
    ]


def test_an_interruption_after_the_files_are_replaced_says_the_new_ones_are_in_place(tmp_path: Path) -> None:
    """Ctrl-C once a set of files is renamed into place: one line says the folder holds the new ones, complete."""
    assert _interrupted_after(tmp_path, commit=True) == [
        f"interrupted after the new reports were in place: {tmp_path / 'reports'} holds them, complete"
    ]


def test_an_empty_output_folder_left_as_it_was_is_said_to_have_nothing_written(tmp_path: Path) -> None:
    """An interrupted command whose --out is an empty folder says nothing was written to it, not that a previous
    output in it is left."""
    out = tmp_path / "plan"
    out.mkdir()
    said: list[str] = []
    with pytest.raises(SystemExit), interruption_said(out, "plan", said.append):
        raise SystemExit(128 + signal.SIGTERM)  # the CLI's SIGTERM
    assert said == [f"interrupted: nothing was written to {out}"]


def test_a_command_s_own_exit_is_no_interruption(tmp_path: Path) -> None:
    """A command ending itself (SystemExit 1) within the block is not said to be interrupted."""
    said: list[str] = []
    with pytest.raises(SystemExit), interruption_said(tmp_path / "build", "build", said.append):
        raise SystemExit(1)
    assert said == []
