"""How a cron line's guards are read: as sh runs the line."""

from __future__ import annotations

import pytest

from dizuo.baseline.sh_guards import Command, commands_of, commands_run

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
