"""The stacks' Pulumi.yaml files pass the checks the real Pulumi CLI runs on every project it loads."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from .conftest import ROOT

PROJECTS = sorted((ROOT / "stacks").glob("*/Pulumi.yaml"))


def pulumi_project_problems(document: dict[str, Any]) -> list[str]:
    """What Pulumi refuses in a Pulumi.yaml's config block, as pulumi/pulumi states it in
    sdk/go/common/workspace/project.go: RewriteShorthandConfigValues, then Project.Validate (run on every load)."""
    name = str(document.get("name", ""))
    problems = []
    for key, given in (document.get("config") or {}).items():
        # configKeyIsNamespacedByProject: no namespace at all, or the project's own name as namespace.
        own = ":" not in key or key.startswith(f"{name}:")
        spec = given if isinstance(given, dict) else {}
        if isinstance(given, str | int | bool | list):  # shorthand: a default for own keys, a value for others
            spec = {"default": given} if own else {"value": given}
        if "default" in spec and "value" in spec:
            problems.append(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
        if own:
            if spec.get("type") == "array" and "items" not in spec:
                problems.append(f"The configuration key '{key}' declares an array but does not specify the items")
        elif "type" in spec:
            problems.append(f"Configuration key '{key}' is not namespaced by the project and should not define a type")
        elif "default" in spec:
            problems.append(
                f"Configuration key '{key}' is not namespaced by the project and should not define a default"
            )
        elif spec.get("value") is None:
            problems.append(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")
    return problems


def test_pulumis_rule_is_applied_as_pulumi_states_it() -> None:
    """The check below refuses what Pulumi's own tests say it refuses (TestNamespacedProjectConfigShouldNotBe...)."""
    typed = {"name": "test", "config": {"aws:region": {"type": "string", "value": {"region": "us-west-1"}}}}
    assert pulumi_project_problems(typed) == [
        "Configuration key 'aws:region' is not namespaced by the project and should not define a type"
    ]
    assert pulumi_project_problems({"name": "test", "config": {"aws:region": {"default": "x"}}})
    assert pulumi_project_problems({"name": "test", "config": {"aws:region": {"description": "no value"}}})
    fine = {"test:size": {"type": "string", "default": "m"}, "size": {"type": "integer"}, "aws:region": "cn-north-1"}
    assert pulumi_project_problems({"name": "test", "config": fine}) == []


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.parent.name)
def test_every_stack_project_loads_in_the_real_pulumi_cli(project: Path) -> None:
    """No Pulumi.yaml declares a config key Pulumi refuses to load (a typed key outside the project's namespace)."""
    document = yaml.safe_load(project.read_text(encoding="utf-8"))
    assert document["runtime"]["name"] == "python"
    assert pulumi_project_problems(document) == [], f"{project.relative_to(ROOT)}: Pulumi would not load it"


def test_the_stack_config_still_names_the_declaration() -> None:
    """Every stack's environment config names its declaration under dizuo:declaration, which the programs read."""
    for project in PROJECTS:
        for config in project.parent.glob("Pulumi.*.yaml"):
            document = yaml.safe_load(config.read_text(encoding="utf-8"))
            assert (project.parent / document["config"]["dizuo:declaration"] / "city.yaml").is_file(), config


def test_no_allowed_pulumi_kubernetes_takes_over_an_existing_object_on_create() -> None:
    """Before 4.29.0 pulumi-kubernetes created every object by Server-Side Apply, which silently took over an object of
    the same name already in the cluster (and a rename's create-then-delete then deleted it): pyproject allows no such
    release, and the one installed is allowed."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"]
    allowed = next(r.specifier for d in dependencies if (r := Requirement(d)).name == "pulumi-kubernetes")
    assert not allowed.contains("4.28.1"), f"pulumi-kubernetes{allowed} allows 4.28.1, which upserts on create"
    assert allowed.contains("4.29.0"), f"pulumi-kubernetes{allowed}"
    assert allowed.contains(version("pulumi-kubernetes")), f"pulumi-kubernetes{allowed} refuses the installed release"
