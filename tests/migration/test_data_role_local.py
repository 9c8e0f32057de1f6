"""roles/data_migration run for real by ansible-playbook on this machine (connection local), over folders of a
temporary directory: the playbook, the role's tasks, rsync and the checks, without a booted host.

The checks are installed into the test's folder and the evidence kept there; nothing outside it is written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .conftest import mounted_tmpfs

REPO = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).parent / "ansible-playbook"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the role sets owners (root's scratch folder, numeric ids)"),
    pytest.mark.skipif(shutil.which("rsync") is None, reason="rsync is not installed"),
]


class Wave:
    """A wave's copies between folders of ``root``, and ansible-playbook to run roles/data_migration.yml on them."""

    def __init__(
        self,
        root: Path,
        names: tuple[str, ...] = ("sys-a",),
        *,
        group: str = "migration",
        hosts: str | None = "localhost",
    ) -> None:
        self.root, self.hosts = root, hosts
        self.evidence = root / "evidence"
        (root / "bin").mkdir(parents=True)
        self.copies = [
            {"name": name, "source": str(root / "old" / name), "destination": str(root / "new" / name)}
            for name in names
        ]
        for copy in self.copies:
            Path(copy["source"]).mkdir(parents=True)
            Path(copy["destination"]).mkdir(parents=True)
        (root / "data-copies.yml").write_text(yaml.safe_dump({"data_migration_copies": self.copies}), "utf-8")
        local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        inventory = {"all": {"children": {group: {"hosts": {"localhost": local}}}}}
        (root / "hosts.yml").write_text(yaml.safe_dump(inventory), "utf-8")

    def source(self, name: str = "sys-a") -> Path:
        return self.root / "old" / name

    def destination(self, name: str = "sys-a") -> Path:
        return self.root / "new" / name

    def command(self, *extra: str) -> list[str]:
        return [
            str(ANSIBLE), "-i", str(self.root / "hosts.yml"), str(REPO / "roles" / "data_migration.yml"),
            "-e", f"@{self.root / 'data-copies.yml'}",
            "-e", json.dumps({
                "data_migration_digest_command": str(self.root / "bin" / "dizuo-tree-digest"),
                "data_migration_evidence_dir": str(self.evidence),
                "data_migration_packages": [],  # rsync and Python are this machine's
                "data_migration_require_mounts": False,  # folders of one disk
                **({} if self.hosts is None else {"data_migration_hosts": self.hosts}),
            }),
            *extra,
        ]  # fmt: skip

    def env(self, path: str | None = None) -> dict[str, str]:
        env = {**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "1"}
        if path is not None:
            env["PATH"] = path
        return env

    def play(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*extra), capture_output=True, text=True, timeout=600, check=False, env=self.env()
        )


