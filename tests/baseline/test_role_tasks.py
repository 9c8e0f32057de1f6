"""roles/baseline task files run by the real ansible-playbook on this machine, with another OS's facts, in a private
mount namespace: /etc is an overlay whose changes land in the test's folder, and the folders the tasks write are
the test's own (this machine's files are never changed)."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from real_programs import debian_package_tree, network_namespace, real_logrotate, role_play

from dizuo.baseline import checks
from dizuo.baseline.catalogue import packaged

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
BIN = Path(sys.executable).parent

OPENEULER = {
    "ansible_distribution": "openEuler",
    "ansible_distribution_major_version": "22",
    "ansible_distribution_version": "22.03",
    "ansible_os_family": "RedHat",
    "ansible_pkg_mgr": "dnf",
}
ROTATED = ("/etc/logrotate.d",)
# openEuler 22.03's own files: logrotate.conf, and the rsyslog package's logrotate.d/rsyslog (rsyslog.log in its
# source package).
OPENEULER_LOGROTATE_CONF = "weekly\nrotate 4\ncreate\ndateext\ninclude /etc/logrotate.d\n"
OPENEULER_RSYSLOG = """/var/log/cron
/var/log/maillog
/var/log/messages
/var/log/secure
/var/log/spooler
{
    maxage 365
    rotate 30
    notifempty
    copytruncate
    missingok
    size +4096k
    sharedscripts
    postrotate
        /usr/bin/systemctl kill -s HUP rsyslog.service >/dev/null 2>&1 || true
    endscript
}
"""
# What the role wrote on the RedHat family before it looked for the package's file: logrotate.d/syslog.
EARLIER_ROLE_SYSLOG = """# Ansible managed
# DZ-AU-05 日志留存: daily rotation, 180 files = 180 days (网络安全法 第二十一条: ≥ 6 months).
/var/log/messages
/var/log/secure
/var/log/maillog
/var/log/cron
/var/log/spooler
{
\tdaily
\trotate 180
\tmissingok
}
"""


@pytest.fixture(scope="module")
def logrotate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding Debian 12's real logrotate (3.21), for PATH."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the role's tasks run as root in a private mount namespace (unshare -m)")
    return real_logrotate(tmp_path_factory.mktemp("logrotate")).parent


def _run_tasks(
    work: Path,
    tasks_from: str,
    facts: dict[str, str],
    path: Path | None = None,
    binds: tuple[str, ...] = (),
    extra_vars: dict[str, object] | None = None,
    inside: list[str] | None = None,
    playbook_options: tuple[str, ...] = (),
    before: tuple[dict[str, object], ...] = (),
    after: tuple[dict[str, object], ...] = (),
) -> subprocess.CompletedProcess[str]:
    """ansible-playbook running the role's ``tasks_from`` (after its OS variable loading, then the tasks ``before``)
    on this machine, in a private mount namespace where /etc is an overlay (changes land in ``work/upper/etc``, which
    the test may fill first), /usr/local/sbin is ``work/sbin`` and each folder of ``binds`` is ``work/<its name>``.
    ``path`` goes first on PATH; ``inside`` is a command prefix the whole run goes under (a network namespace);
    ``playbook_options`` go to ansible-playbook (--check); the tasks ``after`` run last."""
    include = {"ansible.builtin.include_role": {"name": "baseline", "tasks_from": tasks_from}}
    play = role_play(facts, *before, include, *after)
    (work / "play.yml").write_text(yaml.safe_dump(play), encoding="utf-8")
    for folder in ("upper/etc", "overlay-work", "sbin", *(Path(b).name for b in binds)):
        (work / folder).mkdir(parents=True, exist_ok=True)
    playbook = [
        str(BIN / "ansible-playbook"),
        *("-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}"),
        *("-e", json.dumps(extra_vars or {})),
        *playbook_options,
        str(work / "play.yml"),
    ]
    mounts = " && ".join(
        [
            f"mount -t overlay overlay -o lowerdir=/etc,upperdir={work}/upper/etc,workdir={work}/overlay-work /etc",
            f"mount --bind {work}/sbin /usr/local/sbin",
            *(f"mount --bind {work}/{Path(b).name} {b}" for b in binds),
            'exec "$@"',
        ]
    )
    env = {
        **os.environ,
        "PATH": os.pathsep.join([*([str(path)] if path else []), str(BIN), os.environ.get("PATH", "")]),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_ROLES_PATH": str(ROLES),
        "ANSIBLE_LOCALHOST_WARNING": "false",
    }
    return subprocess.run(
        [*(inside or []), "unshare", "-m", "--propagation", "private", "sh", "-c", mounts, "sh", *playbook],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def _logrotate_debug(work: Path, logrotate: Path) -> subprocess.CompletedProcess[str]:
    """`logrotate -d` on the whole configuration the tasks left (logrotate.conf including logrotate.d)."""
    conf = (work / "upper/etc/logrotate.conf").read_text().replace("/etc/logrotate.d", str(work / "logrotate.d"))
    (work / "whole.conf").write_text(conf)
    return subprocess.run(
        [str(logrotate / "logrotate"), "-d", "--state", str(work / "status"), str(work / "whole.conf")],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.slow
def test_openeuler_syslog_rotation_goes_into_the_rsyslog_package_s_file(tmp_path: Path, logrotate: Path) -> None:
    """On openEuler the rsyslog package rotates the syslog files in logrotate.d/rsyslog: the role writes its
    retention there and removes the logrotate.d/syslog an earlier run wrote, so logrotate reads each log once and
    exits 0 (a second file naming them made it fail on every run); a second run changes nothing."""
    (tmp_path / "upper/etc").mkdir(parents=True)
    (tmp_path / "upper/etc/logrotate.conf").write_text(OPENEULER_LOGROTATE_CONF)
    rotated = tmp_path / "logrotate.d"
    rotated.mkdir()
    (rotated / "rsyslog").write_text(OPENEULER_RSYSLOG)
    (rotated / "syslog").write_text(EARLIER_ROLE_SYSLOG)
    assert _logrotate_debug(tmp_path, logrotate).returncode == 1, "the duplicate this test starts from is not one"

    first = _run_tasks(tmp_path, "logging_rotation", OPENEULER, logrotate, ROTATED)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    assert sorted(p.name for p in rotated.iterdir()) == ["rsyslog"], "logrotate.d/syslog (the role's own) is left"
    text = (rotated / "rsyslog").read_text()
    assert "rotate 180" in text
    assert "/var/log/messages" in text
    whole = _logrotate_debug(tmp_path, logrotate)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    second = _run_tasks(tmp_path, "logging_rotation", OPENEULER, logrotate, ROTATED)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert "changed=0" in second.stdout, second.stdout[-3000:]


@pytest.mark.slow
def test_a_duplicate_left_by_another_package_stops_the_role_unwritten(tmp_path: Path, logrotate: Path) -> None:
    """A logrotate.d/syslog the role did not write (no DZ-AU-05 header) naming the same logs is kept, and the role's
    validation, run on the whole configuration, refuses to write a file logrotate would then reject: the task
    fails naming the duplicate, and logrotate.d/rsyslog is as it was."""
    (tmp_path / "upper/etc").mkdir(parents=True)
    (tmp_path / "upper/etc/logrotate.conf").write_text(OPENEULER_LOGROTATE_CONF)
    rotated = tmp_path / "logrotate.d"
    rotated.mkdir()
    (rotated / "rsyslog").write_text(OPENEULER_RSYSLOG)
    (rotated / "syslog").write_text(EARLIER_ROLE_SYSLOG.replace("# DZ-AU-05 ", "# "))

    done = _run_tasks(tmp_path, "logging_rotation", OPENEULER, logrotate, ROTATED)
    assert done.returncode != 0
    assert "duplicate log entry for /var/log/messages" in done.stdout, done.stdout[-4000:]
    assert (rotated / "rsyslog").read_text() == OPENEULER_RSYSLOG
    assert (rotated / "syslog").is_file()


DEBIAN = {**OPENEULER, "ansible_distribution": "Debian", "ansible_distribution_major_version": "12"}
DEBIAN |= {"ansible_distribution_version": "12", "ansible_os_family": "Debian", "ansible_pkg_mgr": "apt"}
# logrotate's upstream cron.daily script (examples/logrotate.cron), as the RedHat family installs it: no systemd test.
REDHAT_CRON_DAILY = "#!/bin/sh\n\n/usr/sbin/logrotate /etc/logrotate.conf\nexit 0\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("facts", "cron_daily", "timer", "runner"),
    [
        # openEuler: logrotate with its timer and its cron.daily script, cronie running cron.daily (old code: timer).
        pytest.param(OPENEULER, "redhat", True, "crond", id="openeuler-cron"),
        pytest.param(OPENEULER, None, True, "logrotate.timer", id="openeuler-timer-only"),
        pytest.param(OPENEULER, "redhat", False, "crond", id="openeuler-no-timer"),
        # Debian: its script exits under systemd in favour of the timer.
        pytest.param(DEBIAN, "debian", True, "logrotate.timer", id="debian"),
        pytest.param(DEBIAN, "debian", False, "cron", id="debian-no-timer"),
    ],
)
def test_the_role_keeps_running_what_runs_logrotate_there(
    tmp_path: Path, logrotate: Path, facts: dict[str, str], cron_daily: str | None, timer: bool, runner: str
) -> None:
    """DZ-AU-05: the role keeps cron running logrotate where cron.daily's script runs it itself (the RedHat family:
    enabling the timer beside a working cron setup would run logrotate twice a day), and the timer where the script
    steps aside for it under systemd (Debian's real script) or is missing; reading the host changes nothing."""
    debian_root = logrotate.parents[1]  # the Debian logrotate package's files: its script and its timer
    etc = tmp_path / "upper/etc"
    (etc / "cron.daily").mkdir(parents=True)
    if cron_daily == "debian":
        shutil.copy(debian_root / "etc/cron.daily/logrotate", etc / "cron.daily/logrotate")
    elif cron_daily == "redhat":
        (etc / "cron.daily/logrotate").write_text(REDHAT_CRON_DAILY)
    if timer:  # systemctl list-unit-files reads /etc/systemd/system as the host's own units
        (etc / "systemd/system").mkdir(parents=True)
        shutil.copy(next(debian_root.glob("*/systemd/system/logrotate.timer")), etc / "systemd/system")
    chosen = tmp_path / "runner"
    save = {"ansible.builtin.copy": {"content": "{{ baseline_logrotate_runner }}", "dest": str(chosen)}}
    done = _run_tasks(tmp_path, "logging_rotation_runner", facts, logrotate, after=(save,))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert chosen.read_text() == runner
    assert "changed=1 " in done.stdout, "only the test's own copy of the answer changes anything"


@pytest.fixture(scope="module")
def pam_pwquality(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder holding Debian 12's pam_pwquality.so (this machine has no libpam-pwquality): the role's PAM
    validator refuses a stack naming a module it cannot find."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the role's tasks run as root in a private mount namespace (unshare -m)")
    root = debian_package_tree(("libpam-pwquality",), tmp_path_factory.mktemp("pwquality"))
    return next(root.rglob("pam_pwquality.so")).parent


@pytest.mark.slow
@pytest.mark.parametrize(
    "bad",
    [
        "auth       required   pam_wheel.so use_uid group=dz-sysadmin deny",
        "auth\tsufficient\tpam_wheel.so trust use_uid",
        "auth [success=ignore default=bad] pam_wheel.so root_only group=wheel",
        # Two active lines: the first replaced, the second (su without a password for group wheel) must not stay.
        "auth       required   pam_wheel.so use_uid\nauth       sufficient pam_wheel.so trust use_uid group=wheel",
    ],
)
def test_the_role_replaces_a_pam_wheel_line_that_turns_the_su_limit_around(
    tmp_path: Path, pam_pwquality: Path, bad: str
) -> None:
    """A pam_wheel line in /etc/pam.d/su with deny, trust or root_only (which the audit refuses) is replaced by the
    role's `use_uid group=` line, not left beside it, and so is a second active one; Debian's commented examples stay
    as they are."""
    stock = Path("/etc/pam.d/su").read_text()
    rootok = "auth       sufficient pam_rootok.so\n"
    assert rootok in stock, "this machine's /etc/pam.d/su is not Debian 12's"
    (tmp_path / "upper/etc/pam.d").mkdir(parents=True)
    (tmp_path / "upper/etc/pam.d/su").write_text(stock.replace(rootok, f"{rootok}{bad}\n"))
    modules = ["/lib/x86_64-linux-gnu/security", str(pam_pwquality)]
    done = _run_tasks(tmp_path, "pam", DEBIAN, extra_vars={"baseline_pam_module_dirs": modules})
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    written = (tmp_path / "upper/etc/pam.d/su").read_text().splitlines()
    wheel = [line for line in written if "pam_wheel.so" in line and not line.lstrip().startswith("#")]
    assert wheel == ["auth       required   pam_wheel.so use_uid group=dz-sysadmin"], wheel
    assert written.index(wheel[0]) == written.index(rootok.strip()) + 1
    commented = [line for line in stock.splitlines() if "pam_wheel.so" in line]
    assert commented
    assert all(line in written for line in commented)


# An SSSD-joined RedHat-family host's system-auth (and password-auth): authselect's sssd profile as shipped
# (authselect/authselect, profiles/sssd/system-auth, commit 01ec14f630fc5667aa95d53be056bdd79414c9c7).
SSSD_SYSTEM_AUTH = """auth        required      pam_env.so
auth        required      pam_faildelay.so delay=2000000
auth        [default=1 ignore=ignore success=ok] pam_succeed_if.so uid >= 1000 quiet
auth        [default=1 ignore=ignore success=ok] pam_localuser.so
auth        sufficient    pam_unix.so nullok try_first_pass
auth        requisite     pam_succeed_if.so uid >= 1000 quiet_success
auth        sufficient    pam_sss.so forward_pass
auth        required      pam_deny.so

account     required      pam_unix.so
account     sufficient    pam_localuser.so
account     sufficient    pam_succeed_if.so uid < 1000 quiet
account     [default=bad success=ok user_unknown=ignore] pam_sss.so
account     required      pam_permit.so

password    requisite     pam_pwquality.so try_first_pass local_users_only retry=3 authtok_type=
password    sufficient    pam_unix.so md5 nullok try_first_pass use_authtok
password    sufficient    pam_sss.so use_authtok
password    required      pam_deny.so

session     optional      pam_keyinit.so revoke
session     required      pam_limits.so
-session     optional      pam_systemd.so
session     [success=1 default=ignore] pam_succeed_if.so service in crond quiet use_uid
session     required      pam_unix.so
session     optional      pam_sss.so
"""


@pytest.fixture(scope="module")
def pam_modules(pam_pwquality: Path, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The PAM module folders of a RedHat-family host joined to SSSD: this machine's, Debian 12's pam_pwquality.so
    and pam_sss.so (libpam-sss), for the role's PAM validator, which refuses a stack naming a module it cannot find."""
    root = debian_package_tree(("libpam-sss",), tmp_path_factory.mktemp("pam-sss"))
    return ["/lib/x86_64-linux-gnu/security", str(pam_pwquality), str(next(root.rglob("pam_sss.so")).parent)]


def _active(text: str, kind: str) -> list[str]:
    """The active lines of one type of a PAM file, each as its control and module (whitespace made single)."""
    lines = [" ".join(line.split()) for line in text.splitlines() if not line.lstrip().startswith("#")]
    return [line.split(" ", 1)[1] for line in lines if line.lstrip("-").startswith(f"{kind} ")]


@pytest.mark.slow
def test_an_sssd_joined_redhat_host_keeps_directory_logins_under_the_lock_out_and_password_rules(
    tmp_path: Path, pam_modules: list[str]
) -> None:
    """On an openEuler/Kylin host whose system-auth and password-auth use pam_sss (authselect's sssd profile), the
    role's stacks keep pam_sss in every phase, so directory users still log in, pass SSSD's access control and change
    their password, while faillock's preauth comes before pam_sss and authfail after it, and pwquality and
    pwhistory check every new password; a second run changes nothing, and a host without pam_sss gets none."""
    (tmp_path / "upper/etc/pam.d").mkdir(parents=True)
    for name in ("system-auth", "password-auth"):
        (tmp_path / "upper/etc/pam.d" / name).write_text(SSSD_SYSTEM_AUTH)
    modules = {"baseline_pam_module_dirs": pam_modules}
    done = _run_tasks(tmp_path, "pam", OPENEULER, extra_vars=modules)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for name in ("system-auth", "password-auth"):
        text = (tmp_path / "upper/etc/pam.d" / name).read_text()
        auth = _active(text, "auth")
        preauth, authfail = (
            auth.index("required pam_faillock.so preauth"),
            auth.index("[default=die] pam_faillock.so authfail"),
        )
        assert preauth < auth.index("sufficient pam_sss.so forward_pass") < authfail, f"{name}: {auth}"
        assert auth.index("sufficient pam_unix.so") < authfail, f"{name}: {auth}"
        assert "[default=bad success=ok user_unknown=ignore] pam_sss.so" in _active(text, "account"), name
        password = _active(text, "password")
        assert password.index("requisite pam_pwquality.so retry=3") < password.index(
            "sufficient pam_sss.so use_authtok"
        )
        assert any(
            p.startswith("required pam_pwhistory.so")
            for p in password[: password.index("sufficient pam_sss.so use_authtok")]
        )
        assert "optional pam_sss.so" in _active(text, "session"), name
        assert not [line for kind in ("auth", "password") for line in _active(text, kind) if "nullok" in line], name
    again = _run_tasks(tmp_path, "pam", OPENEULER, extra_vars=modules)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert "changed=0" in again.stdout, again.stdout[-3000:]

    local = tmp_path / "local"
    (local / "upper/etc/pam.d").mkdir(parents=True)
    without_sss = "".join(line + "\n" for line in SSSD_SYSTEM_AUTH.splitlines() if "pam_sss" not in line)
    (local / "upper/etc/pam.d/system-auth").write_text(without_sss)
    done = _run_tasks(local, "pam", OPENEULER, extra_vars=modules)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    for name in ("system-auth", "password-auth"):
        assert "pam_sss" not in (local / "upper/etc/pam.d" / name).read_text(), name


# A Debian 12 host joined to SSSD: pam-auth-update's common-auth, -account and -password with libpam-sss's profile
# (/usr/share/pam-configs/sss: Auth and Password Primary, Account Additional) beside pam_unix's.
SSSD_DEBIAN = {
    "common-auth": "auth\t[success=2 default=ignore]\tpam_unix.so nullok\n"
    "auth\t[success=1 default=ignore]\tpam_sss.so use_first_pass\n"
    "auth\trequisite\t\t\tpam_deny.so\nauth\trequired\t\t\tpam_permit.so\n",
    "common-account": "account\t[success=1 new_authtok_reqd=done default=ignore]\tpam_unix.so\n"
    "account\trequisite\t\t\tpam_deny.so\naccount\trequired\t\t\tpam_permit.so\n"
    "account\tsufficient\t\t\tpam_localuser.so\naccount\t[default=bad success=ok user_unknown=ignore]\tpam_sss.so\n",
    "common-password": "password\t[success=2 default=ignore]\tpam_unix.so obscure yescrypt\n"
    "password\tsufficient\t\t\tpam_sss.so use_authtok\n"
    "password\trequisite\t\t\tpam_deny.so\npassword\trequired\t\t\tpam_permit.so\n",
}


@pytest.mark.slow
def test_an_sssd_joined_debian_host_keeps_directory_logins_under_the_lock_out_and_password_rules(
    tmp_path: Path, pam_modules: list[str]
) -> None:
    """On a Debian host whose common-auth, -account and -password use pam_sss (pam-auth-update with libpam-sss), the
    role's stacks keep pam_sss: a directory user's right password skips authfail as a local user's does, a wrong one
    of either reaches it, SSSD's access control is asked after the tally is cleared, and pwquality and pwhistory come
    before pam_sss's password change; a second run changes nothing."""
    (tmp_path / "upper/etc/pam.d").mkdir(parents=True)
    for name, text in SSSD_DEBIAN.items():
        (tmp_path / "upper/etc/pam.d" / name).write_text(text)
    modules = {"baseline_pam_module_dirs": pam_modules}
    done = _run_tasks(tmp_path, "pam", DEBIAN, extra_vars=modules)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    written = {name: (tmp_path / "upper/etc/pam.d" / name).read_text() for name in SSSD_DEBIAN}
    # The first lines of each stack, in order.
    expected = {
        ("common-auth", "auth"): [
            "requisite pam_faillock.so preauth",
            "[success=2 default=ignore] pam_unix.so",
            "[success=1 default=ignore] pam_sss.so use_first_pass",
            "[default=die] pam_faillock.so authfail",
            "sufficient pam_faillock.so authsucc",
        ],
        ("common-password", "password"): [
            "requisite pam_pwquality.so retry=3",
            "required pam_pwhistory.so remember=5 use_authtok enforce_for_root",
            "[success=2 default=ignore] pam_unix.so obscure use_authtok try_first_pass yescrypt",
            "sufficient pam_sss.so use_authtok",
        ],
    }
    for (name, kind), first in expected.items():
        assert _active(written[name], kind)[: len(first)] == first, written[name]
    account = _active(written["common-account"], "account")
    assert account.index("required pam_faillock.so") < account.index("sufficient pam_localuser.so"), account
    assert account[-1] == "[default=bad success=ok user_unknown=ignore] pam_sss.so", account
    again = _run_tasks(tmp_path, "pam", DEBIAN, extra_vars=modules)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-2000:]
    assert "changed=0" in again.stdout, again.stdout[-3000:]


@pytest.mark.slow
def test_ipv6_router_advertisements_and_redirects_are_refused_on_every_existing_interface(tmp_path: Path) -> None:
    """IPv6 applies net.ipv6.conf.all.accept_ra/accept_redirects to no interface and `default` only to later ones:
    the role sets them to 0 on each interface that exists too (lo aside, a VLAN's dot written '/'), in its sysctl.d
    file, from which systemd's udev rule applies them again as the interface appears at boot; a second run changes
    nothing."""
    keys = ("accept_ra", "accept_redirects")
    with network_namespace("dzb2-role", "dzv0", "dzv1.5") as inside:

        def read(interface: str, key: str) -> str:
            path = f"/proc/sys/net/ipv6/conf/{interface}/{key}"
            return subprocess.run([*inside, "cat", path], capture_output=True, text=True, check=True).stdout.strip()

        assert read("dzv0", "accept_ra") == "1", "a new interface does not start as the kernel's default"
        first = _run_tasks(tmp_path, "sysctl", DEBIAN, inside=inside)
        assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
        for interface in ("all", "default", "dzv0", "dzv0p", "dzv1.5", "dzv1.5p"):
            for key in keys:
                assert read(interface, key) == "0", f"net.ipv6.conf.{interface}.{key} is still 1"
        written = (tmp_path / "upper/etc/sysctl.d/99-zz-dizuo.conf").read_text()
        assert "net.ipv6.conf.dzv1/5.accept_ra = 0\n" in written
        assert ".lo." not in written
        # What systemd's udev rule (99-systemd.rules) runs when the interface appears at boot.
        subprocess.run([*inside, "sysctl", "-q", "-w", "net.ipv6.conf.dzv0.accept_ra=1"], check=True)
        sysctl_of = tmp_path / "99-zz-dizuo.conf"
        sysctl_of.write_text(written)
        subprocess.run(
            [*inside, "/lib/systemd/systemd-sysctl", "--prefix=/net/ipv6/conf/dzv0", str(sysctl_of)], check=True
        )
        assert read("dzv0", "accept_ra") == "0"
        second = _run_tasks(tmp_path, "sysctl", DEBIAN, inside=inside)
        assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
        assert "changed=0" in second.stdout, second.stdout[-3000:]


@pytest.mark.slow
def test_a_kernel_parameter_the_kernel_does_not_have_is_named_not_passed_over(tmp_path: Path) -> None:
    """A sysctl_network key this kernel lacks (misspelt in city.yaml) is named by the run, which the audit fails
    DZ-IP-04 on, instead of being left out in silence; the keys the kernel has are still set."""
    wanted = {**packaged().defaults()["sysctl_network"], "net.ipv4.ip_foward": 1}  # type: ignore[dict-item]
    with network_namespace("dzb3-role", "dzv0") as inside:
        done = _run_tasks(tmp_path, "sysctl", DEBIAN, inside=inside, extra_vars={"baseline_sysctl_network": wanted})
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        assert "DZ-IP-04: this kernel has no net.ipv4.ip_foward: nothing is set for them" in done.stdout, done.stdout[
            -3000:
        ]
        redirects = subprocess.run(
            [*inside, "cat", "/proc/sys/net/ipv4/conf/all/send_redirects"], capture_output=True, text=True, check=True
        )
        assert redirects.stdout.strip() == "0", "the keys the kernel has were not set"


@pytest.mark.slow
def test_a_kernel_without_ipv6_is_not_told_to_correct_the_ipv6_keys(tmp_path: Path) -> None:
    """On a kernel without IPv6 (ipv6.disable=1: no /proc/sys/net/ipv6, here an empty folder over it) the run sets the
    IPv4 keys and names no net.ipv6 key as one to correct or waive: the audit judges them not applicable."""
    with network_namespace("dzb4-role", "dzv0") as inside:
        done = _run_tasks(tmp_path, "sysctl", DEBIAN, inside=inside, binds=("/proc/sys/net/ipv6",))
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        assert "this kernel has no" not in done.stdout, done.stdout[-3000:]
        redirects = subprocess.run(
            [*inside, "cat", "/proc/sys/net/ipv4/conf/all/send_redirects"], capture_output=True, text=True, check=True
        )
        assert redirects.stdout.strip() == "0", "the IPv4 keys were not set"


@pytest.mark.slow
def test_harden_of_key_file_permissions_sets_every_mode_the_audit_checks(tmp_path: Path) -> None:
    """`dizuo harden --controls DZ-AC-06` (tag permissions) leaves every key file that DZ-AC-06's audit lists, and
    that exists, owned by root with no mode bit beyond the audit's: sshd_config was left 0644 (Debian's), so the
    control stayed failed after its own remediation."""
    catalogue = packaged()
    listed = catalogue.control("DZ-AC-06").checks[0].resolved_args(catalogue.defaults())["files"]
    for entry in listed:
        path = tmp_path / "upper" / str(entry["path"]).lstrip("/")
        if path.name != "sudoers.d":
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(Path(entry["path"]).read_text() if Path(entry["path"]).is_file() else "# test\n")
            path.chmod(0o666)
    done = _run_tasks(tmp_path, "permissions", DEBIAN)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    too_open = {
        str(entry["path"]): oct(mode)
        for entry in listed
        if (path := tmp_path / "upper" / str(entry["path"]).lstrip("/")).exists()
        and (mode := path.stat().st_mode & 0o7777) & ~int(str(entry["mode"]), 8)
    }
    assert not too_open, f"key files left with more than the audit's mode: {too_open}"


@pytest.fixture(scope="module")
def sudo_and_audit_tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files of Debian 12's sudo, auditd and libauparse0 packages (this machine has none of them): sudo (setuid
    root), visudo and the sudoers plugin, and the audit tools an audit admin runs with the library they need."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("setpriv") is None:
        pytest.skip("the role's tasks run as root in a private mount namespace (unshare -m), users through setpriv")
    root = debian_package_tree(("sudo", "auditd", "libauparse0"), tmp_path_factory.mktemp("sudo"))
    wrappers = root / "wrappers"
    wrappers.mkdir()
    visudo = wrappers / "visudo"  # its libraries are where the package puts them, not on this machine
    visudo.write_text(f'#!/bin/sh\nLD_LIBRARY_PATH={root}/usr/libexec/sudo exec {root}/usr/sbin/visudo "$@"\n')
    visudo.chmod(0o755)
    return root


