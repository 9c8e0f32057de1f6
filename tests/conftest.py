"""Shared fixtures of the whole suite. Keep this file small: fixtures live in their own modules."""

# Real Debian test hosts (systemd-nspawn): `debian_host`, `ssh_key`. See tests/hosts/.
# Files that refuse writes even to root (chattr +i): `immutable`. See tests/immutable_files.py.
pytest_plugins = ["hosts.fixtures", "immutable_files"]