def _tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry below ``root``: type, mode, content or link target."""
    out: dict[str, tuple[object, ...]] = {}
    for path in sorted(root.rglob("*")):
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        body = os.readlink(path) if kind == "link" else path.read_bytes() if kind == "file" else b""
        out[str(path.relative_to(root))] = (kind, path.lstat().st_mode & 0o7777, body)
    return out


def test_the_default_group_is_one_a_declaration_can_hold_and_no_matching_host_fails(tmp_path: Path) -> None:
    """Without data_migration_hosts the hosts of group data_migration copy; a pattern matching no host fails the
    run, saying how to name the migration host, instead of copying nothing and exiting 0."""
    wave = Wave(tmp_path / "grouped", group="data_migration", hosts=None)
    (wave.source() / "data.csv").write_text("a,b\n", encoding="utf-8")
    done = wave.play()
    assert done.returncode == 0, done.stdout + done.stderr
    assert (wave.destination() / "data.csv").read_text(encoding="utf-8") == "a,b\n"
    lone = Wave(tmp_path / "ungrouped", hosts=None)
    (lone.source() / "data.csv").write_text("a,b\n", encoding="utf-8")
    done = lone.play()
    assert done.returncode != 0, "a copy that ran on no host must not succeed"
    assert "-e data_migration_hosts=<host>" in done.stdout, done.stdout
    assert not (lone.destination() / "data.csv").exists()
    done = lone.play("-e", "data_migration_hosts=localhost")  # the migration host named
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_run_without_the_wave_s_list_fails_and_an_empty_list_is_a_wave_with_nothing_to_copy(tmp_path: Path) -> None:
    """The wave's data-copies.yml left out of the command copied nothing and exited 0, read as the wave copied: it
    now fails before anything is installed, saying to pass the list; a list of no copies (a wave whose systems hold no
    volume) still runs and succeeds."""
    wave = Wave(tmp_path)
    (wave.source() / "data.csv").write_text("a,b\n", encoding="utf-8")
    command = wave.command()
    at = command.index(f"@{wave.root / 'data-copies.yml'}") - 1
    del command[at : at + 2]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=wave.env())
    assert done.returncode != 0, "a run given no copies must not succeed"
    assert "No data_migration_copies: nothing would be copied. Pass the wave's list" in done.stdout, done.stdout
    assert not (wave.root / "bin" / "dizuo-tree-digest").exists(), "the run went on after the missing list"
    (wave.root / "data-copies.yml").write_text(yaml.safe_dump({"data_migration_copies": []}), "utf-8")
    done = wave.play()
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (wave.destination() / "data.csv").exists(), "an empty list copies nothing"


def test_a_final_sync_removes_what_the_source_deleted_or_renamed_since_the_verified_copy(tmp_path: Path) -> None:
    """A first pass verified, then the application deletes a log, renames a file and drops a folder: the final sync
    removes exactly those from the destination and verifies; the source is not touched."""
    wave = Wave(tmp_path)
    source = wave.source()
    (source / "old-reports" / "2025").mkdir(parents=True)
    (source / "old-reports" / "2025" / "q4.pdf").write_bytes(b"%PDF q4")
    (source / "app.log").write_text("started\n", encoding="utf-8")
    (source / "draft.txt").write_text("text\n", encoding="utf-8")
    (source / "kept.bin").write_bytes(b"kept")
    first = wave.play()
    assert first.returncode == 0, first.stdout + first.stderr
    (source / "app.log").unlink()
    (source / "draft.txt").rename(source / "final.txt")
    shutil.rmtree(source / "old-reports")
    before = _tree(source)
    done = wave.play()
    assert done.returncode == 0, done.stdout + done.stderr
    assert _tree(wave.destination()) == before
    assert _tree(source) == before, "the source was changed"


def test_check_mode_writes_no_marker_and_the_guard_still_refuses_foreign_data(tmp_path: Path) -> None:
    """--check over an empty destination leaves no in-progress marker: data written into the destination after it
    is still refused by the real run, never copied over."""
    wave = Wave(tmp_path)
    installed = wave.play()  # the checks installed (check mode skips them before), an empty source copied
    assert installed.returncode == 0, installed.stdout + installed.stderr
    (wave.source() / "data.csv").write_text("old\n", encoding="utf-8")
    checked = wave.play("--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not (wave.evidence / "sys-a.sha256.in-progress").exists(), "check mode wrote the in-progress marker"
    (wave.destination() / "data.csv").write_text("written by the application\n", encoding="utf-8")
    done = wave.play()
    assert done.returncode != 0
    assert "since the last verified copy" in done.stdout, done.stdout
    assert (wave.destination() / "data.csv").read_text(encoding="utf-8") == "written by the application\n"


def test_one_refused_copy_does_not_stop_the_others_and_fails_the_run(tmp_path: Path) -> None:
    """A wave's first copy refused (its destination holds someone's data): the second is still copied and verified,
    the run fails naming the first, and the refusal warns that a repair would copy over a switched system."""
    wave = Wave(tmp_path, ("sys-a", "sys-b"))
    for name in ("sys-a", "sys-b"):
        (wave.source(name) / "data.csv").write_text(f"{name}\n", encoding="utf-8")
    assert wave.play().returncode == 0
    (wave.destination("sys-a") / "after-switch.log").write_text("new\n", encoding="utf-8")
    (wave.source("sys-b") / "late.csv").write_text("late\n", encoding="utf-8")
    done = wave.play()
    assert done.returncode != 0
    assert (wave.destination("sys-b") / "late.csv").read_text(encoding="utf-8") == "late\n", done.stdout
    assert "1 of 2 copies failed, each named above where it failed: sys-a." in done.stdout, done.stdout
    assert "take its copy out of the list instead" in done.stdout, done.stdout
    assert (wave.destination("sys-a") / "after-switch.log").exists()


def test_a_repair_applies_to_the_copies_it_names_and_no_other(tmp_path: Path) -> None:
    """A repair named as a string (-e data_migration_repair=rsj-db) repairs rsj-db only: rsj, switched to its new
    volume, is not taken for it (its name is part of the string) and what its application wrote is kept; a repair
    naming no copy of the list stops the run before anything is copied."""
    wave = Wave(tmp_path, ("rsj", "rsj-db"))
    for name in ("rsj", "rsj-db"):
        (wave.source(name) / "data.csv").write_text(f"{name} before the switch\n", encoding="utf-8")
    first = wave.play()
    assert first.returncode == 0, first.stdout + first.stderr
    switched = wave.destination("rsj") / "data.csv"
    switched.write_text("written by rsj after the switch\n", encoding="utf-8")
    flipped = wave.destination("rsj-db") / "data.csv"
    flipped.write_text("rsj-db before the switcX\n", encoding="utf-8")
    done = wave.play("-e", "data_migration_repair=rsj-db")
    assert switched.read_text(encoding="utf-8") == "written by rsj after the switch\n", "rsj was repaired too"
    assert flipped.read_text(encoding="utf-8") == "rsj-db before the switch\n", done.stdout
    assert done.returncode != 0, "rsj's destination was written since its verified copy: it must be refused"
    assert "1 of 2 copies failed, each named above where it failed: rsj." in done.stdout, done.stdout
    (wave.source("rsj-db") / "late.csv").write_text("late\n", encoding="utf-8")
    typo = wave.play("-e", '{"data_migration_repair": ["rsj_db"]}')
    assert typo.returncode != 0
    assert "data_migration_repair names rsj_db, which is no copy of data_migration_copies" in typo.stdout, typo.stdout
    assert not (wave.destination("rsj-db") / "late.csv").exists(), "a run with a misnamed repair copied"


def test_check_mode_does_not_say_the_other_copies_were_copied(tmp_path: Path) -> None:
    """--check with one copy refused names it and says that nothing was copied, not that the others were copied and
    verified: the other copy's new file is still to be sent."""
    wave = Wave(tmp_path, ("sys-a", "sys-b"))
    assert wave.play().returncode == 0  # the checks installed, the empty sources copied
    (wave.destination("sys-a") / "after-switch.log").write_text("new\n", encoding="utf-8")
    (wave.source("sys-b") / "late.csv").write_text("late\n", encoding="utf-8")
    checked = wave.play("--check")
    assert checked.returncode != 0
    assert "1 of 2 copies would fail, each named above where it failed: sys-a." in checked.stdout, checked.stdout
    assert "Check mode: nothing was copied; the others would be." in checked.stdout, checked.stdout
    assert "copied and verified" not in checked.stdout, checked.stdout
    assert not (wave.destination("sys-b") / "late.csv").exists()


