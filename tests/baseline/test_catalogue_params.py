"""Baseline parameters of a city: defaults, declaration-derived values, city and zone overrides."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from dizuo.baseline import catalogue
from dizuo.baseline.audit import plan
from dizuo.baseline.catalogue import calendar_problem, packaged
from dizuo.baseline.harden import inventory
from dizuo.baseline.params import host_vars, resolve
from dizuo.declaration import Declaration, DeclarationError, load

YULIN = Path(__file__).resolve().parents[2] / "inventories" / "yulin"


@pytest.fixture(scope="module")
def yulin() -> Declaration:
    return load(YULIN)


def _with_baseline(declaration: Declaration, baseline: dict) -> Declaration:
    city = declaration.city.model_copy(update={"baseline": baseline})
    return declaration.model_copy(update={"city": city})


def test_defaults_apply_when_the_city_overrides_nothing(yulin: Declaration) -> None:
    """Without overrides every parameter has its catalogue default (empty ones excepted)."""
    params = resolve(_with_baseline(yulin, {}))
    for name, default in packaged().defaults().items():
        if default not in ("", []):
            assert params.city[name] == default, f"{name} differs from its catalogue default"


def test_empty_defaults_are_derived_from_the_declaration(yulin: Declaration) -> None:
    """Management CIDRs, the log host and the automation account come from the declaration itself."""
    params = resolve(_with_baseline(yulin, {}))
    assert params.city["mgmt_allowed_sources"] == ["10.64.0.0/16"]
    assert params.city["log_server"] == "10.64.1.20", "the first loghost (yl-log-01) receives the logs"
    assert params.city["automation_account"] == "dzadmin"


def test_zone_override_beats_city_override_beats_default(yulin: Declaration) -> None:
    """A zone value applies to that zone's hosts only; the city value to all others."""
    declaration = _with_baseline(
        yulin, {"session_timeout_seconds": 300, "zones": {"extranet": {"session_timeout_seconds": 120}}}
    )
    params = resolve(declaration)
    assert params.for_zone("extranet")["session_timeout_seconds"] == 120
    assert params.for_zone("management")["session_timeout_seconds"] == 300
    variables = host_vars(declaration, params)
    assert variables["yl-db-dm-01"]["baseline_session_timeout_seconds"] == 120, "yl-db-dm-01 is in extranet"
    assert variables["yl-log-01"]["baseline_session_timeout_seconds"] == 300, "yl-log-01 is in management"


def test_a_zone_that_overrides_one_sysctl_key_keeps_the_others(yulin: Declaration) -> None:
    """A mapping override (the catalogue's advice: Kubernetes nodes turn on ip_forward per zone) changes only the
    keys it names: the role and the audit of that zone still set and check every other DZ-IP-04 key."""
    defaults = packaged().defaults()["sysctl_network"]
    assert isinstance(defaults, dict)
    declaration = _with_baseline(
        yulin,
        {
            "sysctl_network": {"net.ipv4.tcp_syncookies": 1, "net.ipv4.conf.all.arp_ignore": 1},
            "zones": {"extranet": {"sysctl_network": {"net.ipv4.ip_forward": 1}}},
        },
    )
    params = resolve(declaration)
    city = {**defaults, "net.ipv4.conf.all.arp_ignore": 1}
    assert params.for_zone("management")["sysctl_network"] == city
    assert params.for_zone("extranet")["sysctl_network"] == {**city, "net.ipv4.ip_forward": 1}
    variables = host_vars(declaration, params)
    assert variables["yl-db-dm-01"]["baseline_sysctl_network"] == {**city, "net.ipv4.ip_forward": 1}
    host = next(h for h in declaration.inventory.hosts if h.name == "yl-db-dm-01")
    audited = plan(declaration, packaged(), [host], ["DZ-IP-04"])[0]["checks"][0]["args"]["values"]
    assert audited == {**city, "net.ipv4.ip_forward": 1}, "the audit checks every key the role sets"


