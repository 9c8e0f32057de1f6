"""YAML that is valid but hostile or surprising (alias bombs, recursive aliases, symlink loops, YAML 1.1's
conversions) gives located problems, quickly, and never a traceback."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, Field, ValidationError

from dizuo.declaration.loader import (
    MAX_VALUE_CHARS,
    DeclarationError,
    load,
    problems_from_validation,
    show_value,
    yaml_mapping,
)

# The 3.3 KB "billion laughs": each level aliases the one below ten times, 10^8 strings in all once expanded.
ALIAS_BOMB = "\n".join(
    [
        "l0: &l0 [" + ", ".join(["lol"] * 10) + "]",
        *(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]" for i in range(1, 8)),
        "departments:",
        "- code: sjj",
        "  name: *l7",
        "",
    ]
)


def dizuo(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`dizuo ARGS` in a process whose memory is capped at 2 GiB: a bomb that expanded would hit the cap."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    return subprocess.run(
        [sys.executable, "-m", "dizuo", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=120,
        preexec_fn=cap,
        env={**os.environ, "COLUMNS": "300"},
    )


def test_an_alias_bomb_is_refused_with_its_line_before_it_expands(city: Path) -> None:
    """Nested aliases that would expand a 3 KB file to 10^8 values: `validate` refuses them at once, naming the
    file, the anchor's line and the first alias, instead of taking gigabytes and many seconds."""
    (city / "departments.yaml").write_text(ALIAS_BOMB, encoding="utf-8")
    done = dizuo("validate", str(city))
    assert done.returncode == 1, done.stderr[-2000:]
    text = " ".join(done.stderr.split())
    assert "departments.yaml: invalid YAML: line 8, column 5: aliases expand the file to" in text
    assert "(&l7) alone expands to 111,111,111 and is aliased 1 time(s), first as *l7 (line 11)" in text
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("file", "text", "expected"),
    [
        (
            "departments.yaml",
            "departments: &d [*d]\n",
            "departments.yaml: invalid YAML: line 1, column 14: recursive alias: *d (line 1) stands for the value "
            "anchored here (&d), which holds it",
        ),
        (
            "hosts.yaml",
            "hosts:\n- name: a\n  vars: &v\n    me: *v\n",
            "hosts.yaml: invalid YAML: line 3, column 9: recursive alias: *v (line 4)",
        ),
    ],
    ids=["list-holding-itself", "mapping-holding-itself"],
)
@pytest.mark.parametrize("command", [["validate"], ["inventory", "--list"]])
def test_a_recursive_alias_is_refused_with_file_and_line(
    city: Path, file: str, text: str, expected: str, command: list[str]
) -> None:
    """An alias inside the value it names never ends: refused with file and line by every command that loads the
    declaration, not a "Circular reference detected" traceback (nor a pass in validate and a crash in inventory)."""
    (city / file).write_text(text, encoding="utf-8")
    done = dizuo(command[0], str(city), *command[1:])
    assert done.returncode in {1, 2}, done.stdout[-2000:]
    assert expected in " ".join(done.stderr.split()), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("command", [["validate"], ["inventory", "--list"]])
def test_a_symlink_loop_in_the_declaration_is_a_located_problem(city: Path, command: list[str]) -> None:
    """departments.yaml as a link to itself: a problem naming the file, not a RuntimeError from Path.resolve()."""
    (city / "departments.yaml").unlink()
    (city / "departments.yaml").symlink_to("departments.yaml")
    done = dizuo(command[0], "yulin", *command[1:], cwd=city.parent)
    assert done.returncode in {1, 2}, done.stdout[-2000:]
    assert "yulin/departments.yaml: cannot read:" in done.stderr
    assert "Traceback" not in done.stderr