def test_a_wave_of_one_copy_that_fails_speaks_of_that_copy_not_of_others(tmp_path: Path) -> None:
    """A wave with one copy refused ends naming that copy, not "1 of 1 copies" nor "the others were copied and
    verified" (there are none), in a real run and in check mode."""
    wave = Wave(tmp_path)
    assert wave.play().returncode == 0  # the checks installed, the empty source copied
    (wave.destination() / "after-switch.log").write_text("new\n", encoding="utf-8")
    done = wave.play()
    assert done.returncode != 0
    assert "The copy sys-a failed, as said above where it failed. It is not verified." in done.stdout, done.stdout
    checked = wave.play("--check")
    assert checked.returncode != 0
    assert "The copy sys-a would fail, as said above where it failed. Check mode: nothing was copied." in (
        checked.stdout
    ), checked.stdout
    for said in (done.stdout, checked.stdout):
        assert "1 of 1" not in said, said
        assert "others" not in said, said


def _rsync_pids(marker: str) -> list[int]:
    """The rsync processes whose command line holds ``marker`` (this test's own folder)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"rsync") and any(marker.encode() in arg for arg in argv):
                pids.append(int(entry.name))
    return pids


def _receiving_big_bin(wave: Wave, tmp_path: Path, kbps: int) -> subprocess.Popen[bytes]:
    """The wave's playbook started over a slow link (rsync --bwlimit ``kbps``), once rsync is receiving big.bin: so
    that a kill lands while the file is half received."""
    slow = tmp_path / "slow-link"
    slow.mkdir()
    (slow / "rsync").write_text(f'#!/bin/sh\nexec {shutil.which("rsync")} --bwlimit={kbps} "$@"\n', encoding="utf-8")
    (slow / "rsync").chmod(0o755)
    # rsync's temporary name: .big.bin.XXXXXX beside the file, or big.bin.XXXXXX in a --temp-dir.
    return _started_until(
        wave, slow, lambda: any(p.stat().st_size > 0 for p in wave.destination().rglob("*big.bin.*")),
        "rsync never started receiving big.bin",
    )  # fmt: skip


def _started_until(wave: Wave, tools: Path, reached: Callable[[], bool], never: str) -> subprocess.Popen[bytes]:
    """The wave's playbook started in a session of its own with ``tools`` first on PATH, once ``reached`` holds
    (killed, and the test failed saying ``never``, if it ends or two minutes pass first)."""
    play = subprocess.Popen(
        wave.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=wave.env(f"{tools}:{os.environ['PATH']}"),
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not reached():
        if play.poll() is not None or time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(play.pid, signal.SIGKILL)
            pytest.fail(never)
        time.sleep(0.05)
    return play


def test_a_copy_killed_outright_leaves_nothing_a_rerun_trips_on(tmp_path: Path) -> None:
    """rsync and the playbook killed with SIGKILL in the middle of a file: the next run resumes, verifies, and
    leaves neither rsync's half-received file nor its scratch folder in the destination."""
    wave = Wave(tmp_path)
    (wave.source() / "big.bin").write_bytes(os.urandom(24 * 2**20))
    (wave.source() / "small.txt").write_text("small\n", encoding="utf-8")
    play = _receiving_big_bin(wave, tmp_path, kbps=2000)
    try:
        for pid in _rsync_pids(str(tmp_path)):
            os.kill(pid, signal.SIGKILL)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(play.pid, signal.SIGKILL)
        play.wait()
    done = wave.play()
    assert done.returncode == 0, done.stdout + done.stderr
    assert _tree(wave.destination()) == _tree(wave.source())


def test_a_rerun_while_a_killed_run_s_rsync_still_copies_is_refused_naming_its_pid(tmp_path: Path) -> None:
    """ansible-playbook SIGKILLed while its rsync copies: the rsync goes on holding the copy's lock, and a rerun
    fails that copy naming the rsync's pid instead of copying alongside it, saying it left it untouched (the wave's
    other copy still verifies); once that rsync has ended, the next run resumes and verifies."""
    wave = Wave(tmp_path, ("sys-a", "sys-b"))
    (wave.source() / "big.bin").write_bytes(os.urandom(32 * 2**20))
    (wave.source("sys-b") / "data.csv").write_text("b\n", encoding="utf-8")
    play = _receiving_big_bin(wave, tmp_path, kbps=1000)
    try:
        os.kill(play.pid, signal.SIGKILL)  # ansible-playbook only: its rsync goes on
        play.wait()
        orphans = _rsync_pids(str(tmp_path))
        assert orphans, "the killed run's rsync should still be copying"
        done = wave.play()
        assert _rsync_pids(str(tmp_path)), "the killed run's rsync ended before the rerun was refused: too fast a link"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(play.pid, signal.SIGKILL)
        for pid in _rsync_pids(str(tmp_path)):  # in the session of ansible's worker, not the playbook's
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert done.returncode != 0, "a rerun copied alongside the killed run's rsync"
    assert "is held by another run of this copy: pid" in done.stdout, done.stdout
    assert any(f"pid {pid} (" in done.stdout for pid in orphans), (orphans, done.stdout)
    assert (
        "1 of 2 copies failed, each named above where it failed: sys-a. sys-a was refused: another run holds its lock "
        "(named above), and this run left it untouched. The others were copied and verified."
    ) in done.stdout, done.stdout
    assert (wave.destination("sys-b") / "data.csv").exists()
    deadline = time.monotonic() + 30
    while _rsync_pids(str(tmp_path)):
        assert time.monotonic() < deadline, "the killed rsync did not end"
        time.sleep(0.1)
    again = wave.play()
    assert again.returncode == 0, again.stdout + again.stderr
    assert _tree(wave.destination()) == _tree(wave.source())


