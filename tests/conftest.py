"""Shared fixtures of the whole suite. Keep this file small: fixtures live in their own modules."""

# Real Debian test hosts (systemd-nspawn): `debian_host`, `ssh_key`. See tests/hosts/.
pytest_plugins = ["hosts.fixtures"]