@pytest.mark.parametrize(
    ("baseline", "path", "message"),
    [
        ({"log_retention_days": 90}, "baseline.log_retention_days", "must be ≥ 180 (DZ-AU-05): '90'"),
        ({"passwd_max_days": 90}, "baseline.passwd_max_days", "unknown baseline parameter"),
        ({"umask": "022"}, "baseline.umask", "must be one of 027, 077 (DZ-AC-05): '022'"),
        ({"ssh_ciphers": "aes256-ctr"}, "baseline.ssh_ciphers", "must be of type str_list"),
        ({"zones": {"moon": {"umask": "077"}}}, "baseline.zones.moon", "unknown zone"),
        (
            {"zones": {"extranet": {"password_max_days": 365}}},
            "baseline.zones.extranet.password_max_days",
            "must be ≤ 180 (DZ-IA-04): '365'",
        ),
    ],
)
def test_bad_override_names_file_key_and_value(yulin: Declaration, baseline: dict, path: str, message: str) -> None:
    """A bad override is refused with city.yaml, its key path, the rule it breaks and the value."""
    with pytest.raises(DeclarationError) as caught:
        resolve(_with_baseline(yulin, baseline), source="inventories/yulin/city.yaml")
    problem = caught.value.problems[0]
    assert problem.file == "inventories/yulin/city.yaml"
    assert problem.path == path
    assert message in problem.message


def _load_with(tmp_path: Path, baseline: dict[str, Any]) -> Declaration:
    """Load a copy of Yulin whose city.yaml baseline has ``baseline`` merged in (zones by zone)."""
    copy = tmp_path / "yulin"
    shutil.copytree(YULIN, copy)
    city_file = copy / "city.yaml"
    document = yaml.safe_load(city_file.read_text(encoding="utf-8"))
    current = document.setdefault("baseline", {})
    for key, value in baseline.items():
        if key == "zones":
            for zone, values in value.items():
                current.setdefault("zones", {}).setdefault(zone, {}).update(values)
        else:
            current[key] = value
    city_file.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load(copy)


NEEDS_SYSTEMD_ANALYZE = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed here, so calendars are left to the host's systemd",
)
DEFAULT_ACCOUNTS = packaged().parameters()["default_accounts"].default
AIDE_PATHS = packaged().parameters()["aide_paths"].default
BACKUP_PATHS = packaged().parameters()["backup_paths"].default
SCAN_PATHS = packaged().parameters()["malware_scan_paths"].default
SERVICES_OFF = packaged().parameters()["services_disabled"].default
INSECURE_PACKAGES = packaged().parameters()["insecure_remote_packages"].default