def _paused_between_guard_and_rsync(wave: Wave, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """The wave's playbook started and stopped between its guard and its rsync, where no step of it runs (nor holds
    the copy's flock): PATH's touch, which the task between them runs, waits until the returned file exists."""
    gate, paused = tmp_path / "go", tmp_path / "paused"
    between = tmp_path / "between-steps"
    between.mkdir()
    (between / "touch").write_text(
        f"#!/bin/sh\nif [ ! -e {gate} ]; then\n  echo $$ > {paused}\n"
        f"  for _ in $(seq 3000); do [ -e {gate} ] && break; sleep 0.1; done\nfi\n"
        f'exec {shutil.which("touch")} "$@"\n',
        encoding="utf-8",
    )
    (between / "touch").chmod(0o755)
    play = _started_until(
        wave, between, lambda: paused.exists() and paused.read_text(encoding="utf-8").strip() != "",
        "the run never reached the task between its guard and its rsync",
    )  # fmt: skip
    return play, gate


def test_a_second_run_started_between_a_run_s_steps_is_refused_and_the_first_completes(tmp_path: Path) -> None:
    """A run between its guard and its rsync (no step of it running) owns the copy: a second run started then fails
    that copy naming the first's ansible-playbook, copies nothing and says it left the copy untouched (not that it
    is unverified); the first then copies and verifies, and the run after both finds the copy free and changes
    nothing."""
    wave = Wave(tmp_path)
    (wave.source() / "data.csv").write_text("a,b\n", encoding="utf-8")
    play, gate = _paused_between_guard_and_rsync(wave, tmp_path)
    try:
        second = wave.play()
        copied_by_the_second = (wave.destination() / "data.csv").exists()
    finally:
        gate.touch()
        first = play.wait(timeout=600)
    assert second.returncode != 0, "a second run went on between the first run's guard and its rsync"
    assert f"is held by another run of this copy, between two of its steps: ansible-playbook pid {play.pid} on" in (
        second.stdout
    ), second.stdout
    assert not copied_by_the_second, "the second run copied into the first run's copy"
    refused = "It was refused: another run holds its lock (named above), and this run left it untouched."
    assert f"The copy sys-a failed, as said above where it failed. {refused}" in second.stdout, second.stdout
    assert "not verified" not in second.stdout, second.stdout
    assert first == 0, "the first run did not copy and verify after the second was refused"
    assert _tree(wave.destination()) == _tree(wave.source())
    after = wave.play()
    assert after.returncode == 0, after.stdout + after.stderr
    assert "changed=0" in after.stdout, after.stdout


def test_a_run_killed_between_its_steps_does_not_hold_its_copy_against_the_next(tmp_path: Path) -> None:
    """ansible-playbook SIGKILLed between its guard and its rsync leaves the copy recorded as its own: the next run
    from the same controller finds it gone, takes the copy over saying from which run, copies and verifies."""
    wave = Wave(tmp_path)
    (wave.source() / "data.csv").write_text("a,b\n", encoding="utf-8")
    play, _ = _paused_between_guard_and_rsync(wave, tmp_path)
    waiting = int((tmp_path / "paused").read_text(encoding="utf-8"))
    with contextlib.suppress(ProcessLookupError):
        os.killpg(play.pid, signal.SIGKILL)
    play.wait()
    with contextlib.suppress(ProcessLookupError):  # in the session of ansible's worker, not the playbook's
        os.kill(waiting, signal.SIGKILL)
    assert (wave.evidence / "sys-a.sha256.lock.run").exists(), "the killed run left no record: nothing is tested"
    done = wave.play()
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"from ansible-playbook pid {play.pid} on" in done.stdout, done.stdout
    assert "that run is gone (its ansible-playbook no longer runs)" in done.stdout, done.stdout
    assert _tree(wave.destination()) == _tree(wave.source())
    assert not (wave.evidence / "sys-a.sha256.lock.run").exists(), "the copy was not released after it verified"


def test_a_verified_copy_whose_run_record_cannot_be_cleared_does_not_fail_the_run(tmp_path: Path) -> None:
    """The evidence folder read-only by the copy's last step (after its verify): the copy stays verified and the run
    succeeds, its record left; the next run finds that run gone, takes the copy over and changes nothing."""
    wave = Wave(tmp_path)
    (wave.source() / "data.csv").write_text("a,b\n", encoding="utf-8")
    tools, counted = tmp_path / "read-only-at-the-end", tmp_path / "touched"
    tools.mkdir()
    # The second touch is the task right before the copy's last step: the evidence folder goes read-only there.
    (tools / "touch").write_text(
        f"#!/bin/sh\nif [ -e {counted} ]; then mount -o remount,bind,ro {wave.evidence}; else : > {counted}; fi\n"
        f'exec {shutil.which("touch")} "$@"\n',
        encoding="utf-8",
    )
    (tools / "touch").chmod(0o755)
    wave.evidence.mkdir()
    subprocess.run(["mount", "--bind", str(wave.evidence), str(wave.evidence)], check=True)
    try:
        done = _play_with(wave, f"{tools}:{os.environ['PATH']}")
    finally:
        subprocess.run(["umount", str(wave.evidence)], check=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (wave.evidence / "sys-a.sha256").exists(), "the copy was not verified"
    assert (wave.evidence / "sys-a.sha256.lock.run").exists(), "the record was cleared: nothing is tested"
    after = wave.play()
    assert after.returncode == 0, after.stdout + after.stderr
    assert "that run is gone" in after.stdout, after.stdout
    assert "changed=0" in after.stdout, after.stdout


def test_a_copy_that_filled_its_destination_resumes_once_the_volume_has_room(tmp_path: Path) -> None:
    """A copy cut short by a full destination (rsync had made folders ahead of what its log names) resumes once the
    volume has room: the rerun copies the rest and verifies, instead of taking those folders for an application's."""
    wave = Wave(tmp_path)
    for folder in ("d1", "d2", "d3", "d4"):
        (wave.source() / folder).mkdir()
        for name in ("f1", "f2"):
            (wave.source() / folder / name).write_bytes(os.urandom(400_000))
    with mounted_tmpfs(wave.destination(), size="1m"):
        full = wave.play()
        assert full.returncode != 0, "3.2 MB should not have fitted into 1 MiB"
        subprocess.run(["mount", "-o", "remount,size=20m", str(wave.destination())], check=True)
        done = wave.play()
        assert done.returncode == 0, done.stdout + done.stderr
        assert _tree(wave.destination()) == _tree(wave.source())


def _rsync_then(tmp_path: Path, script: str) -> str:
    """A PATH whose rsync runs the real one, then ``script`` (sh): what happens while the role's copy runs."""
    wrapper = tmp_path / "rsync-then"
    wrapper.mkdir()
    (wrapper / "rsync").write_text(f'#!/bin/sh\n{shutil.which("rsync")} "$@" || exit $?\n{script}\n', encoding="utf-8")
    (wrapper / "rsync").chmod(0o755)
    return f"{wrapper}:{os.environ['PATH']}"


def _play_with(wave: Wave, path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(wave.command(), capture_output=True, text=True, timeout=600, check=False, env=wave.env(path))


def test_a_rerun_never_resumes_over_what_a_switched_system_wrote_after_its_verify_failed(tmp_path: Path) -> None:
    """sys-a verified and switched; a rerun's verify fails because the application writes accounts.db meanwhile: the
    next rerun does not take that for its own unfinished copy: it refuses, naming accounts.db, and leaves it."""
    wave = Wave(tmp_path / "wave", ("sys-a", "sys-b"))
    for name in ("sys-a", "sys-b"):
        (wave.source(name) / "accounts.db").write_text(f"{name} before the switch\n", encoding="utf-8")
    first = wave.play()
    assert first.returncode == 0, first.stdout + first.stderr
    accounts = wave.destination("sys-a") / "accounts.db"
    written = _play_with(wave, _rsync_then(tmp_path, f"echo 'after the switch' > {accounts}"))
    assert written.returncode != 0, "the verify should have seen the application's write"
    assert "differs: accounts.db" in written.stdout, written.stdout
    done = wave.play()
    assert done.returncode != 0, "a rerun copied the old source over what the switched system wrote"
    assert "accounts.db" in done.stdout, done.stdout
    assert "resuming the unfinished copy" not in done.stdout, done.stdout
    assert accounts.read_text(encoding="utf-8") == "after the switch\n"


def test_what_an_unfinished_copy_wrote_and_the_source_then_lost_is_removed(tmp_path: Path) -> None:
    """A copy that did not verify (the source was written while rsync ran) holds a file the source then deletes:
    the next run removes it (rsync logged it as the role's own), the copy verifies; a repair of a copy left so
    removes it too, instead of failing on "only in the destination" for ever."""
    for repair in (False, True):
        wave = Wave(tmp_path / f"repair-{repair}")
        (wave.source() / "y.tmp").write_text("scratch\n", encoding="utf-8")
        (wave.source() / "x.db").write_text("x\n", encoding="utf-8")
        busy = _play_with(wave, _rsync_then(tmp_path / f"repair-{repair}", f"echo more >> {wave.source() / 'x.db'}"))
        assert busy.returncode != 0, busy.stdout
        (wave.source() / "y.tmp").unlink()
        done = wave.play(*(["-e", '{"data_migration_repair": ["sys-a"]}'] if repair else []))
        assert done.returncode == 0, done.stdout + done.stderr
        assert not (wave.destination() / "y.tmp").exists()
        assert _tree(wave.destination()) == _tree(wave.source())


def test_what_fsck_recovered_into_the_source_s_lost_found_stops_the_copy_until_it_is_recovered(tmp_path: Path) -> None:
    """Files fsck left in the source's top-level lost+found fail that copy's verify, named with their count and what
    to do (the wave's other copies still verify, the source is not touched); once they are recovered into the tree
    the copy verifies; an empty lost+found stays left out, as ext4's own."""
    wave = Wave(tmp_path, ("sys-a", "sys-b"))
    for name in ("sys-a", "sys-b"):
        (wave.source(name) / "data.csv").write_text(f"{name}\n", encoding="utf-8")
        (wave.source(name) / "lost+found").mkdir(mode=0o700)
    found = wave.source("sys-a") / "lost+found"
    for inode in range(131074, 131074 + 53):
        (found / f"#{inode}").write_text(f"invoice {inode}: recovered by fsck\n", encoding="utf-8")
    before = _tree(wave.source("sys-a"))
    done = wave.play()
    assert done.returncode != 0, "a copy that leaves fsck's recovered files behind must not verify"
    assert "lost+found holds 53 entries fsck recovered" in done.stdout, done.stdout
    assert "#131074, #131075" in done.stdout, done.stdout
    assert "... and 3 more" in done.stdout, done.stdout
    assert "recover each into the tree under a name" in done.stdout, done.stdout
    assert "1 of 2 copies failed, each named above where it failed: sys-a." in done.stdout, done.stdout
    assert not (wave.evidence / "sys-a.sha256").exists(), "a manifest was written for a copy that leaves data behind"
    assert (wave.evidence / "sys-b.sha256").exists(), "the other copy, whose lost+found is empty, did not verify"
    assert _tree(wave.source("sys-a")) == before, "the source was changed"
    (wave.source("sys-a") / "recovered").mkdir()
    for entry in sorted(found.iterdir()):
        entry.rename(wave.source("sys-a") / "recovered" / entry.name)
    again = wave.play()
    assert again.returncode == 0, again.stdout + again.stderr
    assert (wave.destination("sys-a") / "recovered" / "#131074").read_text(encoding="utf-8").startswith("invoice")


def test_a_source_holding_an_interrupted_copy_s_scratch_folder_is_refused_before_anything_is_copied(
    tmp_path: Path,
) -> None:
    """A source volume that was once the destination of a killed copy still holds its top-level .dizuo-rsync-tmp,
    which rsync leaves out: the run is refused before any copy, naming that folder and what to do, and the
    destination is untouched (the verify would otherwise fail on every rerun); once it is removed, the copy runs."""
    wave = Wave(tmp_path)
    (wave.source() / "ledger.dat").write_bytes(b"ledger " * 1000)
    scratch = wave.source() / ".dizuo-rsync-tmp"
    scratch.mkdir(mode=0o700)
    (scratch / ".ledger.dat.Xq3v9a").write_bytes(b"half-received")
    before = {path: _tree(path) for path in (wave.root / "old", wave.root / "new")}
    done = wave.play()
    assert done.returncode != 0, "a copy whose source holds the scratch folder can never verify: it must be refused"
    assert f"sys-a: source {wave.source()} holds {scratch}" in done.stdout, done.stdout
    assert "the scratch folder of an interrupted dizuo copy into this volume" in done.stdout, done.stdout
    assert "remove it, then rerun" in done.stdout, done.stdout
    assert {path: _tree(path) for path in before} == before, "the refused run changed the source or destination"
    assert not list(wave.evidence.glob("sys-a.sha256*")), "the refused copy was marked or recorded"
    shutil.rmtree(scratch)  # checked: the half-received file of the earlier copy, not data of this volume
    again = wave.play()
    assert again.returncode == 0, again.stdout + again.stderr
    assert (wave.destination() / "ledger.dat").read_bytes() == b"ledger " * 1000
    assert (wave.evidence / "sys-a.sha256").exists(), "the copy did not verify"


def test_a_source_the_checks_refuse_stops_its_own_copy_not_the_wave_s_others(tmp_path: Path) -> None:
    """One system's source refused by the checks of the list (it holds an interrupted copy's scratch folder; it is not
    a folder: its volume is not mounted): the wave's other system, stopped for the same window, is still copied and
    verified; the run fails naming the refused copy and why, which is left untouched."""
    wave = Wave(tmp_path, ("sys-a", "sys-b", "sys-c"))
    for name in ("sys-a", "sys-b", "sys-c"):
        (wave.source(name) / "data.csv").write_text(f"{name}\n", encoding="utf-8")
    scratch = wave.source("sys-a") / ".dizuo-rsync-tmp"
    scratch.mkdir(mode=0o700)
    shutil.rmtree(wave.source("sys-c"))
    done = wave.play()
    assert done.returncode != 0, "a refused copy fails the run"
    assert f"sys-a: source {wave.source('sys-a')} holds {scratch}" in done.stdout, done.stdout
    assert f"sys-c: source {wave.source('sys-c')} is not a folder (is the volume mounted?)" in done.stdout, done.stdout
    assert "2 of 3 copies failed, each named above where it failed: sys-a, sys-c. The others were copied" in " ".join(
        done.stdout.split()
    ), done.stdout
    assert (wave.destination("sys-b") / "data.csv").read_text(encoding="utf-8") == "sys-b\n", done.stdout
    assert (wave.evidence / "sys-b.sha256").exists(), "sys-b's copy did not verify"
    assert list(wave.destination("sys-a").iterdir()) == [], "the refused copy was written to"
    assert not list(wave.evidence.glob("sys-a.sha256*")), "the refused copy was marked or recorded"


def test_check_mode_says_a_copy_whose_source_s_lost_found_holds_files_would_fail(tmp_path: Path) -> None:
    """--check over a source whose lost+found holds what fsck recovered says, as the real run's verify would, that
    this copy would fail, naming the entries, while the wave's other copy would be copied; nothing is written."""
    wave = Wave(tmp_path, ("sys-a", "sys-b"))
    assert wave.play().returncode == 0  # the checks installed, the empty sources copied
    for name in ("sys-a", "sys-b"):
        (wave.source(name) / "data.csv").write_text(f"{name}\n", encoding="utf-8")
    found = wave.source("sys-a") / "lost+found"
    found.mkdir(mode=0o700)
    (found / "#131074").write_text("invoice: recovered by fsck\n", encoding="utf-8")
    before = {path: _tree(path) for path in (wave.root / "new", wave.evidence, wave.root / "old")}
    checked = wave.play("--check")
    assert checked.returncode != 0, "check mode said a copy that leaves fsck's recovered files behind would verify"
    assert "check mode: this copy would fail: " in checked.stdout, checked.stdout
    assert "lost+found holds 1 entry fsck recovered, which the copy leaves out" in checked.stdout, checked.stdout
    assert "(it is not the system's tree): #131074. They are data" in checked.stdout, checked.stdout
    assert "1 of 2 copies would fail, each named above where it failed: sys-a." in checked.stdout, checked.stdout
    assert "Check mode: nothing was copied; the others would be." in checked.stdout, checked.stdout
    assert {path: _tree(path) for path in before} == before, "check mode wrote something"


def test_a_same_size_change_within_the_second_or_under_a_restored_time_is_copied_again(tmp_path: Path) -> None:
    """A file rewritten at the same size within the second of the copied version is sent (times compared to the
    nanosecond); one rewritten under its very time, which rsync's quick check takes for equal, fails one verify and
    is sent by content on the next run, instead of failing every rerun for ever."""
    wave = Wave(tmp_path)
    ledger = wave.source() / "ledger.dat"
    ledger.write_bytes(b"balance=100")
    os.utime(ledger, ns=(1_700_000_000_100_000_000, 1_700_000_000_100_000_000))
    first = wave.play()
    assert first.returncode == 0, first.stdout + first.stderr
    ledger.write_bytes(b"balance=999")
    os.utime(ledger, ns=(1_700_000_000_900_000_000, 1_700_000_000_900_000_000))  # the same second
    done = wave.play()
    assert done.returncode == 0, done.stdout + done.stderr
    assert (wave.destination() / "ledger.dat").read_bytes() == b"balance=999"
    ledger.write_bytes(b"balance=555")
    os.utime(ledger, ns=(1_700_000_000_900_000_000, 1_700_000_000_900_000_000))  # the very same time
    seen = wave.play()
    assert seen.returncode != 0, "the verify should have seen the change rsync's quick check cannot"
    again = wave.play()
    assert again.returncode == 0, again.stdout + again.stderr
    assert (wave.destination() / "ledger.dat").read_bytes() == b"balance=555"


def _play_plan_wave(work: Path, copies: Path, *, require_mounts: bool) -> subprocess.CompletedProcess[str]:
    """roles/data_migration.yml on this machine with a plan's wave-NN/data-copies.yml, the checks and evidence in
    ``work``."""
    (work / "bin").mkdir(exist_ok=True)
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    (work / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"localhost": local}}}), "utf-8")
    extra = {
        "data_migration_digest_command": str(work / "bin" / "dizuo-tree-digest"),
        "data_migration_evidence_dir": str(work / "evidence"),
        "data_migration_packages": [],
        "data_migration_require_mounts": require_mounts,
        "data_migration_hosts": "localhost",
    }
    playbook = [str(ANSIBLE), "-i", str(work / "hosts.yml"), str(REPO / "roles" / "data_migration.yml")]
    return subprocess.run(
        [*playbook, "-e", f"@{copies}", "-e", json.dumps(extra)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "1"},
    )


