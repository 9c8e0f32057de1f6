"""Offline validation of Kubernetes manifests against the real API schemas (kubernetes-validate, strict), and of
their label and annotation keys and label values against the API server's own rules.

kubernetes-validate's ``validate()`` re-reads and re-compiles the schema files on every call (~8 ms); we
use its schema files and naming, and compile each (kind, apiVersion) validator once.

The OpenAPI schemas type labels as a map of strings and nothing more: the 63-character limit and the character rules
of label keys and values (apimachinery's ValidateLabels, IsQualifiedName, IsValidLabelValue) are checked by the API
server alone, so a schema-valid manifest can still be refused at `pulumi up`; they are checked here too.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
from referencing import Registry, Resource

from dizuo.declaration.loader import show_value

# The version a manifest is checked against when no cluster says (each cluster declares its own).
KUBERNETES_VERSION = "1.30"


def numeric_version(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@functools.cache
def _schema_dir(version: str) -> str:
    # The newest schemas not newer than the cluster: "1.9" < "1.30" as numbers, not as text.
    newest = numeric_version(version)
    known = sorted(set(kv.all_versions()), key=numeric_version)
    matching = [v for v in known if numeric_version(kv.major_minor(v)) <= newest]
    if not matching:
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {version}")
    return f"v{matching[-1]}-local-strict"


def schema_version(version: str) -> str:
    """The Kubernetes version whose schemas check a cluster on ``version``: its own, or the newest kubernetes-validate
    holds when the cluster is newer than this kubernetes-validate release knows."""
    return str(kv.major_minor(_schema_dir(version).removeprefix("v").removesuffix("-local-strict")))


@functools.cache
def _validator(kind: str, api_version: str, version: str) -> jsonschema.protocols.Validator:
    schema_dir = _schema_dir(version)
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{group}.json", version)
    except FileNotFoundError:
        raise kv.SchemaNotFoundError(version=version, kind=kind, api_version=api_version) from None
    definitions = kv.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def manifest_errors(manifest: dict[str, Any], version: str = KUBERNETES_VERSION) -> list[str]:
    """Every schema violation of one manifest (strict: unknown fields are errors); empty when valid."""
    kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return ["manifest has no kind/apiVersion"]
    try:
        validator = _validator(kind, api_version, version)
    except kv.SchemaNotFoundError:
        return [f"no schema for {api_version} {kind} in Kubernetes {version}"]
    return [
        f"{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(manifest)
    ] + label_errors(manifest)


# apimachinery/pkg/util/validation: a qualified name is [prefix/]name, the prefix a DNS-1123 subdomain of at most 253
# characters, the name at most 63 characters of alphanumerics, '-', '_' and '.', starting and ending alphanumeric;
# a label value is such a name or empty.
_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
NAME_MAX, PREFIX_MAX = 63, 253


def label_key_problem(key: str) -> str | None:
    """Why the API server refuses ``key`` as a label or annotation key, or None."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not _SUBDOMAIN.fullmatch(prefix) or len(prefix) > PREFIX_MAX):
        return f"its prefix (before the one '/') must be a lower-case DNS subdomain of at most {PREFIX_MAX} characters"
    return _name_problem(name, "its name")


def label_value_problem(value: object) -> str | None:
    """Why the API server refuses ``value`` as a label value, or None."""
    # Not text: the schema check reports it.
    return _name_problem(value, "a label value") if isinstance(value, str) and value else None


def _name_problem(name: str, what: str) -> str | None:
    if len(name) > NAME_MAX:
        return f"{what} has {len(name)} characters, more than {NAME_MAX}"
    if not _NAME.fullmatch(name):
        return f"{what} must be letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
    return None


def _label_maps(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any], bool]]:
    """Every map of labels in ``manifest`` (metadata labels, selectors, node selectors) and of annotations, with
    its path and whether its values are label values."""
    found: list[tuple[str, dict[str, Any], bool]] = []

    def walk(node: object, path: str, parent: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                at = f"{path}.{key}" if path else str(key)
                if isinstance(value, dict) and (
                    (parent == "metadata" and key in {"labels", "annotations"})
                    or key in {"matchLabels", "nodeSelector"}
                    or (at == "spec.selector" and manifest.get("kind") in {"Service", "ReplicationController"})
                ):
                    found.append((at, value, key != "annotations"))
                elif key == "matchExpressions" and isinstance(value, list):
                    for i, item in enumerate(value):
                        if isinstance(item, dict) and isinstance(item.get("key"), str):
                            found.append((f"{at}.{i}.key", {item["key"]: None}, False))
                        walk(item, f"{at}.{i}", key)
                else:
                    walk(value, at, str(key))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{path}.{i}", parent)

    walk(manifest, "", "")
    return found


def label_errors(manifest: dict[str, Any]) -> list[str]:
    """Every label or annotation key, and every label value, the API server would refuse: each with its path."""
    errors = []
    for path, labels, of_labels in _label_maps(manifest):
        for key, value in labels.items():
            problem = label_key_problem(str(key))
            if problem:
                errors.append(f"{path}: key {show_value(key)}: {problem}")
            problem = label_value_problem(value) if of_labels else None
            if problem:
                errors.append(f"{path}.{key}: {problem}: {show_value(value)}")
    return errors