# (override, key path, rule the error states, the bad value as the error shows it)
UNSAFE_VALUES = [
    # The role makes backup_dir root-only (0700) and deletes every *.tar.gz in it but the newest; the audit globs it.
    pytest.param({"backup_dir": "/"}, "baseline.backup_dir", "a directory of the job's own", "'/'", id="backup-root"),
    pytest.param(
        {"backup_dir": "/data"}, "baseline.backup_dir", "at least two levels deep", "'/data'", id="backup-data"
    ),
    pytest.param(
        {"backup_dir": "/data/备份"},
        "baseline.backup_dir",
        "letters, digits, . _ - and /",
        "'/data/备份'",
        id="backup-non-ascii",
    ),
    pytest.param(
        {"backup_dir": "relative"}, "baseline.backup_dir", "an absolute path", "'relative'", id="backup-relative"
    ),
    pytest.param({"backup_dir": ""}, "baseline.backup_dir", "an absolute path", "''", id="backup-empty"),
    pytest.param({"backup_dir": "/etc/backup"}, "baseline.backup_dir", "/etc", "'/etc/backup'", id="backup-in-etc"),
    pytest.param(
        {"backup_dir": "/var/backups"}, "baseline.backup_dir", "/var itself", "'/var/backups'", id="backup-var"
    ),
    pytest.param(
        {"backup_dir": "/var/tmp/backup"},  # noqa: S108 - a value to refuse, never opened
        "baseline.backup_dir",
        "/var/tmp",  # noqa: S108 - words of the error message
        "'/var/tmp/backup'",
        id="backup-world-writable-tmp",
    ),
    pytest.param({"backup_dir": "/run/backup"}, "baseline.backup_dir", "/run", "'/run/backup'", id="backup-run"),
    pytest.param(
        {"backup_dir": "/home/li/backup"}, "baseline.backup_dir", "/home", "'/home/li/backup'", id="backup-in-a-home"
    ),
    pytest.param(
        {"backup_dir": "/var/lib/dizuo/backup"},
        "baseline.backup_dir",
        "/var/lib/dizuo",
        "'/var/lib/dizuo/backup'",
        id="backup-inside-a-backed-up-path",
    ),
    pytest.param(
        {"backup_dir": "/data/mysql"},
        "baseline.backup_dir",
        "backup or dizuo",
        "'/data/mysql'",
        id="backup-in-an-application-folder",
    ),
    pytest.param(
        {"backup_dir": "/data/backup/"},
        "baseline.backup_dir",
        "trailing /",
        "'/data/backup/'",
        id="backup-trailing-slash",
    ),
    pytest.param(
        {"backup_dir": "/data/../etc/backup"},
        "baseline.backup_dir",
        "no ..",
        "'/data/../etc/backup'",
        id="backup-climbing-out",
    ),
    pytest.param(
        {"backup_dir": "/data/my backup"},
        "baseline.backup_dir",
        "letters, digits",
        "'/data/my backup'",
        id="backup-with-a-space",
    ),
    # Ports: the audit compares listeners with these numbers; 0 and 65536 up name no port.
    pytest.param(
        {"zones": {"extranet": {"listen_tcp_allowed": [22, 70000, -1]}}},
        "baseline.zones.extranet.listen_tcp_allowed",
        "70000: must be a port number, 1-65535",
        "'[22, 70000, -1]'",
        id="tcp-port-too-high",
    ),
    pytest.param(
        {"listen_tcp_allowed": [22, -1]},
        "baseline.listen_tcp_allowed",
        "-1: must be a port",
        "'[22, -1]'",
        id="tcp-port-negative",
    ),
    pytest.param(
        {"listen_udp_allowed": [0]}, "baseline.listen_udp_allowed", "0: must be a port", "'[0]'", id="udp-port-zero"
    ),
    # Networks: sshd's Match Address (DZ-IP-03) and chrony's allow (DZ-AU-07) read them.
    pytest.param(
        {"mgmt_allowed_sources": ["10.0.0.0/33"]},
        "baseline.mgmt_allowed_sources",
        "'10.0.0.0/33': must be an IP address or network",
        "'[\"10.0.0.0/33\"]'",
        id="cidr-prefix-too-long",
    ),
    pytest.param(
        {"mgmt_allowed_sources": ["10.64.1.5/16"]},
        "baseline.mgmt_allowed_sources",
        "no host bits set",
        "'[\"10.64.1.5/16\"]'",
        id="cidr-host-bits",
    ),
    pytest.param(
        {"mgmt_allowed_sources": ["10.0.0.0/255.0.0.0"]},
        "baseline.mgmt_allowed_sources",
        "prefix notation",
        "'[\"10.0.0.0/255.0.0.0\"]'",
        id="cidr-netmask",
    ),
    pytest.param(
        {"ntp_serve_to": ["all"]}, "baseline.ntp_serve_to", "'all': must be an IP", "'[\"all\"]'", id="ntp-serve-to-all"
    ),
    # The audit admin's commands run as root (NOEXEC stops no shell builtin's or editor's write): read-only tools only,
    # as sudoers names them.
    pytest.param(
        {"audit_admin_commands": ["ausearch"]},
        "baseline.audit_admin_commands",
        "'ausearch': must be a read-only audit tool, as sudoers names it",
        "'[\"ausearch\"]'",
        id="command-not-absolute",
    ),
    pytest.param(
        {"audit_admin_commands": ["/usr/sbin/ausearch -i"]},
        "baseline.audit_admin_commands",
        "one of /usr/sbin/ausearch, /usr/sbin/aureport, /usr/sbin/auditctl -l",
        "'[\"/usr/sbin/ausearch -i\"]'",
        id="command-with-arguments",
    ),
    pytest.param(
        {"audit_admin_commands": ["/usr/sbin/../../bin/sh"]},
        "baseline.audit_admin_commands",
        "must be a read-only audit tool",
        "'[\"/usr/sbin/../../bin/sh\"]'",
        id="command-climbing-out",
    ),
    *(
        pytest.param(
            {"audit_admin_commands": ["/usr/sbin/ausearch", command]},
            "baseline.audit_admin_commands",
            f"{command!r}: must be a read-only audit tool, as sudoers names it (a command that can write a file or "
            "start another program, such as a shell, an editor, a pager, find or an interpreter, gives the audit "
            "admin root)",
            command,
            id=f"audit-admin-runs-{command.rsplit('/', 1)[-1].replace(' ', '')}",
        )
        for command in (
            "/bin/bash",
            "/usr/bin/vi",
            "/usr/bin/less",
            "/usr/bin/find",
            "/usr/bin/python3",
            "/usr/sbin/auditctl",  # -D deletes the rules, -e 0 stops the audit
            "/usr/bin/journalctl",  # --vacuum-time deletes the journal
        )
    ),
    # Account and group names: useradd, sudoers, sshd's Match User and pam_wheel read them.
    pytest.param(
        {"automation_account": "dz admin"},
        "baseline.automation_account",
        "a Linux user name",
        "'dz admin'",
        id="user-name-with-a-space",
    ),
    pytest.param(
        {"automation_account": "Admin"},
        "baseline.automation_account",
        "lower-case",
        "'Admin'",
        id="user-name-upper-case",
    ),
    # The automation account is the one Ansible logs in with (hosts.yaml ansible_user: dzadmin in Yulin).
    pytest.param(
        {"zones": {"extranet": {"automation_account": "ansible"}}},
        "baseline.zones.extranet.automation_account",
        "hosts.yaml's ansible_user ('dzadmin'): set that instead",
        "'ansible'",
        id="automation-account-not-the-connecting-one",
    ),
    # 三权分立 (DZ-AC-03): the role adds each listed account to its role's group; the audit fails an account in two.
    pytest.param(
        {"sysadmin_accounts": ["ops"], "auditadmin_accounts": ["ops"]},
        "baseline.auditadmin_accounts",
        "'ops' is also in sysadmin_accounts: one account holds one administrator role",
        "'[\"ops\"]'",
        id="one-account-two-admin-roles",
    ),
    pytest.param(
        {"zones": {"extranet": {"secadmin_accounts": ["dzadmin"]}}},
        "baseline.zones.extranet.secadmin_accounts",
        "'dzadmin' is also in automation_account",
        "'[\"dzadmin\"]'",
        id="automation-account-as-an-admin-role",
    ),
    pytest.param(
        {"auditadmin_group": "dz-sysadmin"},
        "baseline.auditadmin_group",
        "is the group of another administrator role",
        "'dz-sysadmin'",
        id="two-admin-roles-one-group",
    ),
    pytest.param(
        {"sysadmin_accounts": ["sysadm", "1st"]},
        "baseline.sysadmin_accounts",
        "'1st': must be a Linux user name",
        '\'["sysadm", "1st"]\'',
        id="admin-account-starting-with-a-digit",
    ),
    pytest.param(
        {"ssh_key_only_accounts": ["a" * 33]},
        "baseline.ssh_key_only_accounts",
        "must be a Linux user name",
        "'[\"" + "a" * 33 + "\"]'",
        id="key-only-account-too-long",
    ),
    pytest.param(
        {"default_accounts": [*DEFAULT_ACCOUNTS, "no body"]},
        "baseline.default_accounts",
        "'no body': must be a Linux user name",
        "no body",
        id="default-account-with-a-space",
    ),
    pytest.param(
        {"su_group": "dz sysadmin"},
        "baseline.su_group",
        "a Linux group name",
        "'dz sysadmin'",
        id="group-name-with-a-space",
    ),
    pytest.param(
        {"secadmin_grantable_groups": ["%wheel"]},
        "baseline.secadmin_grantable_groups",
        "'%wheel': must be a Linux group name",
        "'[\"%wheel\"]'",
        id="grantable-group-sudoers-syntax",
    ),
    # SSH algorithms (DZ-IA-08): the audit accepts any subset of the list, so a weak one added passed it.
    pytest.param(
        {"ssh_ciphers": ["aes256-ctr", "aes128-cbc"]},
        "baseline.ssh_ciphers",
        "'aes128-cbc': must be one of chacha20-poly1305@openssh.com",
        "aes128-cbc",
        id="ssh-cipher-cbc",
    ),
    pytest.param(
        {"zones": {"internet": {"ssh_macs": ["hmac-sha1"]}}},
        "baseline.zones.internet.ssh_macs",
        "'hmac-sha1': must be one of",
        "hmac-sha1",
        id="ssh-mac-sha1",
    ),
    pytest.param(
        {"ssh_kex": ["diffie-hellman-group14-sha1"]},
        "baseline.ssh_kex",
        "'diffie-hellman-group14-sha1': must be one of",
        "diffie-hellman-group14-sha1",
        id="ssh-kex-sha1",
    ),
    pytest.param(
        {"ssh_ciphers": ["aes256-ctr\nPermitRootLogin yes"]},
        "baseline.ssh_ciphers",
        "must be one of",
        "PermitRootLogin yes",
        id="ssh-cipher-with-a-second-line",
    ),
    # Kernel parameters (DZ-IP-04): each key is a line of the role's sysctl.d file and a path of the audit.
    pytest.param(
        {"sysctl_network": {"net.ipv4.tcp_timestamps = 1\nkernel.sysrq": 1}},
        "baseline.sysctl_network",
        "must be a kernel parameter as sysctl.d(5) spells it",
        "kernel.sysrq",
        id="sysctl-key-with-a-second-line",
    ),
    pytest.param(
        {"zones": {"extranet": {"sysctl_network": {"net.ipv4.ip_forward": "1\nkernel.sysrq = 1"}}}},
        "baseline.zones.extranet.sysctl_network",
        "must be one line of text",
        "kernel.sysrq = 1",
        id="sysctl-value-with-a-second-line",
    ),
    # Units the role masks (DZ-IP-01): masking sshd ended every SSH login; a name without its type was never found.
    pytest.param(
        {"zones": {"extranet": {"services_disabled": [*SERVICES_OFF, "ssh.service"]}}},
        "baseline.zones.extranet.services_disabled",
        "'ssh.service': must be a systemd unit name with its type (cups.service, rpcbind.socket), and none that the "
        "baseline keeps running",
        "ssh.service",
        id="services-off-masks-sshd",
    ),
    pytest.param(
        {"services_disabled": [*SERVICES_OFF, "auditd.service"]},
        "baseline.services_disabled",
        "none that the baseline keeps running (ssh/sshd, auditd",
        "auditd.service",
        id="services-off-masks-auditd",
    ),
    # The log rotation DZ-AU-05 relies on: logrotate.timer on Debian, crond's cron.daily on openEuler and Kylin.
    pytest.param(
        {"zones": {"extranet": {"services_disabled": [*SERVICES_OFF, "crond.service"]}}},
        "baseline.zones.extranet.services_disabled",
        "none that the baseline keeps running (ssh/sshd, auditd, rsyslog, chrony/chronyd, systemd-journald, "
        "systemd-tmpfiles-clean, logrotate, crond, dizuo-*)",
        "crond.service",
        id="services-off-masks-the-cron-that-runs-logrotate",
    ),
    pytest.param(
        {"services_disabled": [*SERVICES_OFF, "logrotate.timer"]},
        "baseline.services_disabled",
        "none that the baseline keeps running",
        "logrotate.timer",
        id="services-off-masks-logrotate",
    ),
    pytest.param(
        {"services_disabled": [*SERVICES_OFF, "cups"]},
        "baseline.services_disabled",
        "'cups': must be a systemd unit name with its type",
        "cups",
        id="services-off-without-unit-type",
    ),
    # Packages the role removes (DZ-IA-07): the baseline's own, as its OS vars list them, would go with their service.
    pytest.param(
        {"insecure_remote_packages": [*INSECURE_PACKAGES, "openssh-server"]},
        "baseline.insecure_remote_packages",
        "a package the baseline itself installs (roles/baseline vars/Debian.yml, vars/RedHat.yml): the role removes "
        "what this list names",
        "names 'openssh-server'",
        id="insecure-packages-remove-sshd",
    ),
    pytest.param(
        {"zones": {"extranet": {"insecure_remote_packages": [*INSECURE_PACKAGES, "audit", "chrony"]}}},
        "baseline.zones.extranet.insecure_remote_packages",
        "a package the baseline itself installs (roles/baseline vars/RedHat.yml)",
        "names 'audit'",
        id="insecure-packages-remove-the-audit-trail-redhat",
    ),
    pytest.param(
        {"insecure_remote_packages": [*INSECURE_PACKAGES, "clamav-freshclam"]},
        "baseline.insecure_remote_packages",
        "a package the baseline itself installs (roles/baseline vars/Debian.yml)",
        "names 'clamav-freshclam'",
        id="insecure-packages-remove-malware-signatures",
    ),
    # Paths the role hands to aide.conf, tar and clamscan.
    pytest.param(
        {"aide_paths": [*AIDE_PATHS, "/opt/my app"]},
        "baseline.aide_paths",
        "'/opt/my app': must be an absolute path",
        "/opt/my app",
        id="aide-path-with-a-space",
    ),
    pytest.param(
        {"backup_paths": [*BACKUP_PATHS, "data"]},
        "baseline.backup_paths",
        "'data': must be an absolute path",
        "data",
        id="backup-path-relative",
    ),
    pytest.param(
        {"malware_scan_paths": [*SCAN_PATHS, "uploads"]},
        "baseline.malware_scan_paths",
        "'uploads': must be an absolute path",
        "uploads",
        id="scan-path-relative",
    ),
    # Servers written into chrony.conf and rsyslog's configuration: one name, not a line of configuration.
    pytest.param(
        {"ntp_servers": ["10.0.0.1\nallow all"]},
        "baseline.ntp_servers",
        "must be a host name or IP address",
        "allow all",
        id="time-server-with-a-second-line",
    ),
    pytest.param(
        {"log_server": 'log"host'}, "baseline.log_server", "a host name or IP", 'log"host', id="log-server-with-a-quote"
    ),
    # Calendars: systemd's own parser judges them (DZ-MC-02, DZ-MC-03).
    pytest.param(
        {"aide_check_calendar": "dayly"},
        "baseline.aide_check_calendar",
        "must be a systemd calendar expression (systemd-analyze calendar: Failed to parse calendar specification "
        "'dayly'",
        "'dayly'",
        id="calendar-misspelt",
        marks=NEEDS_SYSTEMD_ANALYZE,
    ),
    pytest.param(
        {"zones": {"internet": {"malware_scan_calendar": "2020-01-01"}}},
        "baseline.zones.internet.malware_scan_calendar",
        "elapses again",
        "'2020-01-01'",
        id="calendar-in-the-past",
        marks=NEEDS_SYSTEMD_ANALYZE,
    ),
    pytest.param(
        {"malware_scan_calendar": "daily\nExecStart=/bin/sh"},
        "baseline.malware_scan_calendar",
        "must be a systemd calendar expression",
        "ExecStart=/bin/sh",
        id="calendar-with-a-second-line",
    ),
]