class _SudoHost:
    """This machine as the audit sees a host, each command run in a private mount namespace where /etc is the
    role's result (``work/upper/etc`` over it), /usr/local/sbin the folder the role wrote its tools in, and sudo's
    plugins, the audit tools and their library are the Debian packages'."""

    def __init__(self, work: Path, tools: Path) -> None:
        layers = {
            "/etc": work / "upper/etc",
            "/usr/libexec": work / "libexec",
            "/usr/sbin": work / "usr-sbin",
            "/usr/lib/x86_64-linux-gnu": work / "libs",
        }
        shutil.copytree(tools / "usr/libexec", work / "libexec", dirs_exist_ok=True)
        shutil.copytree(tools / "sbin", work / "usr-sbin", dirs_exist_ok=True)
        shutil.copytree(tools / "lib/x86_64-linux-gnu", work / "libs", dirs_exist_ok=True)
        mounts = []
        for target, upper in layers.items():
            (work / f"{upper.name}-work").mkdir(exist_ok=True)
            mounts.append(
                f"mount -t overlay overlay -o lowerdir={target},upperdir={upper},workdir={work}/{upper.name}-work "
                f"{target}"
            )
        mounts.append(f"mount --bind {work}/sbin /usr/local/sbin")
        self.script = " && ".join([*mounts, 'exec sh -c "$0"'])
        self.env = {**os.environ, "PATH": f"{tools}/usr/bin:{os.environ['PATH']}", "LC_ALL": "C"}

    def run(self, command: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        shown = command % tuple(shlex.quote(arg) for arg in args) if args else command
        done = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", self.script, shown],
            capture_output=True,
            check=False,
            env=self.env,
        )
        done.rc = done.returncode  # type: ignore[attr-defined]  # testinfra's name
        done.stdout_bytes, done.stderr_bytes = done.stdout, done.stderr  # type: ignore[attr-defined]
        return done

    def sudo_as(self, account: str, *command: str) -> subprocess.CompletedProcess[str]:
        """`sudo -n COMMAND` run by ``account`` (its groups as /etc/group gives them), as the account would type it."""
        done = self.run(
            "setpriv --reuid %s --regid %s --init-groups sudo -n " + " ".join(["%s"] * len(command)),
            account,
            account,
            *command,
        )
        return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(), done.stderr.decode())


