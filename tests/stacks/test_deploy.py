"""`dizuo preview` / `dizuo up` driving a stand-in `pulumi` through the Automation API: what runs, where, with what."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from typer.testing import CliRunner

from dizuo.cli import app
from dizuo.synth.deploy import backend_url, check_declarations, selected_stacks, state_folder

from .conftest import ROOT, YULIN

# Answers like the Pulumi CLI. For an update it also does what the real language host and policy analyzer do first:
# start $PULUMI_PYTHON_CMD (else python3) for the program and the first python3 on PATH for the policy pack, each of
# which must import what they run (pulumi/pulumi sdk/python/toolchain/pip.go; sdk/python/dist/
# pulumi-analyzer-policy-python). FAKE_PULUMI_FAIL_IN=<folder> fails the update there after a long stdout.
FAKE_PULUMI = """#!/bin/sh
echo "$(basename "$PWD") :: $*" >> "$FAKE_PULUMI_LOG"
case "$*" in
  version) echo "${FAKE_PULUMI_VERSION:-v3.200.0}" ;;
  *"stack select"*)
    # FAKE_PULUMI_TERM_ON_SELECT: dizuo gets SIGTERM as the stack is selected, which completes all the same.
    if [ -n "$FAKE_PULUMI_TERM_ON_SELECT" ]; then trap '' INT; kill -TERM "$PPID"; fi ;;
  *" up "*|*" preview "*)
    if [ -z "${PULUMI_CONFIG_PASSPHRASE+set}" ]; then  # read where it runs, as Pulumi's filepath.Abs does
      cat "$PULUMI_CONFIG_PASSPHRASE_FILE" >/dev/null 2>&1 || {
        echo "error: unable to read PULUMI_CONFIG_PASSPHRASE_FILE: $PWD/$PULUMI_CONFIG_PASSPHRASE_FILE" >&2; exit 255; }
    fi
    "${PULUMI_PYTHON_CMD:-python3}" -c "import dizuo, pulumi" || { echo "error: program: no dizuo" >&2; exit 255; }
    python3 -c "import pulumi_policy, dizuo" || { echo "error: policy pack: no pulumi_policy" >&2; exit 255; }
    if [ "$(basename "$PWD")" = "$FAKE_PULUMI_FAIL_IN" ]; then
      i=0
      while [ $i -lt 300 ]; do echo "    + kubernetes:core/v1:Namespace yl-ns-$i create"; i=$((i+1)); done
      echo "error: update failed: the policy pack refused yl-ns-7" >&2
      exit 255
    fi
    echo "    + done" ;;
  *"stack output"*) echo "{}" ;;
  *"stack history"*) echo '[{"version": 1, "kind": "update", "startTime": "2026-12-05T00:00:00.000Z",
    "endTime": "2026-12-05T00:00:01.000Z", "message": "", "environment": {}, "config": {}, "result": "succeeded",
    "resourceChanges": {"same": 3}}]' ;;
esac
"""


# `dizuo up` of the network stack alone.
UPDATE_NETWORK = ("up", "--stack", "yulin-prod", "--only", "network")


def with_fake_pulumi(
    tmp_path: Path, args: list[str], fake: str = FAKE_PULUMI, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`.venv/bin/dizuo ARGS` as README runs it (the venv not activated: PATH holds no venv), in ``tmp_path`` with
    the stand-in ``fake`` as `pulumi` on PATH, which the Automation API drives as it would the real CLI; returns the
    run and the lines the stand-in logged."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "pulumi").write_text(fake)
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "calls.log"
    log.unlink(missing_ok=True)
    dizuo = Path(sys.executable).parent / "dizuo"  # the console script of the environment the tests run in
    done = subprocess.run(
        [str(dizuo), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=300,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "COLUMNS": "300",
            **({} if "PULUMI_CONFIG_PASSPHRASE_FILE" in env else {"PULUMI_CONFIG_PASSPHRASE": "test"}),
            "FAKE_PULUMI_LOG": str(log),
            **env,
        },
    )
    return done, log.read_text().splitlines() if log.exists() else []


def deploy(
    tmp_path: Path, *args: str, stacks: Path = ROOT / "stacks", **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`dizuo ARGS` on ``stacks`` against a file:// backend in ``tmp_path`` that holds state."""
    (tmp_path / "state" / ".pulumi").mkdir(parents=True, exist_ok=True)
    return with_fake_pulumi(
        tmp_path, [*args, "--stacks", str(stacks), "--backend", f"file://{tmp_path / 'state'}"], **env
    )


