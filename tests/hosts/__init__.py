"""Real Debian 12 test hosts: a cached debootstrap tree booted with systemd-nspawn on a private veth, or
(hosts.vm) as a QEMU virtual machine with its own kernel, for what a container cannot show (the kernel audit).

Use the ``debian_host`` fixture (session scope, one host per session) and ``write_declaration``
to point the real CLI (``dizuo audit``, ``dizuo harden``) at it through a city declaration.
"""

from hosts.declaration import write_declaration
from hosts.nspawn import BootedHost, HostError, booted_host, missing_tools

__all__ = ["BootedHost", "HostError", "booted_host", "missing_tools", "write_declaration"]
