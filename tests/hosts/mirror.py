"""The city's ClamAV signature mirror for a test host, served inside the host itself on loopback (nothing leaves
it): one database of the city's own, the MD5 of the EICAR test file, the harmless file every scanner is tested with.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
import time
from pathlib import Path

from hosts.nspawn import BootedHost

EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Dizuo.Test.EICAR"
MIRROR_DIR = Path("opt/dizuo-test-mirror")
MIRROR_URL = "http://127.0.0.1:8080/clamav"
MIRROR_UNIT = "dizuo-test-mirror.service"
# The baseline parameters that point a host at this mirror and take only the city's database from it.
MIRROR_BASELINE = {"malware_mirror": MIRROR_URL, "malware_databases": [], "malware_custom_databases": ["city.hdb"]}


def write_signature_mirror(root: Path) -> None:
    """The mirror's files in the host's tree (before boot, or while it runs)."""
    signatures = root / MIRROR_DIR / "clamav" / "city.hdb"
    signatures.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.md5(EICAR.encode()).hexdigest()  # noqa: S324 - ClamAV's .hdb format is MD5
    signatures.write_text(f"{digest}:{len(EICAR)}:{SIGNATURE}\n")


def signature_mirror(host: BootedHost, action: str) -> None:
    """Start or stop the mirror: a transient unit of the host's own systemd, serving on its loopback."""
    command = (
        ["systemd-run", f"--unit={MIRROR_UNIT}", "python3", "-m", "http.server", "8080", "--bind", "127.0.0.1",
         "--directory", f"/{MIRROR_DIR}"]
        if action == "start" else ["systemctl", "stop", MIRROR_UNIT]
    )  # fmt: skip
    done = subprocess.run(
        host.ssh_command(shlex.join(["sudo", "-n", *command])), capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{action} the signature mirror: {done.stderr}"
    if action != "start":
        return
    probe = shlex.join(["python3", "-c", f"import urllib.request as u; u.urlopen('{MIRROR_URL}/city.hdb', timeout=2)"])
    for _ in range(100):  # serving once the port answers
        answered = subprocess.run(host.ssh_command(probe), capture_output=True, timeout=120, check=False)
        if answered.returncode == 0:
            return
        time.sleep(0.3)
    raise AssertionError(f"the signature mirror never answered at {MIRROR_URL}")
