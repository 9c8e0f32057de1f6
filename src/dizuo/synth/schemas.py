"""Offline validation of Kubernetes manifests against the real API schemas (kubernetes-validate, strict).

kubernetes-validate's ``validate()`` re-reads and re-compiles the schema files on every call (~8 ms); we
use its schema files and naming, and compile each (kind, apiVersion) validator once.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import jsonschema
import kubernetes_validate.utils as kv
from referencing import Registry, Resource

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
    ]