def test_stack_programs_and_the_policy_pack_run_on_dizuos_python_without_an_activated_venv(tmp_path: Path) -> None:
    """`.venv/bin/dizuo up` with the venv not activated: Pulumi starts the programs and the policy pack with the
    Python that has dizuo and the Pulumi SDK, not the system python3."""
    done, calls = deploy(tmp_path, *UPDATE_NETWORK)
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(c.startswith("0-network :: ") and " up " in c for c in calls), calls
    assert "no dizuo" not in done.stderr
    assert "no pulumi_policy" not in done.stderr


def test_a_failed_update_says_pulumis_error_once_and_which_stacks_were_done(tmp_path: Path) -> None:
    """A failed `pulumi up` shows its streamed output once (not again inside the error), Pulumi's error from stderr,
    and which stacks were already updated and which did not run."""
    done, _ = deploy(tmp_path, "up", "--stack", "yulin-prod", FAKE_PULUMI_FAIL_IN="1-cloud")
    assert done.returncode == 1, done.stderr[-3000:]
    assert done.stderr.count("yl-ns-299 create") == 1, "Pulumi's stdout is shown once"
    assert done.stderr.count("the policy pack refused yl-ns-7") == 1
    assert "stacks/1-cloud: pulumi up failed" in done.stderr
    assert "done before it: 0-baseline, 0-network; not run: 1-datapool" in " ".join(done.stderr.split())


def test_a_mistyped_stack_is_refused_before_pulumi_creates_it(tmp_path: Path) -> None:
    """--stack yulin-prd (no Pulumi.yulin-prd.yaml) exits 2 naming the stacks that have a config, and Pulumi never
    runs: it would have created an empty stack of that name in the city's backend."""
    done, calls = deploy(tmp_path, "preview", "--stack", "yulin-prd")
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    assert "stacks/0-network: there is no Pulumi.yulin-prd.yaml here; stacks with a config: yulin-prod" in text
    assert "Traceback" not in done.stderr
    assert calls == []


def test_a_refusal_names_the_stack_folders_stacks_points_at(tmp_path: Path) -> None:
    """With --stacks naming a copy elsewhere, a refusal names the copy's folder (where the user would look and fix),
    not `stacks/0-network` of the clone, which may not be the one that lacks the config."""
    copy = tmp_path / "elsewhere" / "city-stacks"
    shutil.copytree(ROOT / "stacks", copy, ignore=shutil.ignore_patterns("__pycache__"))
    done, calls = deploy(tmp_path, "preview", "--stack", "yulin-prd", stacks=copy)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    assert f"{copy / '0-network'}: there is no Pulumi.yulin-prd.yaml here" in text, text
    assert " stacks/0-network" not in text, text
    assert calls == []


def _a_city_with_an_unknown_department(city: Path) -> Path:
    """A copy of Yulin at ``city`` whose systems[12] names the department 'shuiwu', which it does not declare."""
    shutil.copytree(YULIN, city)
    systems = city / "systems.yaml"
    document = yaml.safe_load(systems.read_text(encoding="utf-8"))
    document["systems"][12]["department"] = "shuiwu"
    systems.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return city


def _up_refuses_the_city_s_problem(tmp_path: Path, stacks: Path) -> None:
    """`dizuo up` with ``stacks`` naming the city with an unknown department exits 2 naming that problem (not a
    missing declaration) before any stack is previewed or updated."""
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", stacks=stacks)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    assert "config.dizuo:declaration: missing" not in text, text
    assert "systems.yaml: systems[12].department: unknown department 'shuiwu'" in text, text
    assert not [c for c in calls if " up " in c or " preview " in c]


def test_an_invalid_declaration_is_refused_with_located_problems_before_pulumi_runs(tmp_path: Path) -> None:
    """A stack config naming a declaration with a problem: exit 2 with the problem's file, key path and value, and
    no stack is previewed or updated."""
    city = _a_city_with_an_unknown_department(tmp_path / "city")
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    for config in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        config.write_text(config.read_text().replace("../../inventories/yulin", str(city)), encoding="utf-8")
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", stacks=stacks)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    assert "systems.yaml: systems[12].department: unknown department 'shuiwu'" in text
    assert text.count("unknown department 'shuiwu'") == 1, "a declaration the stacks share is reported once"
    assert not [c for c in calls if " up " in c or " preview " in c]


