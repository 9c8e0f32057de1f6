"""How a cron line's guards are read: as sh runs the line."""

from __future__ import annotations

import pytest

from dizuo.baseline.sh_guards import Command, Shell, commands_of, commands_run, exits_early, readable_head

EXECUTABLE = {"/usr/sbin/anacron"}


def _answer(test: str, path: str) -> tuple[bool, str]:
    """Only /usr/sbin/anacron is there (and executable)."""
    holds = path in EXECUTABLE
    return holds, f"{path} {'is there' if holds else 'is not there'}"


@pytest.mark.parametrize(
    ("line", "commands"),
    [
        # `a && b || c`: b runs where a holds, and c only where a or b fails.
        ("[ -x /usr/sbin/anacron ] && anacron -s || run-parts /etc/cron.daily",
         [Command("anacron -s", None),
          Command("run-parts /etc/cron.daily",
                  "`[ -x /usr/sbin/anacron ] && anacron -s ||` stops it: /usr/sbin/anacron is there, anacron is taken "
                  "to succeed")]),
        ("[ -x /opt/none ] && anacron -s || run-parts /etc/cron.daily",
         [Command("anacron -s", "`[ -x /opt/none ] &&` stops it: /opt/none is not there"),
          Command("run-parts /etc/cron.daily", None)]),
        # `a || b && c` is `{ a || b; } && c`: a holding, b is not asked and c runs.
        ("test -x /usr/sbin/anacron || test -x /opt/none && run-parts /etc/cron.daily",
         [Command("run-parts /etc/cron.daily", None)]),
        ("! test -x /usr/sbin/anacron && run-parts /etc/cron.daily",
         [Command("run-parts /etc/cron.daily",
                  "`! test -x /usr/sbin/anacron &&` stops it: /usr/sbin/anacron is there")]),
        ("if [ -f /opt/none ]; then a; elif false; then b; else run-parts /etc/cron.daily; fi >/dev/null 2>&1",
         [Command("a", "`if [ -f /opt/none ]; then` stops it: /opt/none is not there"),
          Command("b", "`elif false; then` stops it: false always fails"),
          Command("run-parts /etc/cron.daily", None)]),
        # `exit` ends the shell, a subshell's the subshell alone; `#` starts a comment.
        ("# skip\nif [ -f /opt/none ]; then exit 0; fi # no\n( exit 1 ); [ -x /usr/sbin/anacron ] && exit 0\nlogrotate",
         [Command("logrotate", "`exit 0` before it ends the shell")]),
        # A test this reader cannot answer is taken to succeed, and what it does not parse is one command that runs.
        ('[ "$(date +%d)" -le 7 ] && run-parts /etc/cron.monthly', [Command("run-parts /etc/cron.monthly", None)]),
        ("case x in x) run-parts /etc/cron.daily;; esac",
         [Command("case x in x) run-parts /etc/cron.daily;; esac", None)]),
    ],
)  # fmt: skip
def test_cron_guards_are_read_as_sh_runs_them(line, commands):
    """`&&` and `||` bind equally and from the left, `!`, if/elif/else and groups as in sh, each stop named."""
    assert commands_run(line, _answer) == commands


def test_the_commands_of_a_line_are_listed_without_asking_its_tests():
    """A skipped crontab's line is named for all it would run: none of its tests is asked."""
    assert commands_of("test -x /usr/sbin/anacron || { cd / && run-parts --report /etc/cron.daily; }") == [
        "cd /",
        "run-parts --report /etc/cron.daily",
    ]


