"""The host security jobs the role installs (DZ-MC-03 dizuo-malware-scan), rendered as the role writes them and run
on this machine with Debian 12's real ClamAV (fetched from the configured mirror), in a private mount namespace:
/var/lib and /etc/dizuo are the test's own folders, so this machine's files are never changed. Signatures come from
a mirror the test serves on loopback: the MD5 of the EICAR test file, the harmless file every scanner is tested with.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import jinja2
import pytest
from real_programs import debian_package_tree

from loopback import serving_http

ROLE = Path(__file__).resolve().parents[2] / "roles" / "baseline"
# ClamAV and the libraries of it this machine lacks.
CLAMAV_PACKAGES = ("clamav", "clamav-freshclam", "libclamav12", "libcurl4", "libjson-c5", "libmspack0")
EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Dizuo.Test.EICAR"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def clamav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of a tree holding Debian 12's clamscan, freshclam and sigtool with their libraries."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the jobs run as root in a private mount namespace (unshare -m), as on a host")
    return debian_package_tree(CLAMAV_PACKAGES, tmp_path_factory.mktemp("clamav"))


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The city's signature mirror on loopback, serving city.hdb: the base URL."""
    folder = tmp_path_factory.mktemp("mirror")
    digest = hashlib.md5(EICAR.encode()).hexdigest()  # noqa: S324 - ClamAV's .hdb format is MD5
    (folder / "city.hdb").write_text(f"{digest}:{len(EICAR)}:{SIGNATURE}\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    with serving_http(handler) as url:
        yield url


def _render(template: str, target: Path, **values: object) -> Path:
    """``template`` of the role rendered with ``values`` (and the role's defaults) into ``target``."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)  # noqa: S701 - not HTML
    environment.filters["to_json"] = json.dumps
    environment.filters["regex_replace"] = lambda text, pattern, by: re.sub(pattern, by, text)
    text = environment.from_string((ROLE / "templates" / template).read_text(encoding="utf-8"))
    target.write_text(text.render(ansible_managed="rendered by the test", **values), encoding="utf-8")
    return target


def _as_on_the_host(
    root: Path, command: list[str], env: dict[str, str], cwd: Path, timeout: int
) -> subprocess.CompletedProcess[str]:
    """``command`` in a private mount namespace where /etc gains ``root``/upper-etc (an overlay) and /var/lib is
    ``root``/var-lib: what a host's job reads and writes there stays in the test's folder."""
    mounts = " && ".join(
        [
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={root}/upper-etc,workdir={root}/work /etc",
            f"mount --bind {root}/var-lib /var/lib",
            'exec "$@"',
        ]
    )
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", mounts, "sh", *command],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=cwd,
        timeout=timeout,
    )


class MalwareHost:
    """A folder standing for a host's /var/lib (``var_lib``) and the files /etc gains, with the scan job rendered
    for it."""

    def __init__(
        self,
        root: Path,
        clamav: Path,
        mirror: str,
        scan_paths: list[str],
        databases: tuple[str, ...] = (),
        max_age_hours: int = 48,
    ) -> None:
        self.root, self.clamav = root, clamav
        self.var_lib, self.etc, self.textfile = root / "var-lib", root / "upper-etc", root / "textfile"
        for folder in (
            self.var_lib / "clamav",
            self.var_lib / "dizuo",
            self.etc / "dizuo",
            root / "work",
            root / "tmp",
            self.textfile,
        ):
            folder.mkdir(parents=True, exist_ok=True)
        values = {
            "baseline_malware_scan_paths": scan_paths,
            "baseline_malware_mirror": mirror,
            "baseline_malware_databases": list(databases),
            "baseline_malware_custom_databases": ["city.hdb"],
            "baseline_node_exporter_textfile_dir": str(self.textfile),
            "baseline_clamav_user": "root",  # this machine has no clamav account
            "baseline_malware_signature_max_age_hours": max_age_hours,
        }
        self.script = _render("dizuo-malware-scan.j2", root / "dizuo-malware-scan", **values)
        _render("dizuo-freshclam.conf.j2", self.etc / "dizuo" / "freshclam.conf", **values)

    @property
    def quarantine(self) -> Path:
        return self.var_lib / "dizuo-quarantine"

    def scan(self, cwd: Path | None = None, first_on_path: Path | None = None) -> subprocess.CompletedProcess[str]:
        """The job, run as its unit runs it (C locale, as root), from ``cwd`` (systemd starts it in /), with
        ``first_on_path`` ahead of ClamAV's programs on PATH."""
        libraries = self.clamav / "usr" / "lib" / "x86_64-linux-gnu"
        env = {
            "PATH": os.pathsep.join(
                [
                    *([str(first_on_path)] if first_on_path else []),
                    str(self.clamav / "usr" / "bin"),
                    "/usr/sbin:/usr/bin:/sbin:/bin",
                ]
            ),
            "LD_LIBRARY_PATH": str(libraries),
            "LC_ALL": "C",
            "TMPDIR": str(self.root / "tmp"),  # what a killed clamscan leaves there stays in the test's folder
        }
        return _as_on_the_host(self.root, ["/usr/bin/python3", str(self.script)], env, cwd or self.root, 600)

    def status(self) -> dict[str, object]:
        return json.loads((self.var_lib / "dizuo" / "malware-status.json").read_text(encoding="utf-8"))

    def metrics(self) -> list[str]:
        return (self.textfile / "dizuo_malware.prom").read_text(encoding="utf-8").splitlines()


def test_a_host_without_any_of_the_scan_paths_is_not_scanned_from_the_folder_the_job_runs_in(
    tmp_path: Path, clamav: Path, mirror: str
) -> None:
    """When none of the declared scan paths exists on a host, the job scans nothing (clamscan given no path scans
    the folder it runs in: / under systemd, quarantining whatever it finds anywhere), and says so: the scan did not
    run, the error names the paths, the metrics and the exit status say it failed."""
    host = MalwareHost(tmp_path / "host", clamav, mirror, ["/srv/uploads-not-here", "/data/not-here-either"])
    where_it_runs = tmp_path / "root-of-the-host" / "opt" / "app"
    where_it_runs.mkdir(parents=True)
    bystander = where_it_runs / "sample.com"
    bystander.write_text(EICAR)
    done = host.scan(cwd=tmp_path / "root-of-the-host")
    assert bystander.exists(), f"a file outside the scan paths was moved: {done.stdout[-2000:]}"
    assert not host.quarantine.exists() or not any(host.quarantine.iterdir()), "something was quarantined"
    status = host.status()
    scan = status["scan"]
    assert isinstance(scan, dict)
    assert scan["ok"] is False, scan
    assert scan["paths"] == [], scan
    assert "/srv/uploads-not-here" in scan["error"], scan
    assert "/data/not-here-either" in scan["error"], scan
    assert status["found"] == [], status
    assert "dizuo_malware_scan_success 0" in host.metrics()
    assert done.returncode == 1, done.stderr


def _official_database(clamav: Path, folder: Path, name: str, built: dt.datetime) -> Path:
    """``name``.cud, an official-format database (unsigned: no key here) holding the EICAR signature, built by the
    real sigtool and dated ``built`` in its header, as a mirror that stopped syncing at that time still serves it."""
    folder.mkdir()
    digest = hashlib.md5(EICAR.encode()).hexdigest()  # noqa: S324 - ClamAV's .hdb format is MD5
    (folder / f"{name}.hdb").write_text(f"{digest}:{len(EICAR)}:{SIGNATURE}\n")
    (folder / "COPYING").write_text("test signatures\n")  # sigtool refuses to build without one
    sigtool = clamav / "usr" / "bin" / "sigtool"
    env = {"LD_LIBRARY_PATH": str(clamav / "usr" / "lib" / "x86_64-linux-gnu"), "LC_ALL": "C", "PATH": "/usr/bin:/bin"}
    command = [str(sigtool), f"--build={name}.cud", "--unsigned", "--cvd-version=1", "--datadir=."]
    subprocess.run(command, input="dizuo-test\n", cwd=folder, env=env, check=True, capture_output=True, text=True)
    cud = folder / f"{name}.cud"
    header, body = cud.read_bytes()[:512], cud.read_bytes()[512:]
    stamp = re.search(rb"^ClamAV-VDB:(\d\d \w{3} \d{4} \d\d-\d\d) ", header)
    assert stamp, header
    cud.write_bytes(header.replace(stamp[1], built.strftime("%d %b %Y %H-%M").encode(), 1) + body)
    info = subprocess.run([str(sigtool), "--info", str(cud)], env=env, capture_output=True, text=True, check=True)
    assert f"Build time: {built:%d %b %Y %H:%M} +0000" in info.stdout, info.stdout
    return cud


def test_the_daily_database_s_build_time_is_exported_for_the_stale_signature_alert(
    tmp_path: Path, clamav: Path, mirror: str
) -> None:
    """A mirror whose cvdupdate stopped answers every update with the files it has, so only the daily database's
    build time shows that the signatures are old: the job exports it, as sigtool reads it, with the host's
    malware_signature_max_age_hours, for DizuoMalwareSignaturesStale (which fires on it past that age,
    monitoring/tests/security-alerts-test.yaml)."""
    if shutil.which("promtool") is None:
        pytest.skip("promtool (Debian package prometheus) checks the metrics and is not installed")
    scanned = tmp_path / "srv"
    scanned.mkdir()
    host = MalwareHost(tmp_path / "host", clamav, mirror, [str(scanned)], databases=("daily",), max_age_hours=192)
    built = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(days=3)
    shutil.copy(_official_database(clamav, tmp_path / "build", "daily", built), host.var_lib / "clamav")
    host.scan()
    metrics = host.metrics()
    exported = [line for line in metrics if line.startswith("dizuo_malware_database_built_timestamp_seconds")]
    assert exported == [f'dizuo_malware_database_built_timestamp_seconds{{database="daily"}} {built.timestamp()}'], (
        "\n".join(metrics)
    )
    assert "dizuo_malware_signatures_max_age_seconds 691200" in metrics, "\n".join(metrics)
    check = subprocess.run(
        ["promtool", "check", "metrics"], input="\n".join(metrics) + "\n", capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_scan_killed_midway_says_so_and_keeps_what_it_quarantined(tmp_path: Path, clamav: Path, mirror: str) -> None:
    """clamscan killed by the kernel before its summary (SIGKILL, as the OOM killer ends it on a host where the unit
    makes it the first to go; here at its CPU limit): the report says it was killed and by what, not the find lines
    it printed before; the find it quarantined before is reported; the quarantine count is of the files it holds,
    not of the lock file the killed clamscan left there."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) sets the CPU limit the kernel kills clamscan at")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "invoice.com").write_text(EICAR)
    # /usr after the find: more than a second of work, so the limit (soft = hard: SIGKILL) ends clamscan there.
    host = MalwareHost(tmp_path / "host", clamav, mirror, [str(uploads), "/usr"])
    limited = tmp_path / "limited"
    limited.mkdir()
    (limited / "clamscan").write_text(f'#!/bin/sh\nexec prlimit --cpu=1 {clamav / "usr" / "bin" / "clamscan"} "$@"\n')
    (limited / "clamscan").chmod(0o755)
    done = host.scan(first_on_path=limited)
    status = host.status()
    scan = status["scan"]
    assert isinstance(scan, dict)
    assert scan["ok"] is False, scan
    assert scan["error"] == "clamscan was killed by signal SIGKILL before its summary", scan
    assert [(f["path"], bool(f["moved_to"])) for f in status["found"]] == [(str(uploads / "invoice.com"), True)]
    assert status["quarantined"] == 1, sorted(str(p) for p in host.quarantine.rglob("*"))
    assert 'dizuo_malware_found{action="quarantined"} 1' in host.metrics()
    assert "dizuo_malware_quarantined_files 1" in host.metrics()
    assert done.returncode == 1, done.stderr


def test_a_failed_scan_keeps_the_finds_the_last_scan_reported(tmp_path: Path, clamav: Path, mirror: str) -> None:
    """A scan that fails (clamscan short of memory: here the kernel refuses it the address space to load) says it
    failed and keeps exporting what the last scan that completed found: zeros would resolve DizuoMalwareFound, so
    breaking the scan would hide the find it had paged about; failing again does not lose it either."""
    if shutil.which("prlimit") is None:
        pytest.skip("prlimit (util-linux) sets the memory limit clamscan fails at")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "invoice.com").write_text(EICAR)
    host = MalwareHost(tmp_path / "host", clamav, mirror, [str(uploads)])
    assert host.scan().returncode == 0
    assert 'dizuo_malware_found{action="quarantined"} 1' in host.metrics()
    starved = tmp_path / "starved"
    starved.mkdir()
    clamscan = clamav / "usr" / "bin" / "clamscan"
    (starved / "clamscan").write_text(f'#!/bin/sh\nexec prlimit --as=30000000 {clamscan} "$@"\n')
    (starved / "clamscan").chmod(0o755)
    for attempt in (1, 2):
        done = host.scan(first_on_path=starved)
        assert done.returncode == 1, (attempt, done.stderr)
        metrics = host.metrics()
        assert "dizuo_malware_scan_success 0" in metrics, (attempt, metrics)
        assert 'dizuo_malware_found{action="quarantined"} 1' in metrics, (attempt, metrics)
        assert 'dizuo_malware_found{action="left_in_place"} 0' in metrics, (attempt, metrics)
        status = host.status()
        assert status["counts"] == {"quarantined": 1, "left_in_place": 0}, (attempt, status)
        assert status["found"] == [], "the failed scan's own finds: none"


def test_a_thousand_finds_of_one_name_are_all_quarantined(tmp_path: Path, clamav: Path, mirror: str) -> None:
    """clamscan moves a find under its own name, else with .001 to .998 appended, and leaves it where it lies once
    those 999 names are taken: a web shell dropped as index.php in a thousand folders, or a name found daily for
    years (the quarantine is never emptied), would then stay in place. Every find of one name is quarantined, each
    scan into a folder of its own, and the quarantine keeps what earlier scans moved there."""
    uploads = tmp_path / "uploads"
    for n in range(1000):
        (uploads / f"site-{n:04d}").mkdir(parents=True)
        (uploads / f"site-{n:04d}" / "index.php").write_text(EICAR)
    host = MalwareHost(tmp_path / "host", clamav, mirror, [str(uploads)])
    host.quarantine.mkdir(mode=0o700)
    earlier = ["index.php", *(f"index.php.{n:03d}" for n in range(1, 999))]  # the names earlier scans took
    for name in earlier:
        (host.quarantine / name).write_text("found by an earlier scan")
    done = host.scan()
    assert done.returncode == 0, done.stderr
    left = sorted(str(p) for p in uploads.rglob("index.php"))
    assert left == [], f"{len(left)} find(s) left in place, e.g. {left[:3]}"
    metrics = host.metrics()
    assert 'dizuo_malware_found{action="quarantined"} 1000' in metrics, metrics
    assert 'dizuo_malware_found{action="left_in_place"} 0' in metrics, metrics
    assert "dizuo_malware_quarantined_files 1999" in metrics, metrics
    assert all((host.quarantine / name).read_text() == "found by an earlier scan" for name in earlier)
    moved_to = [item["moved_to"] for item in host.status()["found"]]  # type: ignore[index]
    assert len(set(moved_to)) == 1000, "each find has a place of its own"


def test_a_find_whose_name_has_a_line_break_is_counted_where_it_went(tmp_path: Path, clamav: Path, mirror: str) -> None:
    """A find named with a line break cannot be read back from clamscan's output, but clamscan moved it: it counts as
    quarantined (the page's `action`), not as left in place (which the runbook says to move by hand), and the report
    says where it went."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "invoice.com").write_text(EICAR)
    (uploads / "report\n2026.com").write_text(EICAR)
    host = MalwareHost(tmp_path / "host", clamav, mirror, [str(uploads)])
    done = host.scan()
    assert done.returncode == 0, done.stderr
    (folder,) = host.quarantine.iterdir()  # the scan's own
    assert sorted(p.name for p in folder.iterdir()) == ["invoice.com", "report\n2026.com"]
    metrics = host.metrics()
    assert 'dizuo_malware_found{action="quarantined"} 2' in metrics, metrics
    assert 'dizuo_malware_found{action="left_in_place"} 0' in metrics, metrics
    scan = host.status()["scan"]
    assert isinstance(scan, dict)
    assert scan["unaccounted"] == 1, scan
    assert scan["unaccounted_moved_to"] == [f"/var/lib/dizuo-quarantine/{folder.name}/report\n2026.com"], scan


def test_a_find_on_another_filesystem_is_described_as_it_lay_before_the_move(
    tmp_path: Path, clamav: Path, mirror: str
) -> None:
    """A find in /dev/shm (a default scan path, a tmpfs: another filesystem than the quarantine's) is copied there by
    the move, owned by root: the report and the quarantine log keep who owned it, its mode and when it was written,
    read where it lay (the runbook's first question: how did it get there?), also for a name in GBK."""
    shm = Path("/dev/shm")  # noqa: S108 - the host's own tmpfs, a scan path of the role's default
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip(f"{shm} is not a filesystem of its own here")
    dropped = Path(tempfile.mkdtemp(prefix="dizuo-test-", dir=shm))
    try:
        sample, gbk = dropped / "invoice.com", os.fsencode(dropped) + b"/" + "发票.com".encode("gbk")
        sample.write_text(EICAR)
        Path(os.fsdecode(gbk)).write_text(EICAR)
        written = dt.datetime(2026, 11, 1, 10, 0, tzinfo=dt.UTC).timestamp()
        for path in (sample, Path(os.fsdecode(gbk))):
            os.chown(path, 65534, 65534)  # nobody:nogroup
            path.chmod(0o640)
            os.utime(path, (written, written))
        host = MalwareHost(tmp_path / "host", clamav, mirror, [str(dropped)])
        done = host.scan()
        assert done.returncode == 0, done.stderr
        assert not any(dropped.iterdir()), "a find was left where it lay"
    finally:
        shutil.rmtree(dropped)
    found = {item["path"]: item for item in host.status()["found"]}  # type: ignore[union-attr]
    shown_gbk = gbk.decode("utf-8", errors="backslashreplace")
    assert sorted(found) == sorted([str(sample), shown_gbk]), found
    for item in found.values():
        assert str(item["moved_to"]).startswith("/var/lib/dizuo-quarantine/"), item
        was = item["was"]
        assert (was["owner"], was["uid"], was["mode"]) == ("nobody", 65534, "0640"), item
        assert was["modified"] == "2026-11-01T10:00:00+00:00", item
    copy = host.var_lib / Path(found[str(sample)]["moved_to"]).relative_to("/var/lib")
    assert copy.stat().st_uid == 0, "the quarantined copy is root's: only the report still knows the owner"
    logged = [json.loads(line) for line in (host.var_lib / "dizuo" / "quarantine-log.jsonl").read_text().splitlines()]
    assert {entry["path"]: entry["was"]["owner"] for entry in logged} == {str(sample): "nobody", shown_gbk: "nobody"}


@pytest.fixture(scope="module")
def aide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of a tree holding Debian 12's aide with the library of it this machine lacks."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the jobs run as root in a private mount namespace (unshare -m), as on a host")
    return debian_package_tree(("aide", "libmhash2"), tmp_path_factory.mktemp("aide"))


class IntegrityHost:
    """A folder standing for a host's /var/lib and the files /etc gains, with the integrity check job
    (dizuo-aide-check) and its AIDE configuration rendered for it, watching one folder."""

    def __init__(self, root: Path, aide: Path) -> None:
        self.root, self.aide = root, aide
        self.var_lib, self.etc, self.textfile = root / "var-lib", root / "upper-etc", root / "textfile"
        self.watched = root / "watched"
        for folder in (self.var_lib / "aide", self.etc / "aide", root / "work", self.textfile, self.watched):
            folder.mkdir(parents=True, exist_ok=True)
        (self.watched / "sshd").write_text("a system binary\n")
        watched = {"results": [{"item": str(self.watched), "stat": {"exists": True}}]}
        _render("dizuo-aide.conf.j2", self.etc / "aide" / "dizuo-aide.conf", baseline_aide_path_stats=watched)
        self.script = _render(
            "dizuo-aide-check.j2",
            root / "dizuo-aide-check",
            baseline_aide_bin=str(aide / "usr" / "bin" / "aide"),
            baseline_node_exporter_textfile_dir=str(self.textfile),
        )

    def run(self, *command: str) -> subprocess.CompletedProcess[str]:
        """``command`` in a private mount namespace where /etc and /var/lib are this host's."""
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "LD_LIBRARY_PATH": str(self.aide / "usr" / "lib" / "x86_64-linux-gnu"),
            "LC_ALL": "C",
        }
        return _as_on_the_host(self.root, list(command), env, self.root, 300)

    def baseline(self) -> None:
        """The baseline as the role takes it: aide --init, its new database made the one checks compare with."""
        aide = str(self.aide / "usr" / "bin" / "aide")
        init = self.run(aide, "--config", "/etc/aide/dizuo-aide.conf", "--init")
        assert init.returncode == 0, init.stdout + init.stderr
        (self.var_lib / "aide" / "dizuo-aide.db.new").rename(self.var_lib / "aide" / "dizuo-aide.db")

    def check(self) -> tuple[int, dict[str, str]]:
        """The job's exit status and the metrics it wrote, by series."""
        done = self.run("/usr/bin/python3", str(self.script))
        text = (self.textfile / "dizuo_integrity.prom").read_text(encoding="utf-8")
        series = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
        series.pop("dizuo_integrity_check_timestamp_seconds")
        return done.returncode, series


def test_an_integrity_check_that_cannot_compare_keeps_the_changes_it_last_saw(tmp_path: Path, aide: Path) -> None:
    """A check AIDE cannot run (its database gone: removed by hand, or by an intruder) says it failed and keeps the
    changes the last check that compared found: zeros would resolve DizuoIntegrityChanged, so breaking AIDE would
    hide the very change it had reported. A check that never compared exports no counts (unknown, not none)."""
    host = IntegrityHost(tmp_path / "host", aide)
    status, series = host.check()
    assert status >= 14, (status, series)
    assert series == {"dizuo_integrity_check_success": "0"}, "a check that never compared exported counts"
    host.baseline()
    status, series = host.check()
    assert status == 0, (status, series)
    assert series["dizuo_integrity_check_success"] == "1"
    assert series['dizuo_integrity_entries{change="added"}'] == "0"
    (host.watched / "backdoor").write_text("planted\n")
    status, series = host.check()
    assert status < 14, (status, series)
    assert status & 1, "AIDE's bitmask has 1, added (4, changed, too where the folder's mtime moved to a new second)"
    changed = {name: value for name, value in series.items() if name.startswith("dizuo_integrity_entries")}
    assert changed['dizuo_integrity_entries{change="added"}'] == "1", changed
    (host.var_lib / "aide" / "dizuo-aide.db").unlink()
    status, series = host.check()
    assert status >= 14, (status, series)
    assert series["dizuo_integrity_check_success"] == "0"
    kept = {name: value for name, value in series.items() if name.startswith("dizuo_integrity_entries")}
    assert kept == changed, "the changes last seen were not kept"