@pytest.mark.parametrize(("baseline", "path", "rule", "shown"), UNSAFE_VALUES)
def test_validate_refuses_values_that_break_the_role_or_the_audit(
    tmp_path: Path, baseline: dict[str, Any], path: str, rule: str, shown: str
) -> None:
    """`dizuo validate` refuses a parameter value the role or the audit cannot use, naming city.yaml, key and value."""
    with pytest.raises(DeclarationError) as caught:
        _load_with(tmp_path, baseline)
    found = [p for p in caught.value.problems if p.path == path]
    assert found, f"no problem at {path} among: {[str(p) for p in caught.value.problems]}"
    assert Path(found[0].file).name == "city.yaml"
    assert rule in found[0].message, found[0].message
    assert shown in found[0].message, found[0].message


SAFE_VALUES = [
    pytest.param({"backup_dir": "/data/backup"}, id="backup-on-a-data-disk"),
    pytest.param({"backup_dir": "/srv/dizuo-backups"}, id="backup-under-srv"),
    pytest.param({"backup_dir": "/var/backups/dizuo-local"}, id="backup-under-var-backups"),
    pytest.param({"backup_dir": "/mnt/nas/yl-backup"}, id="backup-on-a-mount"),
    pytest.param({"listen_tcp_allowed": [1, 22, 65535], "listen_udp_allowed": [123]}, id="port-range-ends"),
    pytest.param({"mgmt_allowed_sources": ["10.64.0.0/16", "10.64.1.5", "fd00::/64", "2001:db8::1"]}, id="networks"),
    pytest.param({"ntp_serve_to": ["10.64.0.0/16", "10.65.0.0/16"]}, id="ntp-serves-zones"),
    pytest.param(
        {
            "audit_admin_commands": [
                "/usr/sbin/ausearch",
                "/usr/sbin/aureport",
                "/usr/bin/last",
                "/usr/sbin/auditctl -l",
            ]
        },
        id="audit-commands",
    ),
    pytest.param({"automation_account": "dzadmin", "ssh_key_only_accounts": ["_svc-backup"]}, id="user-names"),
    pytest.param({"sysadmin_group": "yl-sysadmin", "secadmin_grantable_groups": ["dialout"]}, id="group-names"),
    pytest.param({"aide_paths": [*AIDE_PATHS, "/opt/dm8/bin"]}, id="aide-path-added"),
    pytest.param(
        {"sysctl_network": {"net.ipv4.tcp_rmem": "4096 87380 6291456", "net.ipv6.conf.eth0/100.accept_ra": 0}},
        id="sysctl-text-value-and-vlan-key",
    ),
    pytest.param(
        {"ssh_ciphers": ["aes256-gcm@openssh.com"], "ssh_kex": ["curve25519-sha256", "sntrup761x25519-sha512"]},
        id="ssh-fewer-or-newer-algorithms",
    ),
    pytest.param({"services_disabled": [*SERVICES_OFF, "postfix.service", "getty@tty2.service"]}, id="services-off"),
    pytest.param({"insecure_remote_packages": [*INSECURE_PACKAGES, "vsftpd", "tftpd-hpa"]}, id="insecure-packages"),
    pytest.param({"backup_paths": [*BACKUP_PATHS, "/data/政务 数据"]}, id="backup-path-cjk-with-space"),
    pytest.param(
        {"ntp_servers": ["ntp.yulin.gov.cn", "10.64.1.30", "fd00::30"], "log_server": "10.64.1.20"}, id="hosts"
    ),
    pytest.param({"aide_check_calendar": "*-*-* 03:00:00", "malware_scan_calendar": "Mon..Fri 01:30"}, id="calendars"),
]


