"""Where the baseline role is, the lists of its OS variables that validate reads too (one source for both), and the
files it writes that the audit compares byte for byte."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2
import yaml

PLAYBOOK = "baseline.yml"
# The packages the role installs for the baseline's own controls, in each OS family's vars file.
OWN_PACKAGE_LISTS = ("baseline_packages", "baseline_malware_packages")
# DZ-AC-03 the audit administrator's one sudo command (vars/main.yml baseline_audit_query_tool) and its template.
AUDIT_QUERY_TOOL = "/usr/local/sbin/dizuo-audit-query"
AUDIT_QUERY_TEMPLATE = "dizuo-audit-query.j2"


def find_roles() -> Path | None:
    """The folder holding the baseline playbook and role: shipped in the package if built so, else the repository's
    ``roles/`` (source checkout, editable install, or a parent of the working folder); None when there is none."""
    shipped = resources.files("dizuo").joinpath("_ansible", "roles", PLAYBOOK)
    candidates = [Path(str(shipped))]
    # Source checkout / editable install: src/dizuo/baseline/role.py -> repo root is parents[3].
    candidates.append(Path(__file__).resolve().parents[3] / "roles" / PLAYBOOK)
    candidates += [parent / "roles" / PLAYBOOK for parent in (Path.cwd(), *Path.cwd().parents)]
    return next((candidate.parent for candidate in candidates if candidate.is_file()), None)


@cache
def own_packages() -> dict[str, tuple[str, ...]]:
    """Each package the role installs for the baseline itself, with the vars files (``vars/Debian.yml``...) that list
    it; empty when the role is not found."""
    roles = find_roles()
    found: dict[str, tuple[str, ...]] = {}
    for path in sorted((roles / "baseline" / "vars").glob("*.yml")) if roles else []:
        variables = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for name in (package for key in OWN_PACKAGE_LISTS for package in variables.get(key, [])):
            found[name] = (*found.get(name, ()), f"vars/{path.name}")
    return found


def audit_query_tool_text(audit_admin_commands: Sequence[str]) -> str | None:
    """What the role writes to the audit administrator's query tool for a city's ``audit_admin_commands``, rendered as
    Ansible's template module renders it (trailing newline kept, ``quote`` being shlex.quote); None when the role is
    not found. The template uses no other variable, so the audit needs no Ansible to know the file."""
    roles = find_roles()
    if roles is None:
        return None
    source = (roles / "baseline" / "templates" / AUDIT_QUERY_TEMPLATE).read_text(encoding="utf-8")
    # A shell script, not HTML: escaping would change the text the role writes.
    environment = jinja2.Environment(  # noqa: S701
        keep_trailing_newline=True, trim_blocks=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["quote"] = shlex.quote
    return environment.from_string(source).render(baseline_audit_admin_commands=list(audit_admin_commands))