def _sudo_role_tree(work: Path, tools: Path, commands: list[str], *extra: str) -> subprocess.CompletedProcess[str]:
    """The role's sudo tasks run on Debian's stock sudoers (what its sudo package installs) in ``work``, granting
    ``commands`` to the audit admin; ``extra`` are more ansible-playbook options (--check)."""
    if not (work / "upper/etc/sudoers").exists():
        (work / "upper/etc/sudoers.d").mkdir(parents=True)
        (work / "upper/etc/sudoers").write_text(
            "root ALL=(ALL:ALL) ALL\n%sudo ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n"
        )
        (work / "upper/etc/sudoers").chmod(0o440)
    return _run_tasks(
        work,
        "sudo",
        DEBIAN,
        path=tools / "wrappers",
        binds=("/home", "/var/log"),
        extra_vars={"baseline_audit_admin_commands": commands},
        playbook_options=extra,
    )


@pytest.mark.slow
def test_every_audit_admin_command_a_city_may_choose_is_granted_by_the_role_and_passes_the_audit(
    tmp_path: Path, sudo_and_audit_tools: Path
) -> None:
    """Each read-only audit tool validate accepts for audit_admin_commands (auditctl with its reading arguments
    pinned) is granted through the audit query tool, the only command the real sudo grants the audit admin (in a
    sudoers drop-in the real visudo accepts), and DZ-AC-03's audit passes the audit admin for it, the query tool's
    owner, mode and text included."""
    chosen = list(packaged().parameters()["audit_admin_commands"].choices or ())
    assert "/usr/sbin/auditctl -l" in chosen
    done = _sudo_role_tree(tmp_path, sudo_and_audit_tools, chosen)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    host = _SudoHost(tmp_path, sudo_and_audit_tools)
    tool = "/usr/local/sbin/dizuo-audit-query"
    args = {
        "roles": {"auditadmin": {"group": "dz-auditadmin", "accounts": ["audadm"]}},
        "audit_commands": chosen,
        "audit_tool": tool,
        "allowed": {"auditadmin": [f"{tool} auditctl -l", f"{tool} aureport --summary", f"{tool} last"]},
        "denied": {
            "auditadmin": ["/usr/sbin/auditctl -D", "/usr/sbin/ausearch -k identity", "/usr/bin/last", "/bin/sh"]
        },
    }
    finding = checks.sudo_separation(host, args)
    assert finding.problems == [], finding.problems
    assert any(line.startswith(f"{tool}: 0755 root:root sha256 ") for line in finding.evidence), finding.evidence