@pytest.mark.parametrize("baseline", SAFE_VALUES)
def test_validate_accepts_usual_values(tmp_path: Path, baseline: dict[str, Any]) -> None:
    """The constraints refuse what breaks the role or the audit, not the values cities use."""
    params = resolve(_load_with(tmp_path, baseline))
    for name, value in baseline.items():
        resolved = params.city[name]
        if isinstance(value, dict):  # a mapping is merged over the catalogue's: the keys given are there as given
            assert isinstance(resolved, dict)
            assert resolved.items() >= value.items()
        else:
            assert resolved == value


def test_calendars_are_left_to_the_host_without_systemd_analyze(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without systemd-analyze here a calendar is left to the host's systemd, but never one that adds a unit line."""
    calendar_problem.cache_clear()
    monkeypatch.setattr(catalogue.shutil, "which", lambda _name: None)
    try:
        calendar = packaged().parameters()["aide_check_calendar"]
        assert calendar.problem_with("dayly") is None
        assert calendar.problem_with("daily\nExecStart=/bin/sh") == "must be a systemd calendar expression on one line"
    finally:
        calendar_problem.cache_clear()


def _load_connecting_as(tmp_path: Path, account: str, baseline: dict[str, Any] | None = None) -> Declaration:
    """Load a copy of Yulin whose hosts.yaml connects as ``account`` (and whose city.yaml baseline is ``baseline``)."""
    copy = tmp_path / "yulin"
    shutil.copytree(YULIN, copy)
    hosts_file = copy / "hosts.yaml"
    document = yaml.safe_load(hosts_file.read_text(encoding="utf-8"))
    document["ansible_user"] = account
    hosts_file.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    if baseline is not None:
        city_file = copy / "city.yaml"
        city = yaml.safe_load(city_file.read_text(encoding="utf-8"))
        city["baseline"] = baseline
        city_file.write_text(yaml.safe_dump(city, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load(copy)


def test_the_role_s_automation_account_is_the_account_ansible_logs_in_with(tmp_path: Path) -> None:
    """Every host harden converges gets, as the automation account (key-only login, sudo), the ansible_user it is
    reached as: with another, the hardened sshd asked Ansible's account for a password and locked it out."""
    rendered = inventory(_load_connecting_as(tmp_path, "ansible"))
    assert rendered["all"]["vars"]["ansible_user"] == "ansible"
    given = {
        name: hostvars["baseline_automation_account"]
        for group in rendered["all"]["children"].values()
        for name, hostvars in group["hosts"].items()
    }
    assert given, "the inventory renders no host"
    assert set(given.values()) == {"ansible"}, f"hosts whose automation account is not ansible_user: {given}"


def test_root_as_the_connecting_account_is_refused_where_root_may_not_log_in(tmp_path: Path) -> None:
    """ansible_user root is refused, naming hosts.yaml and the zones, while sshd refuses root (the catalogue
    default): the first run would lock Ansible and the audit out; with prohibit-password root logs in by key."""
    with pytest.raises(DeclarationError) as caught:
        _load_connecting_as(tmp_path / "no", "root")
    found = [p for p in caught.value.problems if p.path == "ansible_user"]
    assert found, [str(p) for p in caught.value.problems]
    assert Path(found[0].file).name == "hosts.yaml"
    assert "ssh_permit_root_login 'no' in zone(s) dedicated, extranet, internet, management" in found[0].message
    assert "'root'" in found[0].message
    allowed = _load_connecting_as(tmp_path / "key", "root", {"ssh_permit_root_login": "prohibit-password"})
    assert resolve(allowed).city["automation_account"] == "root"


@pytest.mark.parametrize(("parameter", "query"), [("ssh_ciphers", "cipher"), ("ssh_macs", "mac"), ("ssh_kex", "kex")])
def test_every_ssh_algorithm_a_city_may_choose_is_one_openssh_knows(parameter: str, query: str) -> None:
    """Each algorithm validate accepts for sshd is spelt as the real OpenSSH (`ssh -Q`) lists it: a city choosing
    one gets a config `sshd -t` accepts, not a run that stops at the validation of sshd_config."""
    if shutil.which("ssh") is None:
        pytest.skip("no OpenSSH client here to list the algorithms it knows (ssh -Q)")
    known = set(subprocess.run(["ssh", "-Q", query], capture_output=True, text=True, check=True).stdout.split())
    choices = packaged().parameters()[parameter].choices
    assert choices, f"{parameter} accepts any name"
    assert set(choices) <= known, f"{parameter} names algorithms OpenSSH does not know: {set(choices) - known}"