@pytest.mark.parametrize(
    ("line", "commands"),
    [
        # A substitution holding parentheses of its own no longer makes the line unreadable.
        ('[ -x /opt/none ] && logger $(uname -r | (tr a-z A-Z)) || run-parts /etc/cron.daily',
         [Command('logger $(uname -r | (tr a-z A-Z))', "`[ -x /opt/none ] &&` stops it: /opt/none is not there"),
          Command("run-parts /etc/cron.daily", None)]),
        # A `case` beside the guard is one command that runs; the guard after it is still read.
        ('case "$(date +%u)" in 7) logger sunday;; esac; [ -x /usr/sbin/anacron ] || run-parts /etc/cron.daily',
         [Command('case "$(date +%u)" in 7) logger sunday;; esac', None),
          Command("run-parts /etc/cron.daily", "`[ -x /usr/sbin/anacron ] ||` stops it: /usr/sbin/anacron is there")]),
        # A script whose guard goes on past a `\` at the end of its line.
        ("#!/bin/sh\n[ -x /usr/sbin/anacron ] \\\n  || run-parts \\\n     /etc/cron.daily\n",
         [Command("run-parts \\\n     /etc/cron.daily",
                  "`[ -x /usr/sbin/anacron ] ||` stops it: /usr/sbin/anacron is there")]),
        # A quoted path is asked as the shell hands it on, unquoted.
        ("test ! -x '/usr/sbin/'\"anacron\" && run-parts /etc/cron.daily",
         [Command("run-parts /etc/cron.daily",
                  "`test ! -x '/usr/sbin/'\"anacron\" &&` stops it: /usr/sbin/anacron is there")]),
    ],
)  # fmt: skip
def test_lines_the_grammar_reads_whole_are_read_as_sh_runs_them(line, commands):
    """Substitutions with nested parentheses, a `case`, `\\` continuations and quoted paths no longer hide guards."""
    assert commands_run(line, _answer) == commands


def test_a_leading_bang_negates_the_whole_pipeline():
    """`! a | b` is `! { a | b; }` in sh, though the grammar binds the `!` to a alone: its status is b's, negated."""
    assert commands_run("! test -x /opt/none | cat && run-parts /etc/cron.daily", _answer) == [
        Command("cat", None),
        Command("run-parts /etc/cron.daily", "`! test -x /opt/none | cat &&` stops it: cat is taken to succeed"),
    ]


def test_a_line_the_grammar_cannot_parse_is_one_command_that_runs():
    """An unbalanced quote leaves the line as written, one command that runs, as before sh was read."""
    line = "[ -x /usr/sbin/anacron ] || run-parts '/etc/cron.daily"
    assert commands_run(line, _answer) == [Command(line, None)]
    assert commands_of(line) == [line]


DASH_AS_SH, BASH_AS_SH, BUSYBOX_AS_SH = Shell("/bin/sh", "dash"), Shell("/bin/sh", "bash"), Shell("/bin/sh", "busybox")
DAILY_LINE = "[[ -x /usr/sbin/anacron ]] || run-parts /etc/cron.daily"
GUARDED_LINE = "[[ ! -x /usr/sbin/anacron ]] && run-parts /etc/cron.daily"


@pytest.mark.parametrize(
    ("line", "shell", "commands"),
    [
        # dash (Debian's /bin/sh) has no `[[`: it is a command not found, which fails, so `||` runs run-parts and `&&`
        # does not, whatever the file is.
        (DAILY_LINE, DASH_AS_SH, [Command("run-parts /etc/cron.daily", None)]),
        (GUARDED_LINE, DASH_AS_SH,
         [Command("run-parts /etc/cron.daily",
                  "`[[ ! -x /usr/sbin/anacron ]] &&` stops it: /bin/sh (dash) has no `[[`")]),
        (GUARDED_LINE, Shell("/bin/dash", "dash"),
         [Command("run-parts /etc/cron.daily", "`[[ ! -x /usr/sbin/anacron ]] &&` stops it: /bin/dash has no `[[`")]),
        # bash has `[[`, also as /bin/sh (the RedHat family's): its file tests are asked as `[`'s are.
        (DAILY_LINE, BASH_AS_SH,
         [Command("run-parts /etc/cron.daily",
                  "`[[ -x /usr/sbin/anacron ]] ||` stops it: /usr/sbin/anacron is there")]),
        (GUARDED_LINE, Shell("/bin/bash", "bash"),
         [Command("run-parts /etc/cron.daily",
                  "`[[ ! -x /usr/sbin/anacron ]] &&` stops it: /usr/sbin/anacron is there")]),
        ("[[ -d /opt/none ]] || run-parts /etc/cron.daily", BASH_AS_SH, [Command("run-parts /etc/cron.daily", None)]),
        # A shell this reader does not know: `[[` is taken to succeed, and is no command the line runs.
        (DAILY_LINE, BUSYBOX_AS_SH,
         [Command("run-parts /etc/cron.daily",
                  "`[[ -x /usr/sbin/anacron ]] ||` stops it: `[[ -x /usr/sbin/anacron ]]` is taken to succeed")]),
        (DAILY_LINE, None,
         [Command("run-parts /etc/cron.daily",
                  "`[[ -x /usr/sbin/anacron ]] ||` stops it: `[[ -x /usr/sbin/anacron ]]` is taken to succeed")]),
    ],
)  # fmt: skip
def test_double_brackets_are_read_as_the_shell_running_the_line_reads_them(line, shell, commands):
    """`[[` fails under a shell without it (dash), is a file test under bash, and is taken to succeed elsewhere."""
    assert commands_run(line, _answer, shell) == commands


