"""Where the baseline role is, and the lists of its OS variables that validate reads too (one source for both)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import yaml

PLAYBOOK = "baseline.yml"
# The packages the role installs for the baseline's own controls, in each OS family's vars file.
OWN_PACKAGE_LISTS = ("baseline_packages", "baseline_malware_packages")


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