# Two events as auditd writes them: a write to /etc/passwd under the key `identity`, and a login.
AUDIT_RECORDS = """\
type=SYSCALL msg=audit(1765000000.100:101): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=55d0 \
a2=241 a3=1b6 items=1 ppid=900 pid=901 auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 \
ses=3 comm="vi" exe="/usr/bin/vim.basic" subj=unconfined key="identity"
type=PATH msg=audit(1765000000.100:101): item=0 name="/etc/passwd" inode=1 dev=08:01 mode=0100644 ouid=0 ogid=0 \
rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0
type=USER_LOGIN msg=audit(1765000100.200:102): pid=950 uid=0 auid=1001 ses=4 msg='op=login id=1001 \
exe="/usr/sbin/sshd" hostname=? addr=10.0.0.5 terminal=sshd res=success'
"""


@pytest.mark.slow
def test_the_audit_admin_reads_the_audit_trail_but_writes_or_reads_no_file_of_their_choosing(
    tmp_path: Path, sudo_and_audit_tools: Path
) -> None:
    """Through the real sudo the audit admin searches (`ausearch -k`) and summarises (`aureport --summary`) the audit
    logs, but `ausearch --checkpoint FILE` (which overwrote FILE as root), `-if FILE` and `last -f FILE` (which read any
    file as root) are refused, by the query tool or by sudo when the tool is passed by; check mode writes nothing,
    and a second run changes nothing."""
    chosen = [*packaged().defaults()["audit_admin_commands"], "/usr/bin/last", "/usr/bin/lastb"]  # type: ignore[misc]
    checked = _sudo_role_tree(tmp_path, sudo_and_audit_tools, chosen, "--check")
    assert checked.returncode == 0, checked.stdout[-4000:] + checked.stderr[-2000:]
    assert not (tmp_path / "sbin/dizuo-audit-query").exists(), "check mode wrote the query tool"
    assert not (tmp_path / "upper/etc/sudoers.d/dizuo-roles").exists(), "check mode wrote the sudoers drop-in"
    first = _sudo_role_tree(tmp_path, sudo_and_audit_tools, chosen)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    second = _sudo_role_tree(tmp_path, sudo_and_audit_tools, chosen)
    assert second.returncode == 0, second.stdout[-4000:] + second.stderr[-2000:]
    assert "changed=0" in second.stdout, second.stdout[-3000:]

    # The test's own additions, not the role's: audadm's password is locked until someone sets one, and the audit
    # logs are the records above.
    (tmp_path / "upper/etc/sudoers.d/zz-test").write_text("Defaults:audadm !authenticate\n")
    (tmp_path / "upper/etc/audit").mkdir(parents=True, exist_ok=True)
    (tmp_path / "upper/etc/audit/auditd.conf").write_text(f"log_file = {tmp_path}/audit/audit.log\n")
    (tmp_path / "audit").mkdir()
    (tmp_path / "audit/audit.log").write_text(AUDIT_RECORDS)
    (tmp_path / "audit/audit.log").chmod(0o600)  # as auditd keeps it: ausearch warns of a laxer mode
    host = _SudoHost(tmp_path, sudo_and_audit_tools)
    tool = "/usr/local/sbin/dizuo-audit-query"

    found = host.sudo_as("audadm", tool, "ausearch", "-k", "identity", "-i")
    assert found.returncode == 0, found.stderr
    assert "name=/etc/passwd" in found.stdout, found.stdout
    assert "sshd" not in found.stdout, "ausearch -k identity printed the login event too"
    summary = host.sudo_as("audadm", tool, "aureport", "--summary")
    assert summary.returncode == 0, summary.stderr
    assert "Number of events: 2" in summary.stdout, summary.stdout

    refused_by_tool = [
        ["ausearch", "--checkpoint", "/etc/dizuo-overwritten", "-k", "identity"],
        ["ausearch", "--checkpoint=/etc/dizuo-overwritten", "-k", "identity"],
        ["ausearch", "-k", "identity", "-if", "/etc/shadow"],
        ["aureport", "--input", "/etc/shadow", "--summary"],
        ["last", "-f", "/etc/shadow"],
        ["lastb", "--fi", "/etc/shadow"],  # getopt takes an abbreviation: --fi is --file
        ["last", "-xf", "/etc/shadow"],
        ["auditctl", "-D"],
        ["journalctl", "--vacuum-time=1s"],
    ]
    for command in refused_by_tool:
        refused = host.sudo_as("audadm", tool, *command)
        assert refused.returncode == 2, f"{' '.join(command)} exited {refused.returncode}: {refused.stderr}"
        assert "dizuo-audit-query: refused" in refused.stderr, f"{' '.join(command)} was not refused: {refused.stderr}"
    for command in (
        ["/usr/sbin/ausearch", "--checkpoint", "/etc/dizuo-overwritten"],
        ["/usr/bin/last", "-f", "/etc/shadow"],
    ):
        refused = host.sudo_as("audadm", *command)
        assert refused.returncode == 1, f"sudo ran {' '.join(command)}: {refused.stdout}{refused.stderr}"
        assert "not allowed to execute" in refused.stderr, refused.stderr
    assert not (tmp_path / "upper/etc/dizuo-overwritten").exists(), "a checkpoint file was written as root"