def test_a_pulumi_cli_too_old_for_the_automation_api_is_a_missing_tool(tmp_path: Path) -> None:
    """A `pulumi` on PATH the Automation API cannot drive (v2) exits 2 saying what to install, before any stack."""
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", FAKE_PULUMI_VERSION="v2.25.0")
    assert done.returncode == 2, done.stderr
    assert "not a Pulumi CLI dizuo can use" in done.stderr
    assert "pulumi-v3.x-linux" in done.stderr
    assert [c.split(" :: ")[1] for c in calls] == ["version"]


def test_stacks_whose_configs_name_different_declarations_are_refused_before_pulumi_runs(tmp_path: Path) -> None:
    """The network stack's config naming a copy of the city while the others name the city itself: exit 2 naming
    each declaration and the stacks that name it, and nothing is previewed or updated (each tier would deploy
    another declaration and read the other's contracts)."""
    copy = tmp_path / "yulin-copy"
    shutil.copytree(YULIN, copy)
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    for config in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        config.write_text(config.read_text().replace("../../inventories/yulin", str(YULIN)), encoding="utf-8")
    network = stacks / "0-network" / "Pulumi.yulin-prod.yaml"
    network.write_text(network.read_text().replace(str(YULIN), str(copy)), encoding="utf-8")
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", stacks=stacks)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    named = (
        f"({stacks / '0-baseline'}, {stacks / '1-cloud'}, {stacks / '1-datapool'}: {YULIN}; {stacks / '0-network'}: "
        f"{copy})"
    )
    assert f"Pulumi.yulin-prod.yaml names 2 declarations {named}" in text, text
    assert "the stacks of an environment deploy one declaration" in text
    assert not [c for c in calls if " up " in c or " preview " in c]


def test_a_declaration_folder_yaml_1_1_reads_as_a_boolean_is_the_folder_the_pulumi_cli_names(tmp_path: Path) -> None:
    """`dizuo:declaration: no` names the folder `no` to the Pulumi CLI, which hands each program the text written:
    `dizuo up` checks that folder's declaration (here one with a problem, so nothing runs) before Pulumi runs, where
    YAML 1.1 made it false and reported the declaration missing."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    city = _a_city_with_an_unknown_department(tmp_path / "city")
    for config in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        config.write_text(config.read_text().replace("../../inventories/yulin", "no"), encoding="utf-8")
        (config.parent / "no").symlink_to(city)  # each program reads the folder relative to its own
    _up_refuses_the_city_s_problem(tmp_path, stacks)


def test_an_empty_declaration_folder_is_missing_not_a_folder_named_null(tmp_path: Path) -> None:
    """`dizuo:declaration:` left empty reaches each program as the empty text, as the Pulumi CLI hands it over:
    `dizuo up` says the declaration is missing, not that a folder `null` (or the stack's own folder) holds no city."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    for config in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        config.write_text(config.read_text().replace("../../inventories/yulin", ""), encoding="utf-8")
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", stacks=stacks)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    assert "Pulumi.yulin-prod.yaml: config.dizuo:declaration: missing (the folder of the city declaration)" in text
    assert "null" not in text, text
    assert not [c for c in calls if " up " in c or " preview " in c]


def test_a_declaration_named_in_the_projects_config_block_is_checked_not_called_missing(tmp_path: Path) -> None:
    """`dizuo:declaration` given as a project-level value in each Pulumi.yaml (`config: {dizuo:declaration: {value:
    ...}}`) and in no stack file reaches every program as `pulumi up` applies it: `dizuo up` checks that declaration
    (here one with a problem, so nothing runs), where it used to look at the stack file only and call it missing."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    city = _a_city_with_an_unknown_department(tmp_path / "city")
    for config in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        config.write_text(
            config.read_text().replace("dizuo:declaration: ../../inventories/yulin", ""), encoding="utf-8"
        )
        project = config.parent / "Pulumi.yaml"
        project.write_text(f"{project.read_text()}config:\n  dizuo:declaration: {{value: {city}}}\n", encoding="utf-8")
    _up_refuses_the_city_s_problem(tmp_path, stacks)


@pytest.mark.parametrize("where", ["Pulumi.yaml", "Pulumi.yulin-prod.yaml"])
def test_a_declaration_given_as_a_map_is_refused_naming_file_key_and_value(tmp_path: Path, where: str) -> None:
    """`dizuo:declaration` given a map (in the project's config block or the stack file) is refused before Pulumi runs
    naming the file it is in, the key and the value, not taken for a folder named by the map's JSON (or missing)."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    for config in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        config.write_text(
            config.read_text().replace("dizuo:declaration: ../../inventories/yulin", ""), encoding="utf-8"
        )
        if where == "Pulumi.yaml":
            project = config.parent / "Pulumi.yaml"
            project.write_text(
                f"{project.read_text()}config:\n  dizuo:declaration: {{value: {{city: yulin}}}}\n", encoding="utf-8"
            )
        else:
            config.write_text(f"{config.read_text()}  dizuo:declaration: {{city: yulin}}\n", encoding="utf-8")
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", stacks=stacks)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    shown = """'{"city": "yulin"}'"""  # the value as errors show one
    refused = f"{stacks / '0-network' / where}: config.dizuo:declaration: {shown}: a map, not the folder"
    assert refused in text, text
    assert "missing" not in text, text
    assert not [c for c in calls if " up " in c or " preview " in c]


def test_a_declaration_given_as_a_secret_is_refused_as_a_secret_not_as_missing(tmp_path: Path) -> None:
    """`dizuo:declaration` set with `pulumi config set --secret` (a `secure:` ciphertext in the stack file) is refused
    before Pulumi runs naming the file and the key and saying it is a secret, which dizuo up cannot read to check, not
    that the declaration is missing."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    for config in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        config.write_text(
            config.read_text().replace(
                "dizuo:declaration: ../../inventories/yulin", "dizuo:declaration: {secure: v1:c2VjcmV0:Y2lwaGVy}"
            ),
            encoding="utf-8",
        )
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", stacks=stacks)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    refused = f"{stacks / '0-network' / 'Pulumi.yulin-prod.yaml'}: config.dizuo:declaration: a secret, which cannot"
    assert refused in text, text
    assert "missing" not in text, text
    assert not [c for c in calls if " up " in c or " preview " in c]


