"""roles/data_migration on a real Debian host: a wave's data copied by rsync, every byte verified, nothing deleted.

The copy list is the one `dizuo migrate city` writes for a wave of the Yulin plan (wave-NN/data-copies.yml), with
the mount root moved below /srv on the test host. The steps share the host's trees, so they run in file order.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dizuo.declaration.loader import load
from dizuo.migration.city import build_instance, change_of
from dizuo.migration.report import data_copies
from hosts import BootedHost

pytestmark = [pytest.mark.host]

REPO = Path(__file__).resolve().parents[2]
MOUNT_ROOT = "/srv/dizuo-migration-test"
SYSTEM = "slj-01"
OWNER = (1234, 1235)  # the ids of the system's containers, which the migration host does not know by name
BIG = 3 * 2**20 + 17


def _tree(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry below ``root`` as this machine sees it: type, mode, owner, content or link target."""
    out: dict[str, tuple[object, ...]] = {}
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        kind = "link" if path.is_symlink() else "dir" if path.is_dir() else "file"
        body = os.readlink(path) if kind == "link" else path.read_bytes() if kind == "file" else b""
        out[str(path.relative_to(root))] = (kind, st.st_mode & 0o7777, st.st_uid, st.st_gid, body)
    return out


@pytest.fixture(scope="module")
def wave(debian_host: BootedHost, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A source tree on the host as a system's legacy volume would hold it, and the wave's copy list for it."""
    city = build_instance(load(REPO / "inventories" / "yulin"))
    city = dataclasses.replace(city, migration=city.migration.model_copy(update={"copy_mount_root": MOUNT_ROOT}))
    copies_text = data_copies(city, [change_of(city, SYSTEM, "xc-hygon")], "wave-01")
    copies = yaml.safe_load(copies_text)["data_migration_copies"]
    source = debian_host.root / copies[0]["source"].lstrip("/")
    destination = debian_host.root / copies[0]["destination"].lstrip("/")
    (source / "监测数据" / "2026").mkdir(parents=True)
    (source / "监测数据" / "2026" / "站点-01.csv").write_text("时间,水位\n2026-12-05,12.5\n", encoding="utf-8")
    (source / "big.bin").write_bytes(os.urandom(BIG))
    (source / "empty").write_bytes(b"")
    (source / "secret.key").write_bytes(b"k" * 32)
    (source / "secret.key").chmod(0o600)
    os.link(source / "big.bin", source / "big-hardlink.bin")
    (source / "latest").symlink_to("监测数据/2026/站点-01.csv")
    (source / os.fsdecode(b"gbk-\xd5\xbe\xb5\xe3.txt")).write_bytes(b"named in GBK")
    for path in [source, *source.rglob("*")]:
        os.lchown(path, *OWNER)
    work = tmp_path_factory.mktemp("data-migration")
    (work / "data-copies.yml").write_text(copies_text, encoding="utf-8")
    inventory = {
        "all": {
            "hosts": {
                debian_host.name: {
                    "ansible_host": debian_host.address,
                    "ansible_port": debian_host.port,
                    "ansible_user": debian_host.user,
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "ansible_ssh_private_key_file": str(debian_host.key_path),
                    "ansible_ssh_common_args": f"-o StrictHostKeyChecking=no -o UserKnownHostsFile="
                    f"{debian_host.known_hosts} -o IdentitiesOnly=yes",
                }
            }
        }
    }
    (work / "hosts.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    return {"work": work, "source": source, "destination": destination, "root": debian_host.root}


def _play(wave: dict[str, Path], *extra: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """ansible-playbook roles/data_migration.yml with the wave's copy list; the result and the changed count."""
    ansible = Path(sys.executable).parent / "ansible-playbook"
    done = subprocess.run(
        [
            str(ansible), "-i", str(wave["work"] / "hosts.yml"), str(REPO / "roles" / "data_migration.yml"),
            "-e", f"@{wave['work'] / 'data-copies.yml'}", "-e", "data_migration_hosts=all",
            # Folders of the test host's one disk, not mounted volumes (the mount check is tested without a host).
            "-e", "data_migration_require_mounts=false", *extra,
        ],
        capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    recap = re.search(r"changed=(\d+)", done.stdout)
    return done, int(recap.group(1)) if recap else -1


def test_first_run_copies_every_byte_owner_mode_link_and_hard_link(wave: dict[str, Path]) -> None:
    """After the run the destination holds the source's tree exactly, and the manifest is kept as evidence."""
    before = _tree(wave["source"])
    done, changed = _play(wave)
    assert done.returncode == 0, done.stdout + done.stderr
    assert changed > 0
    assert _tree(wave["destination"]) == before, "the destination differs from the source"
    assert _tree(wave["source"]) == before, "the source was changed"
    copied = wave["destination"]
    assert (copied / "big.bin").stat().st_ino == (copied / "big-hardlink.bin").stat().st_ino, "hard link lost"
    manifest = (wave["root"] / "var/lib/dizuo/migration" / f"{SYSTEM}.sha256").read_text(encoding="utf-8")
    assert f"file 0600 {OWNER[0]}:{OWNER[1]} 32 - -  secret.key" in manifest
    assert "站点-01.csv" in manifest


def test_second_run_changes_nothing(wave: dict[str, Path]) -> None:
    """Idempotence: rsync has nothing to send and the manifest is unchanged."""
    done, changed = _play(wave)
    assert done.returncode == 0, done.stdout + done.stderr
    assert changed == 0, done.stdout


def test_check_mode_changes_nothing(wave: dict[str, Path]) -> None:
    """--check on the converged copy reports nothing to do."""
    done, changed = _play(wave, "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    assert changed == 0, done.stdout


def test_a_byte_changed_behind_rsyncs_back_stops_the_run_and_repair_mode_mends_it(wave: dict[str, Path]) -> None:
    """Same size and mtime: rsync's quick check would skip the file; the guard sees it and copies nothing over it."""
    damaged = wave["destination"] / "big.bin"
    st = damaged.stat()
    data = bytearray(damaged.read_bytes())
    data[BIG // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    os.utime(damaged, ns=(st.st_atime_ns, st.st_mtime_ns))
    done, _ = _play(wave)
    assert done.returncode != 0, "a destination changed since the verified copy must stop the run"
    assert "since the last verified copy" in done.stdout, done.stdout
    assert re.search(r"now: +\w+ +file .* big\.bin", done.stdout), done.stdout
    assert damaged.read_bytes() == bytes(data), "nothing may be copied over a destination someone else changed"
    done, _ = _play(wave, "-e", json.dumps({"data_migration_repair": [SYSTEM]}))
    assert done.returncode == 0, done.stdout + done.stderr
    assert _tree(wave["destination"]) == _tree(wave["source"])


def test_a_file_written_into_the_destination_stops_the_run_and_is_kept(wave: dict[str, Path]) -> None:
    """The copy never deletes nor overwrites what others wrote: an extra file is reported, and still there after."""
    extra = wave["destination"] / "written-after-the-switch.log"
    extra.write_text("new data\n", encoding="utf-8")
    done, _ = _play(wave)
    assert done.returncode != 0
    assert re.search(r"added: .* written-after-the-switch\.log", done.stdout), done.stdout
    done, _ = _play(wave, "-e", json.dumps({"data_migration_repair": [SYSTEM]}))
    assert done.returncode != 0, "even in repair mode a file only the destination holds fails the verification"
    assert "only in the destination (kept, not deleted): written-after-the-switch.log" in done.stdout, done.stdout
    assert extra.read_text(encoding="utf-8") == "new data\n"
    extra.unlink()
    done, _ = _play(wave)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_destination_inside_its_source_is_refused_before_anything_runs(wave: dict[str, Path]) -> None:
    """A copy into itself would grow forever: the role refuses the list and copies nothing."""
    nested = wave["work"] / "nested.yml"
    source = "/" + str(wave["source"].relative_to(wave["root"]))
    nested.write_text(
        yaml.safe_dump({"data_migration_copies": [{"name": "x", "source": source, "destination": f"{source}/copy"}]}),
        encoding="utf-8",
    )
    done, _ = _play(wave, "-e", f"@{nested}")
    assert done.returncode != 0
    assert "inside one another" in done.stdout, done.stdout
    assert not (wave["source"] / "copy").exists()