def _remove_in_check_mode(
    work: Path, packages: list[str], facts: dict[str, str], **options: Any
) -> subprocess.CompletedProcess[str]:
    """The services concern in check mode, removing ``packages`` as insecure_remote_packages, with dz-city-agent a
    baseline package of the city's own (baseline_packages_custom); ``options`` go to _run_tasks."""
    return _run_tasks(
        work,
        "services",
        facts,
        extra_vars={
            "baseline_insecure_remote_packages": packages,
            "baseline_services_disabled": ["dizuo-test-no-such.service"],
            "baseline_packages_custom": ["dz-city-agent"],
        },
        playbook_options=("--check",),
        **options,
    )


def _dpkg_stanza(name: str, depends: str = "", version: str = "1.0-1") -> str:
    """An installed package as /var/lib/dpkg/status records it."""
    depends_line = f"Depends: {depends}\n" if depends else ""
    return (
        f"\nPackage: {name}\nStatus: install ok installed\nPriority: optional\nSection: net\nInstalled-Size: 1\n"
        f"Maintainer: test <test@example.invalid>\nArchitecture: amd64\nVersion: {version}\n{depends_line}"
        f"Description: {name} as the test installs it\n"
    )


@pytest.fixture(scope="module")
def python_apt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of Debian 12's python3-apt (ansible's apt module needs it; this machine lacks it), for PYTHONPATH."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the role's tasks run as root in a private mount namespace (unshare -m)")
    return (
        debian_package_tree(("python3-apt",), tmp_path_factory.mktemp("python-apt")) / "usr/lib/python3/dist-packages"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("listed", "taken"),
    [
        (["telnet", "openssh-client"], "openssh-server"),  # openssh-server depends on openssh-client
        (["telnet", "rsh-client"], "dz-city-agent"),  # one of baseline_packages_custom, made up by the test
    ],
)
def test_removing_an_insecure_package_that_a_baseline_package_depends_on_is_refused_before_anything_is_removed(
    tmp_path: Path, python_apt: Path, monkeypatch: pytest.MonkeyPatch, listed: list[str], taken: str
) -> None:
    """apt removes what depends on a removed package: a city listing openssh-client in insecure_remote_packages would
    lose openssh-server (and SSH to the host) with it. The role asks apt (`apt-get --simulate remove`) first and stops,
    naming the baseline packages it would take, before anything is removed; a list that takes none goes on to the
    removal. Run in check mode, on a copy of this machine's dpkg status (apt-get may only simulate here)."""
    status = Path("/var/lib/dpkg/status").read_text(encoding="utf-8")
    assert "\nPackage: openssh-client\n" in status, "this machine has no openssh-client to depend on"
    made_up = [
        _dpkg_stanza("openssh-server", "openssh-client", "1:9.2p1-2+deb12u6"),  # libc6 breaks an older one
        _dpkg_stanza("telnet"),
        _dpkg_stanza("rsh-client"),
        _dpkg_stanza("dz-city-agent", "rsh-client | telnet"),
    ]
    (tmp_path / "dpkg").mkdir()
    (tmp_path / "dpkg/status").write_text(status + "".join(made_up), encoding="utf-8")
    (tmp_path / "apt/archives/partial").mkdir(parents=True)
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "apt-get").write_text(
        "#!/bin/sh\n# The test's apt-get: simulations only, this machine's packages are never changed.\n"
        'for arg; do [ "$arg" = --simulate ] && exec /usr/bin/apt-get "$@"; done\n'
        'echo "test guard: apt-get $* refused" >&2; exit 100\n'
    )
    (guard / "apt-get").chmod(0o755)
    monkeypatch.setenv("PYTHONPATH", str(python_apt))
    installed = {name: [{"name": name, "version": "1.0-1", "source": "apt"}] for name in ("telnet", "rsh-client")}
    installed["openssh-client"] = [{"name": "openssh-client", "version": "1:9.2p1-2", "source": "apt"}]
    facts = {**DEBIAN, "packages": installed}

    def run(packages: list[str]) -> subprocess.CompletedProcess[str]:
        return _remove_in_check_mode(
            tmp_path,
            packages,
            facts,
            path=guard,
            binds=("/var/lib/dpkg", "/var/cache/apt"),  # type: ignore[arg-type]
        )

    refused = run(listed)
    assert refused.returncode != 0, refused.stdout[-3000:]
    said = f"DZ-IA-07: removing {', '.join(p for p in listed if p in installed)} (insecure_remote_packages) would also"
    assert said in refused.stdout, refused.stdout[-3000:]
    assert f"remove {taken}, which the baseline needs" in refused.stdout, refused.stdout[-3000:]
    assert "DZ-IA-07 | Remove them" not in refused.stdout, "the role went on to the removal"
    alone = run(["telnet"])
    assert alone.returncode == 0, alone.stdout[-3000:]
    assert re.search(
        r"DZ-IA-07 \| Refuse a removal that would take a package the baseline needs\] \*+\nok:", alone.stdout
    )
    assert re.search(r"DZ-IA-07 \| Remove them\] \*+\nchanged:", alone.stdout), alone.stdout[-3000:]
    assert (tmp_path / "dpkg/status").read_text(encoding="utf-8") == status + "".join(made_up)


