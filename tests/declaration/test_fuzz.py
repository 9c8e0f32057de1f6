"""Fuzzing the loader: whatever the YAML holds, the result is a Declaration or located problems, never a crash."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dizuo.declaration.loader import DeclarationError, Problem, load_documents, validate_documents
from dizuo.declaration.model import FILES

from .conftest import YULIN

ROOT = Path("inventories/fuzzed")
SHOWN_FILES = {str(ROOT / name) for name in FILES}


@functools.cache
def yulin_documents() -> dict[str, Any]:
    return load_documents(YULIN)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of a document, down to the leaves."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:4]):  # a few list items are enough to reach every field kind
            found += _paths(value, (*prefix, index))
    return found


garbage = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["10.0.0.0/33", "300.1.1.1/8", "8.8.8.0/24", "10.61.0.0/16", "sjj", "shuiwu", "x86_64", "一般"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


def problems_of(documents: dict[str, Any]) -> tuple[Problem, ...] | None:
    """None when the documents are a valid declaration, else the problems (any other exception escapes)."""
    try:
        validate_documents(ROOT, documents)
    except DeclarationError as exc:
        return exc.problems
    return None


def assert_clean_outcome(documents: dict[str, Any]) -> None:
    problems = problems_of(documents)
    if problems is None:
        return
    assert problems, "an error must list at least one problem"
    for problem in problems:
        assert problem.file in SHOWN_FILES, f"problem names no declaration file: {problem}"
        assert problem.message.strip(), f"problem without a message: {problem}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_value_anywhere_gives_declaration_or_located_problems(data: st.DataObject) -> None:
    """Replacing any key's value with garbage never raises anything but DeclarationError with located problems."""
    documents = copy.deepcopy(yulin_documents())
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        file = data.draw(st.sampled_from(sorted(FILES)))
        path = data.draw(st.sampled_from(_paths(documents[file])))
        parent = documents[file]
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(garbage)
    assert_clean_outcome(documents)


@settings(max_examples=100, deadline=None)
@given(file=st.sampled_from(sorted(FILES)), text=st.text(max_size=200))
def test_any_text_as_a_file_gives_located_problems(file: str, text: str) -> None:
    """Arbitrary text as one declaration file is parsed or rejected with the file named, never a crash."""
    documents = copy.deepcopy(yulin_documents())
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return  # the YAML layer is covered by test_broken_yaml_names_line_and_column
    documents[file] = parsed if isinstance(parsed, dict) else {"unexpected": parsed}
    assert_clean_outcome(documents)


@settings(max_examples=60, deadline=None)
@given(
    file=st.sampled_from(["systems.yaml", "datasets.yaml"]),
    key=st.sampled_from(["department", "owner", "zone", "cluster", "node_pool", "storage_pool", "source_system"]),
    value=st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=3, max_size=12),
)
def test_dangling_references_are_reported_with_their_value(file: str, key: str, value: str) -> None:
    """A reference to something undeclared is reported with the file, the key and the value."""
    documents = copy.deepcopy(yulin_documents())
    items = documents[file][file.removesuffix(".yaml")]
    if key not in items[0]:
        return
    known = {str(item.get(key)) for item in items}
    if value in known:
        return
    items[0][key] = value
    problems = problems_of(documents)
    assert problems is not None, f"{file}: {key}={value!r} was accepted"
    assert any(f"[0].{key}" in str(p) and value in str(p) for p in problems), problems