def test_a_stack_file_importing_esc_environments_is_refused_before_any_stack_runs(tmp_path: Path) -> None:
    """A Pulumi.<stack>.yaml importing Pulumi ESC environments (`environment:`), which only Pulumi Cloud opens, is
    refused before Pulumi runs, naming the file and the key: against a self-managed backend `pulumi up` of that stack
    would stop on them after the tiers below it were updated."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    for each in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        each.write_text(each.read_text().replace("../../inventories/yulin", str(YULIN)), encoding="utf-8")
    config = stacks / "1-cloud" / "Pulumi.yulin-prod.yaml"
    config.write_text("environment:\n  - yulin/prod\n" + config.read_text(encoding="utf-8"), encoding="utf-8")
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", stacks=stacks)
    assert done.returncode == 2, done.stderr[-3000:]
    text = " ".join(done.stderr.split())
    refused = f"{config}: environment: '[\"yulin/prod\"]': Pulumi ESC environments, which only Pulumi Cloud opens"
    assert refused in text, text
    assert "1 problem(s)" in text, text
    assert not [c for c in calls if " up " in c or " preview " in c], calls


# Like the Pulumi CLI, an update or preview cancels on SIGINT: it keeps writing (the operations in flight finishing)
# and only then saves its state; killed meanwhile (by SIGPIPE once nobody reads its output), it saves nothing.
CANCELLABLE_PULUMI = """#!/bin/sh
echo "$(basename "$PWD") :: $*" >> "$FAKE_PULUMI_LOG"
case "$*" in
  version) echo v3.200.0 ;;
  *" up "*|*" preview "*)
    trap 'echo "$(basename "$PWD") :: ^C" >> "$FAKE_PULUMI_LOG";
          echo "^C received; cancelling"; sleep 0.5; echo "  creating yl-net-7 (in flight)";
          echo "$(basename "$PWD") :: state saved" >> "$FAKE_PULUMI_LOG";
          echo "error: update canceled" >&2; exit 255' INT
    echo "$(basename "$PWD") :: updating" >> "$FAKE_PULUMI_LOG"
    i=0
    while [ $i -lt 600 ]; do echo "    + yl-net-$i create"; sleep 0.05; i=$((i+1)); done ;;