# Made-up openEuler packages for dnf to resolve: (name, what it requires). Like openEuler's, openssh-server needs
# openssh (the clients are another package); dz-city-agent needs telnet only through a library of its own.
DNF_HOST_PACKAGES = (
    ("openssh", ""),
    ("openssh-server", "openssh"),
    ("telnet", ""),
    ("rsh", ""),
    ("dz-city-lib", "telnet"),
    ("dz-city-agent", "dz-city-lib"),
)


@pytest.fixture(scope="module")
def dnf_rpmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An rpm database holding DNF_HOST_PACKAGES, built with the real rpmbuild and installed with the real rpm: the
    folder to point rpm's %_dbpath at."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("the role's tasks run as root in a private mount namespace (unshare -m)")
    if shutil.which("rpmbuild") is None or shutil.which("dnf") is None:
        pytest.skip("rpm (rpmbuild) and dnf are not installed (nox installs them)")
    work = tmp_path_factory.mktemp("rpm")
    for name, requires in DNF_HOST_PACKAGES:
        spec = work / f"{name}.spec"
        spec.write_text(
            f"Name: {name}\nVersion: 1.0\nRelease: 1.oe2203\nEpoch: 1\nSummary: {name} as the test builds it\n"
            f"License: MIT\nBuildArch: noarch\n{f'Requires: {requires}' if requires else ''}\n"
            "%description\nA made-up package.\n%files\n",
            encoding="utf-8",
        )
        subprocess.run(
            ["rpmbuild", "--define", f"_topdir {work}/top", "-bb", str(spec)], capture_output=True, check=True
        )
    rpmdb = work / "rpmdb"
    packages = sorted(str(p) for p in (work / "top/RPMS/noarch").glob("*.rpm"))
    subprocess.run(["rpm", "--dbpath", str(rpmdb), "-i", *packages], capture_output=True, check=True)
    return rpmdb


