"""pytest fixtures for real test hosts (registered by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hosts.nspawn import BootedHost, booted_host, generate_key, missing_tools

TEST_HOST_NAME = "yl-test-01"


@pytest.fixture(scope="session")
def ssh_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This session's admin key pair (private key path; the public key sits next to it)."""
    return generate_key(tmp_path_factory.mktemp("ssh"))


@pytest.fixture(scope="session")
def debian_host(ssh_key: Path) -> Iterator[BootedHost]:
    """One booted Debian 12 host for the whole session, reachable as dzadmin with ``ssh_key``.

    Booting costs seconds warm and minutes cold, so the session shares one host. The host cycle
    (tests/baseline/test_host_cycle.py) needs it untouched when it starts: a test that changes the
    host belongs in that module, or boots its own with ``hosts.booted_host``.
    """
    reasons = missing_tools()
    if reasons:
        pytest.skip(f"cannot boot a test host here: {', '.join(reasons)}")
    with booted_host(TEST_HOST_NAME, ssh_key) as host:
        yield host