def test_a_wave_that_moves_a_system_without_a_volume_copies_the_others(tmp_path: Path) -> None:
    """A moved system allocated no storage gets no copy in its wave's data-copies.yml: the role copies the rest."""
    from typer.testing import CliRunner  # noqa: PLC0415 - only this test plans a city

    from dizuo.cli import app  # noqa: PLC0415

    city, mounts = tmp_path / "yulin", tmp_path / "mnt"
    shutil.copytree(REPO / "inventories" / "yulin", city)
    settings = (city / "city.yaml").read_text(encoding="utf-8")
    # A window that takes slj-01 and its group whole; the mounts under this test's folder.
    settings = settings.replace("  wave_gib: 20480\n", f"  wave_gib: 61440\n  copy_mount_root: {mounts}\n", 1)
    (city / "city.yaml").write_text(settings, encoding="utf-8")
    systems = (city / "systems.yaml").read_text(encoding="utf-8")
    # jb-01 shares slj-01's platform (so it moves with it) and has no volume of its own.
    systems = systems.replace("- code: slj-01\n", "- code: slj-01\n  move_group: water\n", 1)
    jb01 = "- code: jb-01\n  move_group: water\n"
    systems = systems.replace("- code: jb-01\n", jb01, 1)
    at = systems.index(jb01)
    head, tail = systems[:at], systems[at:]
    tail = tail.replace("storage_gib: 400}\n  budget_cny: 260000\n", "storage_gib: 0}\n  budget_cny: 1000\n", 1)
    (city / "systems.yaml").write_text(head + tail, encoding="utf-8")
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    number, wave = next((k, w) for k, w in enumerate(plan["waves"], start=1) if "jb-01" in {c["system"] for c in w})
    assert {c["system"] for c in wave} >= {"jb-01", "slj-01"}, wave
    # What the migration host has: a mounted old and an empty new volume for each moved system that has a volume.
    for change in wave:
        if change["allocated_bytes"]:
            old = mounts / change["storage_pool"][0] / change["system"]
            old.mkdir(parents=True)
            (old / "data.csv").write_text(f"{change['system']}\n", encoding="utf-8")
            (mounts / change["storage_pool"][1] / change["system"]).mkdir(parents=True)
    copies = out / f"wave-{number:02d}" / "data-copies.yml"
    done = _play_plan_wave(tmp_path, copies, require_mounts=False)  # folders of one disk
    assert done.returncode == 0, done.stdout + done.stderr
    assert (mounts / "xc-ceph" / "slj-01" / "data.csv").read_text(encoding="utf-8") == "slj-01\n"
    assert "No volume to copy (storage_gib 0), so not listed: jb-01." in copies.read_text(encoding="utf-8")