@pytest.mark.slow
@pytest.mark.parametrize(
    ("listed", "taken"),
    [
        (["rsh", "openssh"], "openssh-server"),
        (["telnet", "rsh"], "dz-city-agent"),  # one of baseline_packages_custom, two requirements away
    ],
)
def test_removing_an_insecure_package_that_a_baseline_package_depends_on_is_refused_on_dnf_hosts_too(
    tmp_path: Path, dnf_rpmdb: Path, listed: list[str], taken: str
) -> None:
    """dnf, like apt, removes every package that depends on one it removes (openEuler and Kylin install with dnf):
    the role asks dnf (its own resolution, in check mode) what removing insecure_remote_packages would take, and
    stops, naming the baseline packages among them, before anything is removed; a list that takes none goes on to
    the removal. Run in check mode against an rpm database of made-up packages (rpm's %_dbpath, set in the /etc
    overlay); the database is left as it was."""
    (tmp_path / "upper/etc/rpm").mkdir(parents=True)
    (tmp_path / "upper/etc/rpm/macros").write_text(f"%_dbpath {dnf_rpmdb}\n", encoding="utf-8")
    # An air-gapped host's repository, out of reach (nothing listens on 127.0.0.9): removing needs none.
    (tmp_path / "upper/etc/yum.repos.d").mkdir(parents=True)
    (tmp_path / "upper/etc/yum.repos.d/city.repo").write_text(
        "[city-mirror]\nname=city mirror\nbaseurl=http://127.0.0.9:9/openeuler/\nenabled=1\ngpgcheck=0\n"
        "skip_if_unavailable=False\n",
        encoding="utf-8",
    )

    def installed() -> list[str]:
        query = ["rpm", "--dbpath", str(dnf_rpmdb), "-qa"]
        return sorted(subprocess.run(query, capture_output=True, text=True, check=True).stdout.split())

    assert len(installed()) == len(DNF_HOST_PACKAGES)

    def run(packages: list[str]) -> subprocess.CompletedProcess[str]:
        return _remove_in_check_mode(
            tmp_path,
            packages,
            OPENEULER,
            binds=("/var/lib/dnf", "/var/cache", "/var/log"),  # dnf's history, metadata cache and logs
            # What an openEuler host's package_facts finds (this machine's apt would come first under `auto`).
            before=({"ansible.builtin.package_facts": {"manager": "rpm"}},),
        )

    refused = run(listed)
    assert refused.returncode != 0, refused.stdout[-3000:]
    said = f"DZ-IA-07: removing {', '.join(listed)} (insecure_remote_packages) would also remove {taken}, which"
    assert said in refused.stdout, refused.stdout[-3000:] + refused.stderr[-2000:]
    assert "DZ-IA-07 | Remove them" not in refused.stdout, "the role went on to the removal"
    alone = run(["rsh"])
    assert alone.returncode == 0, alone.stdout[-3000:] + alone.stderr[-2000:]
    assert re.search(r"DZ-IA-07 \| Remove them with dnf\] \*+\nchanged:", alone.stdout), alone.stdout[-3000:]
    assert len(installed()) == len(DNF_HOST_PACKAGES), f"packages were removed: {installed()}"