NEGATED_STEP_ASIDE = "if [[ ! -x /usr/sbin/anacron ]]; then :; else exit 0; fi\n$LOGROTATE /etc/logrotate.conf"


@pytest.mark.parametrize(
    ("line", "shell", "exits"),
    [
        # dash's `[[` fails whatever the `!`: the `else` runs, and exit stops what follows.
        (NEGATED_STEP_ASIDE, DASH_AS_SH, True),
        # bash asks the host: anacron is there, `!` makes the test fail, and the `else` exits all the same.
        (NEGATED_STEP_ASIDE, BASH_AS_SH, True),
        (NEGATED_STEP_ASIDE.replace("anacron", "none"), BASH_AS_SH, False),
        # `! [[ ... ]]` under dash is true: the `then` runs, and nothing exits.
        ("if ! [[ -d /opt/none ]]; then :; else exit 0; fi\nlogrotate", DASH_AS_SH, False),
        # An exit that stops nothing after it (the script's last word), or one in a subshell, is no early one.
        ("logrotate /etc/logrotate.conf\nexit $?", DASH_AS_SH, False),
        ("( exit 0 ); logrotate", DASH_AS_SH, False),
        # The commands a subshell's `exit 1` stops are not the script's last `exit 1`'s, written the same.
        ("( [ -d /x ] || exit 1; echo a )\nlogger done\nexit 1", DASH_AS_SH, False),
        ("( [ -d /x ] || exit 1; echo a )\nexit 1\nlogger done", DASH_AS_SH, True),
        # A line the grammar cannot parse is not read.
        ("exit 0; echo 'x", DASH_AS_SH, False),
    ],
)  # fmt: skip
def test_an_exit_before_a_later_command_is_read_as_the_shell_runs_the_line(line, shell, exits):
    """exits_early: the shell reaches an `exit` and a command after it never runs."""
    assert exits_early(line, _answer, shell) is exits


@pytest.mark.parametrize(("whole", "exits"), [(True, False), (False, True)])
def test_any_exit_the_head_of_a_script_reaches_is_early(whole, exits):
    """exits_early: an `exit` reached at the end of a readable head stops the rest of the script, which the head does
    not hold; at the end of the whole script it stops nothing."""
    head = "if [[ ! -d /run/systemd/system ]]; then :; else exit 0; fi\n"
    assert exits_early(head, _answer, DASH_AS_SH, whole=whole) is exits


@pytest.mark.parametrize(
    ("script", "head"),
    [
        ("if [ -d /x ]; then\n  exit 0\nfi\nlogrotate\n", "if [ -d /x ]; then\n  exit 0\nfi\nlogrotate\n"),
        # The lines before the one where the first statement the grammar cannot parse begins, not that statement's
        # parsed start (`echo`).
        ("if [ -d /x ]; then\n  exit 0\nfi\necho 'x\nlogrotate\n", "if [ -d /x ]; then\n  exit 0\nfi\n"),
        ("if [ -d /x ]; then\n  echo 'x\nfi\nlogrotate\n", ""),
    ],
)  # fmt: skip
def test_the_head_of_a_script_is_what_sh_runs_before_what_the_grammar_cannot_parse(script, head):
    """readable_head: sh runs each complete command before it reads the next."""
    assert readable_head(script) == head