def test_every_volume_of_a_forecast_wave_is_copied_each_from_its_own_mount(tmp_path: Path) -> None:
    """Planned from the usage forecast, a wave's data-copies.yml lists each measured volume of its systems: with each
    old and new volume mounted where it says, the role's checks (a mount point each, names unique) pass, and every
    volume's data arrives, none left behind."""
    from typer.testing import CliRunner  # noqa: PLC0415 - only these tests plan a city

    from dizuo.cli import app  # noqa: PLC0415
    from dizuo.declaration.loader import load  # noqa: PLC0415

    from .test_outlook import CALENDAR, write_usage  # noqa: PLC0415 - the forecast's usage CSV, with a known future

    city, mounts = tmp_path / "yulin", tmp_path / "mnt"
    shutil.copytree(REPO / "inventories" / "yulin", city)
    settings = (city / "city.yaml").read_text(encoding="utf-8")
    (city / "city.yaml").write_text(
        settings.replace("  wave_gib: 20480\n", f"  wave_gib: 20480\n  copy_mount_root: {mounts}\n", 1), "utf-8"
    )
    usage = write_usage(load(city), tmp_path / "usage.csv.gz", more_claims=("logs",))
    out = tmp_path / "plan"
    args = ["migrate", "city", str(city), "--out", str(out), "--csv", str(usage.csv), "--calendar", str(CALENDAR)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    copies_file = out / "wave-01" / "data-copies.yml"
    copies = yaml.safe_load(copies_file.read_text(encoding="utf-8"))["data_migration_copies"]
    assert len(copies) == 2 * len(plan["waves"][0]), "a copy for each system's data and logs volume"
    with contextlib.ExitStack() as mounted:
        for copy in copies:
            for end in ("source", "destination"):
                Path(copy[end]).mkdir(parents=True)
                mounted.enter_context(mounted_tmpfs(Path(copy[end]), size="1m"))
            (Path(copy["source"]) / "data.csv").write_text(f"{copy['name']}\n", encoding="utf-8")
        done = _play_plan_wave(tmp_path, copies_file, require_mounts=True)  # each volume a tmpfs of its own
        assert done.returncode == 0, done.stdout + done.stderr
        arrived = {c["name"]: (Path(c["destination"]) / "data.csv").read_text(encoding="utf-8") for c in copies}
    assert arrived == {c["name"]: f"{c['name']}\n" for c in copies}, "every volume's data, each at its own mount"
    assert {p.name for p in (tmp_path / "evidence").glob("*.sha256")} == {f"{c['name']}.sha256" for c in copies}


def test_copies_added_to_a_wave_in_a_file_beside_it_are_copied_as_readme_says(tmp_path: Path) -> None:
    """README's copies added to a wave: the planned wave-01/data-copies.yml left as it is, a volume it lacks written
    in the same form to wave-01/data-copies-added.yml beside it, and the role run once with each file. Both lists'
    data arrive (each from its own mount), and check-wave still finds the wave's copy list the planned one."""
    from typer.testing import CliRunner  # noqa: PLC0415 - only these tests plan a city

    from dizuo.cli import app  # noqa: PLC0415

    city, mounts = tmp_path / "yulin", tmp_path / "mnt"
    shutil.copytree(REPO / "inventories" / "yulin", city)
    settings = (city / "city.yaml").read_text(encoding="utf-8")
    (city / "city.yaml").write_text(
        settings.replace("  wave_gib: 20480\n", f"  wave_gib: 20480\n  copy_mount_root: {mounts}\n", 1), "utf-8"
    )
    out = tmp_path / "plan"
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(out)])
    assert result.exit_code == 0, result.output
    planned_file = out / "wave-01" / "data-copies.yml"
    planned = yaml.safe_load(planned_file.read_text(encoding="utf-8"))["data_migration_copies"]
    # A second volume of the wave's first system that the plan could not know (a claim in no series).
    first = planned[0]
    extra_name = f"{first['name']}-scratch"
    added = [
        {
            "name": extra_name,
            "source": first["source"].rpartition("/")[0] + f"/{extra_name}",
            "destination": first["destination"].rpartition("/")[0] + f"/{extra_name}",
        }
    ]
    added_file = out / "wave-01" / "data-copies-added.yml"
    added_file.write_text(yaml.safe_dump({"data_migration_copies": added}, sort_keys=False), encoding="utf-8")
    with contextlib.ExitStack() as mounted:
        for copy in [*planned, *added]:
            for end in ("source", "destination"):
                Path(copy[end]).mkdir(parents=True)
                mounted.enter_context(mounted_tmpfs(Path(copy[end]), size="1m"))
            (Path(copy["source"]) / "data.csv").write_bytes(f"{copy['name']}\n".encode() * 100)
        for copies_file in (planned_file, added_file):  # once with each file (README)
            done = _play_plan_wave(tmp_path, copies_file, require_mounts=True)
            assert done.returncode == 0, f"{copies_file.name}:\n{done.stdout}{done.stderr}"
        arrived = {c["name"]: (Path(c["destination"]) / "data.csv").read_bytes() for c in [*planned, *added]}
    assert arrived == {c["name"]: f"{c['name']}\n".encode() * 100 for c in [*planned, *added]}, "both lists copied"
    evidence = {p.name for p in (tmp_path / "evidence").glob("*.sha256")}
    assert evidence == {f"{c['name']}.sha256" for c in [*planned, *added]}, evidence
    checked = CliRunner().invoke(app, ["migrate", "check-wave", str(out), "1", str(city)])
    assert checked.exit_code == 0, checked.output