@pytest.mark.slow
def test_an_empty_list_of_units_to_disable_masks_no_unit(tmp_path: Path) -> None:
    """`systemctl list-unit-files` with no unit named lists every unit: with services_disabled (and its custom list)
    empty the role masked every unit of the host, sshd and auditd included; it now asks nothing and masks nothing.
    Run in check mode (nothing is masked either way) with /etc an overlay."""
    done = _run_tasks(
        tmp_path,
        "services",
        {**DEBIAN, "packages": {}},  # type: ignore[dict-item]
        extra_vars={"baseline_services_disabled": [], "baseline_services_disabled_custom": []},
        playbook_options=("--check",),
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    masked = re.search(r"DZ-IP-01 \| Stop, disable and mask unneeded units\] \*+\n(.*?)\n\n", done.stdout, re.DOTALL)
    assert masked, done.stdout[-3000:]
    assert "item=" not in masked.group(1), f"units were to be masked: {masked.group(1)[:2000]}"


MALWARE_NOTE_TASK = "DZ-MC-03 | Say what kept the first update or scan from working"


def _malware_first_scan_note(work: Path, report: dict[str, object]) -> str:
    """What the role's own note task (taken from tasks/malware.yml as written) says, run by the real ansible-playbook
    on this machine, after a first scan that ended (rc 0) and left ``report`` as its malware-status.json: the note's
    message, or "" when the task was skipped."""
    tasks = yaml.safe_load((ROLES / "baseline" / "tasks" / "malware.yml").read_text(encoding="utf-8"))
    note = next(task for task in tasks if task.get("name") == MALWARE_NOTE_TASK)
    encoded = base64.b64encode(json.dumps(report).encode()).decode()
    facts = {
        "baseline_malware_mirror": "http://10.64.1.30/clamav",
        "baseline_malware_first_scan_wait": 600,
        "baseline_malware_first_scan": {"rc": 0},
        "baseline_malware_status": {"content": encoded},
    }
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False,
             "tasks": [{"ansible.builtin.set_fact": facts}, note]}]  # fmt: skip
    (work / "play.yml").write_text(yaml.safe_dump(play, allow_unicode=True), encoding="utf-8")
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-e", f"ansible_python_interpreter={sys.executable}",
         str(work / "play.yml")],
        capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "false"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    shown = done.stdout.split(f"TASK [{MALWARE_NOTE_TASK}]", 1)[1]
    message = re.search(r'^\s*"msg": (".*")$', shown, re.MULTILINE)
    if message:
        return str(json.loads(message.group(1)))
    assert "skipping: [localhost]" in shown, f"the note task neither spoke nor was skipped: {shown}"
    return ""


def test_the_first_scan_note_tells_a_working_update_from_a_failed_one(tmp_path: Path) -> None:
    """The run's DZ-MC-03 note reads the first scan's report: an update that worked is said to have worked (Jinja's
    `.update` of the report found dict.update, so every update was said to have FAILED with "no report"), one that
    failed is named with its error, and a run whose update and scan both worked says nothing."""
    scan_ok = {"ok": True, "error": ""}
    failed_scan = _malware_first_scan_note(
        tmp_path, {"update": {"ok": True, "error": ""}, "scan": {"ok": False, "error": "clamscan: no database"}}
    )
    assert "update from http://10.64.1.30/clamav worked; scan FAILED: clamscan: no database." in failed_scan, (
        failed_scan
    )
    failed_update = _malware_first_scan_note(
        tmp_path, {"update": {"ok": False, "error": "mirror answered 404"}, "scan": scan_ok}
    )
    assert "update from http://10.64.1.30/clamav FAILED: mirror answered 404; scan ran." in failed_update, failed_update
    both_worked = _malware_first_scan_note(tmp_path, {"update": {"ok": True, "error": ""}, "scan": scan_ok})
    assert both_worked == "", f"a first scan whose update and scan worked was reported: {both_worked}"
    # An error left empty is no report of what went wrong (default() alone kept the empty string: "FAILED: ;").
    unsaid = _malware_first_scan_note(tmp_path, {"update": {"ok": False, "error": ""}, "scan": {"ok": False}})
    assert "update from http://10.64.1.30/clamav FAILED: no report; scan FAILED: no report." in unsaid, unsaid
    nothing = _malware_first_scan_note(tmp_path, {})
    assert "update from http://10.64.1.30/clamav FAILED: no report; scan FAILED: no report." in nothing, nothing