def test_show_value_renders_only_what_it_shows_and_survives_a_value_holding_itself() -> None:
    """A bad value of millions of items is shown in its first characters without rendering the rest, and a list or
    mapping that holds itself is shown, not a "Circular reference detected" crash."""
    huge = [["lol"] * 1000] * 100_000  # 10^8 items by reference, as a YAML alias makes them
    shown = show_value(huge)
    assert shown.startswith('\'[["lol", "lol"')
    assert len(shown) == MAX_VALUE_CHARS + 2
    loop: list[object] = [1]
    loop.append(loop)
    me: dict[str, object] = {}
    me["me"] = me
    assert show_value(loop) == "'[1, […]]'"
    assert show_value(me) == "'{\"me\": {…}}'"
    assert show_value({"day": __import__("datetime").date(2027, 1, 1)}) == json.dumps({"day": "2027-01-01"}).join("''")


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        (
            "departments.yaml",
            ("- code: sjj\n", "- code: no\n"),
            "departments.yaml: departments[0].code: Input should be a valid string: 'false' (YAML reads an unquoted "
            "yes, no, on, off, true or false as a boolean: write the value in quotes)",
        ),
        (
            "clusters.yaml",
            ("kubernetes_version: '1.30'", "kubernetes_version: 1.30"),
            "clusters.yaml: clusters[0].kubernetes_version: Input should be a valid string: '1.3' (YAML read an "
            "unquoted number (1.30 becomes 1.3, 010 becomes 8): write the value in quotes)",
        ),
    ],
    ids=["no-as-false", "1.30-as-1.3"],
)
def test_a_value_yaml_converted_says_to_quote_it(city: Path, file: str, change: tuple[str, str], expected: str) -> None:
    """YAML 1.1 turns `no` into false and 1.30 into 1.3: the error says so and how to keep the text as written."""
    text = (city / file).read_text(encoding="utf-8")
    assert change[0] in text
    (city / file).write_text(text.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(DeclarationError) as caught:
        load(city)
    assert any(str(p).endswith(expected) for p in caught.value.problems), "\n".join(map(str, caught.value.problems))


def test_a_list_whose_items_all_failed_is_not_also_too_short() -> None:
    """When every item of a list that needs one failed, the items' errors are the problem: no follow-on "should have
    at least 1 item" (the same function serves declaration, capacity config, waivers, catalogue and instances)."""

    class Item(BaseModel):
        code: str

    class File(BaseModel):
        items: tuple[Item, ...] = Field(min_length=1)

    with pytest.raises(ValidationError) as caught:
        File.model_validate({"items": [{"code": False}]})
    found = [str(p) for p in problems_from_validation("f.yaml", caught.value)]
    assert found == [
        "f.yaml: items[0].code: Input should be a valid string: 'false' (YAML reads an unquoted yes, no, on, off, "
        "true or false as a boolean: write the value in quotes)"
    ]
    with pytest.raises(ValidationError) as empty:
        File.model_validate({"items": []})
    (too_short,) = problems_from_validation("f.yaml", empty.value)
    assert too_short.message.startswith("List should have at least 1 item")


def test_an_integer_too_long_for_python_is_a_located_problem(city: Path) -> None:
    """A 5,000-digit number, which Python refuses to make an int of, is a problem with its key, not a traceback."""
    text = (city / "departments.yaml").read_text(encoding="utf-8")
    (city / "departments.yaml").write_text(text.replace("cpu: 272,", f"cpu: {'9' * 5000},", 1), encoding="utf-8")
    with pytest.raises(DeclarationError) as caught:
        load(city)
    assert any(
        "departments[0].quota.cpu: Unable to parse input string as an integer" in str(p) for p in caught.value.problems
    )


def test_a_file_saved_as_gbk_is_named_with_its_line_and_the_encoding_to_save_it_in(city: Path) -> None:
    """departments.yaml as a Chinese Windows editor saves it (GBK): the error names the file, the line of the first
    byte that is no UTF-8 and what to do, not a byte offset from a codec."""
    departments = city / "departments.yaml"
    text = departments.read_text(encoding="utf-8")
    first_chinese = next(i for i, line in enumerate(text.splitlines(), 1) if any(ord(c) > 127 for c in line))
    departments.write_bytes(text.encode("gbk"))
    done = dizuo("validate", "yulin", cwd=city.parent)
    assert done.returncode == 1, done.stdout[-2000:]
    assert f"yulin/departments.yaml: cannot read: line {first_chinese}: not UTF-8" in done.stderr
    assert "it reads as GBK (GB18030): save it as UTF-8" in done.stderr


def test_a_control_character_yaml_refuses_is_named_with_its_line_and_column(city: Path) -> None:
    """A vertical tab pasted into a Chinese name (after multi-byte characters): the error gives the line and column
    of the character, not libyaml's byte offset into the file."""
    systems = city / "systems.yaml"
    lines = systems.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("  name: "))
    lines[at] = lines[at].replace("  name: ", "  name: 榆林\v", 1)
    systems.write_text("".join(lines), encoding="utf-8")
    done = dizuo("validate", "yulin", cwd=city.parent)
    assert done.returncode == 1, done.stdout[-2000:]
    assert f"yulin/systems.yaml: invalid YAML: line {at + 1}, column 11: character U+000B is not allowed" in " ".join(
        done.stderr.split()
    )


def test_a_mapping_key_yaml_read_as_a_number_is_named_as_a_key_not_a_list_index(city: Path) -> None:
    """`group_vars: {1: ...}`: the path names the key (`group_vars.1`, as a mapping's key is written), not a list item
    `group_vars[1].[key]` that the file does not have."""
    hosts = city / "hosts.yaml"
    hosts.write_text(
        hosts.read_text(encoding="utf-8").replace("\ngroup_vars:\n", "\ngroup_vars:\n  1: {a: 1}\n"), "utf-8"
    )
    done = dizuo("validate", "yulin", cwd=city.parent)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "yulin/hosts.yaml: group_vars.1: key: Input should be a valid string: '1' (YAML read an unquoted number" in (
        " ".join(done.stderr.split())
    )


def test_a_link_to_a_missing_file_is_named_as_a_link_where_it_is(city: Path) -> None:
    """systems.yaml as a link to a file that is gone (a moved shared checkout): the error names the link by its path
    in the declaration and where it points, not an absolute path and "file is missing" for a file `ls` lists."""
    (city / "systems.yaml").unlink()
    (city / "systems.yaml").symlink_to("../shared/systems.yaml")
    done = dizuo("validate", "yulin", cwd=city.parent)
    assert done.returncode == 1, done.stdout[-2000:]
    assert "yulin/systems.yaml: a link to ../shared/systems.yaml, which is missing" in " ".join(done.stderr.split())
    assert str(city) not in done.stderr


def test_a_plain_equals_sign_is_the_text_it_is_not_an_unreadable_file(city: Path) -> None:
    """A bare `=` (a separator in a host variable, as a value, a list item and a key) is the text "=" as YAML 1.2
    reads it, where PyYAML's 1.1 "value" type made the whole file unreadable."""
    hosts = city / "hosts.yaml"
    hosts.write_text(
        hosts.read_text(encoding="utf-8").replace(
            "vars: {ansible_python_interpreter: /usr/bin/python3}",
            "vars: {ansible_python_interpreter: /usr/bin/python3, app_kv_separator: =, app_operators: [=, '!=']}",
        ),
        encoding="utf-8",
    )
    host_vars = load(city).inventory.vars
    assert host_vars["app_kv_separator"] == "="
    assert host_vars["app_operators"] == ["=", "!="]
    assert yaml_mapping("=: equals\n", "f.yaml") == ({"=": "equals"}, [])