esac
"""


@pytest.mark.parametrize(
    ("how", "exit_code"),
    [("ctrl-c", 128 + signal.SIGINT), ("sigint", 128 + signal.SIGINT), ("sigterm", 128 + signal.SIGTERM)],
    ids=["ctrl-c-at-the-terminal", "sigint-to-dizuo-alone", "sigterm-to-dizuo-alone"],
)
def test_a_signal_during_an_update_lets_pulumi_cancel_and_save_its_state(
    tmp_path: Path, how: str, exit_code: int
) -> None:
    """Ctrl-C at the terminal (to dizuo's process group), or SIGINT or SIGTERM to dizuo alone (`kill -INT`, `timeout`),
    during `dizuo up`: Pulumi gets one Ctrl-C (from dizuo), cancels and saves its state before dizuo exits 130 or 143
    saying which stack was cancelled, and no later tier starts. dizuo used to exit at once and close Pulumi's pipes,
    which killed it mid-update (stack locked, operations pending); and a SIGINT to dizuo alone never reached Pulumi."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(CANCELLABLE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    (tmp_path / "state" / ".pulumi").mkdir(parents=True)
    log = tmp_path / "calls.log"
    dizuo = Path(sys.executable).parent / "dizuo"
    args = [
        "up",
        "--stack",
        "yulin-prod",
        "--stacks",
        str(ROOT / "stacks"),
        "--backend",
        f"file://{tmp_path / 'state'}",
    ]
    with subprocess.Popen(
        [str(dizuo), *args],
        cwd=tmp_path,
        env={
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "COLUMNS": "300",
            "PULUMI_CONFIG_PASSPHRASE": "test",
            "FAKE_PULUMI_LOG": str(log),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job
        # Ctrl-C ends Python with KeyboardInterrupt only where SIGINT is not ignored (as in a background job)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # noqa: PLW1509 - no threads start it
    ) as dizuo_run:
        deadline = time.monotonic() + 120
        while not (log.exists() and ":: updating" in log.read_text()):
            assert dizuo_run.poll() is None, "dizuo ended before the update started"
            assert time.monotonic() < deadline, "the update never started"
            time.sleep(0.1)
        if how == "ctrl-c":
            os.killpg(dizuo_run.pid, signal.SIGINT)
        else:
            os.kill(dizuo_run.pid, signal.SIGINT if how == "sigint" else signal.SIGTERM)
        _, stderr = dizuo_run.communicate(timeout=120)
    assert dizuo_run.returncode == exit_code, stderr[-3000:]
    calls = log.read_text().splitlines()
    assert "0-baseline :: state saved" in calls, "Pulumi was stopped before it saved its state"
    assert calls.count("0-baseline :: ^C") == 1, "Pulumi got one Ctrl-C (a second stops it without saving)"
    started = [c.split(" :: ")[0] for c in calls if c.endswith(":: updating")]
    assert started == ["0-baseline"], "a later tier started after the signal"
    text = " ".join(stderr.split())
    assert "stacks/0-baseline: pulumi up cancelled: error: update canceled" in text, text
    assert "not run: 0-network, 1-cloud, 1-datapool" in text, text
    assert "Traceback" not in stderr


def folder_pulumi_opens(url: str) -> Path:
    """The folder of a file:// backend as Pulumi opens it: gocloud.dev fileblob takes Go's url.URL.Path, the path
    percent-decoded and cut at '#'; Go's url.Parse refuses a '%' that starts no escape ("invalid URL escape")."""
    path = urlsplit(url).path
    assert re.fullmatch(r"(?:[^%]|%[0-9A-Fa-f]{2})*", path), f"Pulumi refuses {url}: invalid URL escape"
    return Path(unquote(path))


@pytest.mark.parametrize(
    ("given", "folder"),
    [
        ("pulumi%20state", "pulumi state"),
        ("pulumi state", "pulumi state"),
        ("state-100%", "state-100%"),
        ("state#2", "state#2"),
        ("榆林", "榆林"),
    ],
    ids=["percent-encoded-space", "space", "percent-sign", "hash", "chinese"],
)
def test_the_folder_checked_for_state_is_the_folder_pulumi_opens(tmp_path: Path, given: str, folder: str) -> None:
    """The folder dizuo checks for state (and creates for --new-backend) is the one Pulumi opens from the URL dizuo
    hands it: `file:///srv/pulumi%20state` is the folder `pulumi state`, and a folder named with '%' or '#' reaches
    Pulumi as itself. dizuo used to check `pulumi%20state`, refuse the city's backend as holding no state, and with
    --new-backend create that stray folder."""
    url = backend_url(f"file://{tmp_path}/{given}")
    assert state_folder(url) == tmp_path / folder
    assert folder_pulumi_opens(url) == tmp_path / folder


def test_a_percent_encoded_backend_path_finds_the_state_pulumi_uses(tmp_path: Path) -> None:
    """`--backend file://.../pulumi%20state`, the state being in `pulumi state`: the update runs on it, with no
    --new-backend, and no folder `pulumi%20state` appears."""
    (tmp_path / "pulumi state" / ".pulumi").mkdir(parents=True)
    backend = f"file://{tmp_path}/pulumi%20state"
    done, calls = with_fake_pulumi(tmp_path, [*UPDATE_NETWORK, "--stacks", str(ROOT / "stacks"), "--backend", backend])
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(c.startswith("0-network :: ") and " up " in c for c in calls), calls
    assert not (tmp_path / "pulumi%20state").exists()


def test_a_relative_passphrase_file_is_read_from_where_dizuo_runs(tmp_path: Path) -> None:
    """PULUMI_CONFIG_PASSPHRASE_FILE=passphrase (relative, in the folder dizuo runs in) reaches Pulumi as that file,
    where Pulumi, run in each stack's folder, looked for stacks/0-network/passphrase and failed the first stack."""
    (tmp_path / "passphrase").write_text("s3cret\n", encoding="utf-8")
    done, calls = deploy(tmp_path, *UPDATE_NETWORK, PULUMI_CONFIG_PASSPHRASE_FILE="passphrase")  # noqa: S106 - a file
    assert done.returncode == 0, done.stderr[-3000:]
    assert any(c.startswith("0-network :: ") and " up " in c for c in calls), calls


@pytest.mark.parametrize("named", ["", "no-such-passphrase"], ids=["empty", "missing"])
def test_a_passphrase_file_pulumi_cannot_read_is_refused_before_any_stack(tmp_path: Path, named: str) -> None:
    """PULUMI_CONFIG_PASSPHRASE_FILE empty (Pulumi takes it for unset) or naming no file, without
    PULUMI_CONFIG_PASSPHRASE: exit 2 saying what to set or which file cannot be read, and no stack runs, where the
    first stack failed with Pulumi's error (exit 1)."""
    done, calls = deploy(tmp_path, "up", "--stack", "yulin-prod", PULUMI_CONFIG_PASSPHRASE_FILE=named)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    if named:
        assert f"PULUMI_CONFIG_PASSPHRASE_FILE={named}: cannot read {tmp_path / named}: No such file" in text, text
    else:
        assert "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE)" in text, text
    assert not [c for c in calls if " up " in c or " preview " in c]


@pytest.mark.parametrize("command", ["preview", "up", "released"])
def test_help_names_the_backend_used_when_none_is_given(command: str) -> None:
    """`--help` of preview, up and released says where the state is without --backend or $PULUMI_BACKEND_URL
    (.pulumi-state in the current directory), as README and the refusal of an empty backend do."""
    shown = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0, shown.output
    assert "else file://.pulumi-state in the current directory" in " ".join(shown.output.split()), shown.output


def test_a_signal_as_a_stack_is_selected_starts_no_update(tmp_path: Path) -> None:
    """SIGTERM arriving while Pulumi selects the stack (which completes all the same): dizuo exits 143 without
    starting that stack's update, saying it stopped before it."""
    done, calls = deploy(tmp_path, *UPDATE_NETWORK, FAKE_PULUMI_TERM_ON_SELECT="1")
    assert done.returncode == 128 + signal.SIGTERM, done.stderr[-3000:]
    assert any("stack select" in c for c in calls), calls
    assert not [c for c in calls if " up " in c], calls
    assert f"stopped before {ROOT / 'stacks' / '0-network'}; not run: 0-network" in " ".join(done.stderr.split())


def test_each_stack_file_is_read_once_to_check_the_declarations_it_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checking the declarations before Pulumi runs reads each `Pulumi.<stack>.yaml` once: its problems, its config
    and the order of its keys come from one reading, where it was read for its YAML, then again for the config, then
    once more for its keys (and could be judged on one version and handed on as another)."""
    read: list[str] = []
    read_bytes, read_text = Path.read_bytes, Path.read_text

    def counted_bytes(path: Path) -> bytes:
        read.append(str(path))
        return read_bytes(path)

    def counted_text(path: Path, *args: Any, **kwargs: Any) -> str:
        read.append(str(path))
        return read_text(path, *args, **kwargs)

    selected = selected_stacks(ROOT / "stacks", None)
    monkeypatch.setattr(Path, "read_bytes", counted_bytes)
    monkeypatch.setattr(Path, "read_text", counted_text)
    check_declarations(selected, "yulin-prod")
    stack_files = [str(s.path / "Pulumi.yulin-prod.yaml") for s in selected]
    assert len(stack_files) > 1
    assert sorted(p for p in read if p in stack_files) == sorted(stack_files), read


def test_the_pulumi_whose_version_is_checked_is_the_one_that_runs_the_stacks(tmp_path: Path) -> None:
    """With PATH naming `pulumi`'s folder relatively (PATH=bin:...), `dizuo up` checks the version of bin/pulumi where
    it was started and runs that one in every stack: the stacks ran `bin/pulumi` from their own folders, another CLI
    (here a v2 the Automation API cannot drive, which was never checked) or none."""
    stacks = tmp_path / "stacks"
    shutil.copytree(ROOT / "stacks", stacks, ignore=shutil.ignore_patterns("__pycache__"))
    for config in stacks.glob("*/Pulumi.yulin-prod.yaml"):
        config.write_text(config.read_text().replace("../../inventories/yulin", str(YULIN)), encoding="utf-8")
    other = stacks / "0-network" / "bin" / "pulumi"  # bin/pulumi too, seen from the stack's folder
    other.parent.mkdir()
    other.write_text('#!/bin/sh\necho "other :: $*" >> "$FAKE_PULUMI_LOG"\necho v2.25.0\n')
    other.chmod(0o755)
    # The stand-in checked is FAKE_PULUMI at tmp_path/bin/pulumi, found through the relative PATH entry.
    done, calls = deploy(tmp_path, *UPDATE_NETWORK, stacks=stacks, PATH="bin:/usr/bin:/bin")
    assert done.returncode == 0, done.stderr[-3000:]
    assert not [c for c in calls if c.startswith("other :: ")], calls
    assert calls[0].endswith(" :: version"), calls
    assert any(c.startswith("0-network :: ") and " up " in c for c in calls), calls


def test_a_pulumi_that_fails_its_version_is_named_by_its_own_path(tmp_path: Path) -> None:
    """A `pulumi` on PATH whose `pulumi version` fails exits 2 naming that CLI and what to install, not the wrapper
    dizuo runs it through (a temporary file the user never gave), and no stack runs."""
    fails = '#!/bin/sh\necho "$(basename "$PWD") :: $*" >> "$FAKE_PULUMI_LOG"\nexit 3\n'
    (tmp_path / "state" / ".pulumi").mkdir(parents=True)
    args = [*UPDATE_NETWORK, "--stacks", str(ROOT / "stacks"), "--backend", f"file://{tmp_path / 'state'}"]
    done, calls = with_fake_pulumi(tmp_path, args, fake=fails)
    assert done.returncode == 2, done.stderr
    text = " ".join(done.stderr.split())
    assert (
        f"{tmp_path / 'bin' / 'pulumi'}: not a Pulumi CLI dizuo can use: `pulumi version` exited with status 3" in text
    )
    assert "dizuo-pulumi-" not in text, text
    assert [c.split(" :: ")[1] for c in calls] == ["version"]


def test_a_pulumi_the_kernel_will_not_run_is_said_in_one_line(tmp_path: Path) -> None:
    """A `pulumi` on PATH that cannot be executed (executable, but no `#!` line nor a binary) exits 2 with one line
    from the session wrapper saying why and dizuo's refusal naming that CLI, not a Python traceback."""
    (tmp_path / "state" / ".pulumi").mkdir(parents=True)
    args = [*UPDATE_NETWORK, "--stacks", str(ROOT / "stacks"), "--backend", f"file://{tmp_path / 'state'}"]
    done, calls = with_fake_pulumi(tmp_path, args, fake="\x7fELF not really\n")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    pulumi = tmp_path / "bin" / "pulumi"
    text = " ".join(done.stderr.split())
    assert f"{pulumi}: cannot run it: Exec format error" in text, text
    assert f"{pulumi}: not a Pulumi CLI dizuo can use: `pulumi version` exited with status 126" in text, text
    assert calls == []