def test_a_copy_added_under_a_name_the_wave_uses_is_refused_and_the_wave_s_evidence_kept(tmp_path: Path) -> None:
    """The role run with a second copy list (a copy added to a wave) that names another volume as the wave's sys-a:
    the run fails naming the copy the evidence records, nothing is copied into the added destination, and sys-a's
    manifest (the evidence of its verified copy) is kept; a run of the wave's list still finds it as verified."""
    wave = Wave(tmp_path)
    (wave.source() / "ledger.dat").write_bytes(b"planned " * 1000)
    planned_list = (tmp_path / "data-copies.yml").read_text(encoding="utf-8")
    assert wave.play().returncode == 0
    evidence = (wave.evidence / "sys-a.sha256").read_bytes()
    other = {"name": "sys-a", "source": str(tmp_path / "old" / "sys-x"), "destination": str(tmp_path / "new" / "sys-x")}
    for end in ("source", "destination"):
        Path(other[end]).mkdir(parents=True)
    (Path(other["source"]) / "scratch.dat").write_bytes(b"added")
    (tmp_path / "data-copies.yml").write_text(yaml.safe_dump({"data_migration_copies": [other]}), "utf-8")
    added = wave.play()
    assert added.returncode != 0, added.stdout
    assert "records another copy under this copy's name" in added.stdout, added.stdout
    assert list(Path(other["destination"]).iterdir()) == []
    assert (wave.evidence / "sys-a.sha256").read_bytes() == evidence
    (tmp_path / "data-copies.yml").write_text(planned_list, "utf-8")
    again = wave.play()
    assert again.returncode == 0, again.stdout + again.stderr
    assert "changed=0" in again.stdout, again.stdout  # as last verified: nothing to copy again
    assert (wave.destination() / "ledger.dat").read_bytes() == b"planned " * 1000
