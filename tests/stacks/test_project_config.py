"""Project-level config (a ``config:`` block in a stack's Pulumi.yaml) reaches synth's programs as `pulumi up` hands it.

The rules are Pulumi's: https://www.pulumi.com/docs/reference/pulumi-yaml (``config``, project level config, added in
v3.44: a plain value or ``default`` for the project's own keys, ``value`` for another namespace's, ``type`` checked on
every stack) as pulumi/pulumi implements them in sdk/go/common/workspace: project.go (RewriteShorthandConfigValues,
Project.Validate, ValidateConfigValue), config.go (mergeConfig, validateStackConfigValue) and loaders.go
(stackConfigNamespacedWithProject).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dizuo.exit_codes import BAD_INPUT
from dizuo.synth.deploy import check_declarations
from dizuo.synth.engine import read_stack_config, run_stack
from dizuo.synth.synth import StackDir, SynthError, run_program

from .conftest import YULIN, one_file_stack

PROGRAM = (
    "import pulumi\n"
    "c = pulumi.Config()\n"
    "pulumi.export('replicas', c.get_int('replicas'))\n"
    "pulumi.export('tier', c.get('tier'))\n"
    "pulumi.export('region', c.get('region'))\n"
    "pulumi.export('mode', c.get('mode'))\n"
    "pulumi.export('zones', c.get_object('zones'))\n"
    "pulumi.export('strict', c.get_bool('strict'))\n"
    "pulumi.export('aws_region', pulumi.Config('aws').get('region'))\n"
    "pulumi.export('registry', pulumi.Config('dizuo').get('registry'))\n"
)


def _project(folder: Path, config: str) -> None:
    """Give the one-file stack in ``folder`` (project dizuo-proj) the ``config:`` block ``config``."""
    (folder / "Pulumi.yaml").write_text(f"name: dizuo-proj\nruntime: python\nconfig:\n{config}", encoding="utf-8")


def test_project_defaults_and_values_reach_the_program_and_the_stack_overrides_them(tmp_path: Path) -> None:
    """Pulumi.yaml's plain values and defaults (the project's keys, namespaced by it) and values (another namespace's)
    reach the program where the stack gives none, and the stack's own value wins, whether written with the project's
    namespace or without (old code: the project's config ignored, `region` passed without its namespace)."""
    folder = one_file_stack(tmp_path / "stacks" / "3-proj", PROGRAM)
    _project(
        folder,
        "  replicas: 2\n"
        "  dizuo-proj:tier: {type: string, default: web, description: the tier}\n"
        "  region: {type: string}\n"
        "  mode: {default: blue}\n"
        "  zones: [gov, dmz]\n"
        "  strict: {type: boolean, default: true}\n"
        "  aws:region: cn-north-1\n"
        "  dizuo:registry: {value: harbor.yl.gov}\n",
    )
    (folder / "Pulumi.t.yaml").write_text("config:\n  region: cn-nw\n  dizuo-proj:mode: green\n", encoding="utf-8")
    config, secret_keys = read_stack_config(folder, "t")
    assert run_stack(folder, "t", config, secret_keys, {}).exports == {
        "replicas": 2,
        "tier": "web",
        "region": "cn-nw",
        "mode": "green",
        "zones": ["gov", "dmz"],
        "strict": True,
        "aws_region": "cn-north-1",
        "registry": "harbor.yl.gov",
    }


def test_stack_values_pulumi_reads_as_of_the_declared_type_pass(tmp_path: Path) -> None:
    """Pulumi checks a scalar by its text: an integer may be written quoted, `True` is the boolean true, and any
    scalar is a string; a list is checked item by item."""
    folder = one_file_stack(tmp_path / "stacks" / "3-proj", "import pulumi\n")
    _project(
        folder,
        "  replicas: {type: integer}\n  strict: {type: boolean}\n  tier: {type: string}\n"
        "  ports: {type: array, items: {type: integer}}\n",
    )
    (folder / "Pulumi.t.yaml").write_text(
        "config:\n  replicas: '3'\n  strict: True\n  tier: 42\n  ports: [22, '443']\n", encoding="utf-8"
    )
    config, _ = read_stack_config(folder, "t")
    assert config["dizuo-proj:replicas"] == "3"
    assert config["dizuo-proj:strict"] == "true"
    assert config["dizuo-proj:tier"] == "42"


@pytest.mark.parametrize(
    ("declared", "given", "said"),
    [
        (
            "  replicas: {type: integer}\n",
            "  replicas: many\n",
            "config.dizuo-proj:replicas: 'many': Stack 't' with configuration key 'replicas' must be of type 'integer'",
        ),
        (
            "  tls: {type: boolean, default: false}\n",
            "  tls: yes\n",  # the text `yes` to yaml.v3, which Pulumi's boolean check refuses
            "config.dizuo-proj:tls: 'yes': Stack 't' with configuration key 'tls' must be of type 'boolean'",
        ),
        (
            "  ports: {type: array, items: {type: integer}}\n",
            "  ports: [22, ssh]\n",
            "config.dizuo-proj:ports: '[22, \"ssh\"]': Stack 't' with configuration key 'ports' must be of type "
            "'array<integer>'",
        ),
        (
            "  replicas: {type: integer}\n",
            "  replicas:\n",  # the empty text to the program, which Pulumi's integer check refuses
            "config.dizuo-proj:replicas: '': Stack 't' with configuration key 'replicas' must be of type 'integer'",
        ),
        (
            "  region: {type: string}\n  zone: {description: required too}\n",
            "  other: 1\n",
            "Stack 't' is missing configuration value(s) 'region', 'zone'",
        ),
        (
            "  password: {type: string, secret: true}\n",
            "  password: hunter2\n",
            "config.dizuo-proj:password: Stack 't' with configuration key 'password' must be encrypted as it's secret",
        ),
    ],
    ids=[
        "not-an-integer",
        "yes-is-no-boolean",
        "array-item",
        "empty-is-no-integer",
        "required-key-missing",
        "secret-in-plaintext",
    ],
)
def test_a_stack_value_the_project_declares_otherwise_is_refused_naming_file_key_and_value(
    tmp_path: Path, declared: str, given: str, said: str
) -> None:
    """`pulumi up` refuses a stack whose value breaks the project's declaration (wrong type, a required key missing,
    a secret in plaintext) before the program runs: synth refuses it too, as bad input naming the stack file, the key
    and the value (old code: the declaration ignored, the program ran)."""
    folder = one_file_stack(tmp_path / "stacks" / "3-proj", "import pulumi\n")
    _project(folder, declared)
    (folder / "Pulumi.t.yaml").write_text(f"config:\n{given}", encoding="utf-8")
    with pytest.raises(SynthError) as refused:
        run_program(StackDir(folder, 3, "proj"), "t", YULIN, {})
    assert refused.value.code == BAD_INPUT
    assert f"{folder / 'Pulumi.t.yaml'}: not a readable stack config: {said}" in str(refused.value)


@pytest.mark.parametrize(
    ("declared", "said"),
    [
        (
            "  aws:region: {type: string, value: cn-north-1}\n",
            "config.aws:region: Configuration key 'aws:region' is not namespaced by the project and should not "
            "define a type",
        ),
        (
            "  dizuo:registry: {default: harbor}\n",
            "config.dizuo:registry: Configuration key 'dizuo:registry' is not namespaced by the project and should "
            "not define a default value",
        ),
        (
            "  replicas: {type: integer, default: many}\n",
            "config.replicas.default: 'many': The default value specified for configuration key 'replicas' is not "
            "of the expected type 'integer'",
        ),
        (
            "  mode: {default: blue, value: green}\n",
            "config.mode: project config 'mode' cannot have both a 'default' and 'value' attribute",
        ),
        ("  ports: {type: array}\n", "config.ports: The configuration key 'ports' declares an array"),
        ("  mode: {defualt: blue}\n", "config.mode.defualt: not a field of a config declaration"),
        ("  ratio: 1.5\n", "config.ratio: '1.5': a string, integer, boolean, list or a declaration"),
        (
            "  password: {secret: true, default: hunter2}\n",
            "config.dizuo-proj:password: Stack 't' with configuration key 'password' must be encrypted as it's secret",
        ),
        ("  cutover: 2026-12-07\n", "config.cutover: 2026-12-07: a date or time, which the Pulumi CLI reads as a time"),
    ],
    ids=["typed-other-namespace", "default-other-namespace", "default-of-wrong-type", "default-and-value",
         "array-without-items", "misspelt-field", "float-shorthand", "secret-default-in-plaintext", "unquoted-date"],
)  # fmt: skip
def test_a_project_config_pulumi_refuses_to_load_is_refused_naming_pulumi_yaml_and_the_key(
    tmp_path: Path, declared: str, said: str
) -> None:
    """A Pulumi.yaml config block the Pulumi CLI refuses to load is bad input naming Pulumi.yaml and the key, in
    Pulumi's words (old code: ignored, synth ran where `pulumi up` would not start)."""
    folder = one_file_stack(tmp_path / "stacks" / "3-proj", "import pulumi\n")
    _project(folder, declared)
    (folder / "Pulumi.t.yaml").write_text("config: {}\n", encoding="utf-8")
    with pytest.raises(SynthError) as refused:
        run_program(StackDir(folder, 3, "proj"), "t", YULIN, {})
    assert refused.value.code == BAD_INPUT
    assert f"{folder / 'Pulumi.yaml'}: not a Pulumi project file: {said}" in str(refused.value)


def test_stack_config_kept_in_another_folder_is_refused_not_silently_unread(tmp_path: Path) -> None:
    """A project keeping its Pulumi.<stack>.yaml elsewhere (stackConfigDir, or config: <folder> as Pulumi once
    spelt it) is refused naming the key, since synth reads the stack config beside Pulumi.yaml only."""
    folder = one_file_stack(tmp_path / "stacks" / "3-proj", "import pulumi\n")
    (folder / "Pulumi.yaml").write_text("name: dizuo-proj\nruntime: python\nstackConfigDir: env\n", encoding="utf-8")
    with pytest.raises(SynthError) as refused:
        run_program(StackDir(folder, 3, "proj"), "t", YULIN, {})
    assert f"{folder / 'Pulumi.yaml'}: not a Pulumi project file: stackConfigDir: 'env': " in str(refused.value)


def test_a_project_key_declared_with_and_without_its_namespace_is_refused(tmp_path: Path) -> None:
    """`replicas` and `dizuo-proj:replicas` in one Pulumi.yaml config block are one key to Pulumi: refused naming
    Pulumi.yaml and both spellings, not one of the two declarations kept in silence."""
    folder = one_file_stack(tmp_path / "stacks" / "3-proj", "import pulumi\n")
    _project(folder, "  replicas: 2\n  dizuo-proj:replicas: {type: integer}\n")
    with pytest.raises(SynthError) as refused:
        run_program(StackDir(folder, 3, "proj"), "t", YULIN, {})
    said = "config.dizuo-proj:replicas: the same key as config.replicas to the Pulumi CLI (dizuo-proj:replicas)"
    assert f"{folder / 'Pulumi.yaml'}: not a Pulumi project file: {said}" in str(refused.value)


@pytest.mark.parametrize(
    ("written", "imports"), [("[]", False), ("", False), ("[yulin/prod]", True), ("{imports: [a]}", True)]
)
def test_a_stack_file_importing_esc_environments_is_refused_and_an_empty_environment_is_none(
    tmp_path: Path, written: str, imports: bool
) -> None:
    """A stack file's `environment:` importing Pulumi ESC environments (a list of names, or a definition) is refused
    naming the file and the key, as no self-managed backend opens them and the config they give is unknown offline;
    an empty list or no value, which Pulumi takes for no environment, is none."""
    folder = one_file_stack(tmp_path / "stacks" / "3-proj", "import pulumi\n")
    (folder / "Pulumi.t.yaml").write_text(f"environment: {written}\nconfig: {{}}\n", encoding="utf-8")
    if not imports:
        run_program(StackDir(folder, 3, "proj"), "t", YULIN, {})
        return
    with pytest.raises(SynthError) as refused:
        run_program(StackDir(folder, 3, "proj"), "t", YULIN, {})
    assert refused.value.code == BAD_INPUT
    said = f"{folder / 'Pulumi.t.yaml'}: not a readable stack config: environment: "
    assert said in str(refused.value), refused.value
    assert "which only Pulumi Cloud opens" in str(refused.value), refused.value


def test_each_pulumi_yaml_is_read_once_by_synth_and_by_the_check_before_an_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stack's Pulumi.yaml with a config: block is read once to run its program offline (its config, then the
    project name the engine runs it as) and once to check the declaration its stack config names before `dizuo up`,
    where it was read for its YAML, again for its config keys and, by synth, once more for its name (and could be
    judged on one version and run as another)."""
    folder = one_file_stack(tmp_path / "stacks" / "3-proj", "import pulumi\n")
    _project(folder, "  replicas: 2\n")
    (folder / "Pulumi.t.yaml").write_text(f"config:\n  dizuo:declaration: {YULIN}\n", encoding="utf-8")
    project = folder / "Pulumi.yaml"
    read: list[Path] = []
    read_bytes, read_text = Path.read_bytes, Path.read_text

    def counted_bytes(path: Path) -> bytes:
        read.append(path)
        return read_bytes(path)

    def counted_text(path: Path, *args: Any, **kwargs: Any) -> str:
        read.append(path)
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_bytes", counted_bytes)
    monkeypatch.setattr(Path, "read_text", counted_text)
    run = run_program(StackDir(folder, 3, "proj"), "t", YULIN, {})
    assert run.project == "dizuo-proj"
    assert read.count(project) == 1, "synth"
    read.clear()
    check_declarations([StackDir(folder, 3, "proj")], "t")
    assert read.count(project) == 1, "dizuo up's check of the declarations"
