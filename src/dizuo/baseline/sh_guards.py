"""Which commands of a cron line (or a cron script) sh would run, given what its file tests say.

cron hands a job's command to the shell (/bin/sh on Debian, SHELL=/bin/bash in cronie's files), and the lines that run
cron.daily guard it with file tests: `test -x /usr/sbin/anacron || { cd / && run-parts ...; }`, `[ ! -f
/etc/cron.hourly/0anacron ] && run-parts ...`, `[ -x /etc/init.d/anacron ] && if [ ! -d /run/systemd/system ]; then
...; fi`; Debian's /etc/cron.daily/logrotate steps aside for systemd with `if [ -d /run/systemd/system ]; then exit 0;
fi`. tree-sitter-bash parses the line, and the tree is walked here as sh runs it (POSIX, 2.9.3): `&&` and `||` bind
equally and from the left (the grammar nests `a && b || c` as `{ a && b; } || c`), so c runs where a or b fails; `;`,
`&` and newlines sequence; `{ ...; }`, `( ... )` and `if ...; then ...; [elif ...; then ...;] [else ...;] fi` group;
`!` negates a pipeline; `exit` ends the shell (a subshell alone). A file test (`test` or `[` with one of -e, -f, -d,
-x, maybe negated) is answered by the caller, as the host would; so is `[[` with one of them where the shell running the
line has `[[` (bash, also as /bin/sh on the RedHat family); where it has none (dash, Debian's /bin/sh) `[[` is a
command not found (status 127) and fails; `true`, `:` and `false` say what they always say; any other command is taken
to succeed, as it does when it works (`cd /`, `run-parts`). A command this reader does not walk
(`case`, loops, functions) is one command that runs, and a line the grammar cannot parse (an unbalanced quote) is read
as one command that runs, as before sh was read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import tree_sitter
import tree_sitter_bash

# A file test the caller answers: (test letter, path) -> (whether it holds, the state the evidence says).
FileTest = Callable[[str, str], tuple[bool, str]]

_BASH = tree_sitter.Language(tree_sitter_bash.language())
_FILE_TESTS = {"-e", "-f", "-d", "-x"}
# Shells that have `[[` and that do not, by the name of their program (bash run as sh keeps it); another shell's
# `[[` is taken to succeed.
_DOUBLE_BRACKETS = {"bash": True, "ksh": True, "ksh93": True, "mksh": True, "zsh": True, "dash": False, "posh": False}
# Nodes that hold statements run one after the other; the tokens between them (`;`, `&`, `{`, `then`...) are unnamed.
# A subshell is one too, walked in _Reader.run, where its `exit` is kept inside it.
_SEQUENCES = {"program", "compound_statement", "else_clause"}


@dataclass(frozen=True)
class Shell:
    """The shell that runs a line: as its file names it (SHELL= of a crontab, a script's #! line) and the program that
    is on the host (``/bin/sh`` is ``dash`` on Debian, ``bash`` on the RedHat family)."""

    named: str
    program: str

    @property
    def double_brackets(self) -> bool | None:
        """Whether `[[` is a command of the shell, None where this reader does not know the shell."""
        return _DOUBLE_BRACKETS.get(self.program)

    def __str__(self) -> str:
        return self.named if self.named.rsplit("/", 1)[-1] == self.program else f"{self.named} ({self.program})"


@dataclass(frozen=True)
class Command:
    """A simple command of the line, and why sh does not get to it (None when it runs)."""

    text: str
    stopped: str | None


def _text(node: tree_sitter.Node) -> str:
    """The node as written."""
    return (node.text or b"").decode("utf-8", "replace")


def _unquoted(node: tree_sitter.Node) -> str | None:
    """A word as the shell hands it on, None where it holds an expansion or a glob the shell would change."""
    if node.type == "raw_string":  # '...': every character as written
        return _text(node)[1:-1]
    if node.type == "string":  # "...": as written where it holds no expansion
        contents = node.named_children
        if all(part.type == "string_content" and "\\" not in _text(part) for part in contents):
            return "".join(map(_text, contents))
        return None
    if node.type == "concatenation":
        parts = [_unquoted(part) for part in node.named_children]
        return None if None in parts else "".join(part or "" for part in parts)
    if node.type in {"word", "number"}:
        text = _text(node)
        # A backslash, a glob or a leading ~ would be changed by the shell: such a path is not asked.
        return None if any(character in text for character in "\\*?[") or text.startswith("~") else text
    return None  # $x, ${x}, $(...), `...`


class _Reader:
    """Walks a parsed line as sh would run it, noting for each simple command whether it runs."""

    def __init__(self, source: bytes, file_test: FileTest | None, shell: Shell | None = None) -> None:
        self.source = source
        self.file_test = file_test
        self.shell = shell
        self.commands: list[Command] = []
        self.exited: str | None = None  # why nothing after a reached `exit` runs
        # How many commands were noted when that `exit` was reached: those noted after it are the ones it stops (a
        # subshell's earlier `exit` written the same stops others, with the same text).
        self.exited_after = 0

    def run(self, node: tree_sitter.Node, stopped: str | None, text: str | None = None) -> tuple[bool, str]:
        """The node's exit status (True for 0) and the state that decided it, each command in it noted as run or
        stopped by ``stopped``; a stopped node's status is no one's concern. ``text`` is the command as written with
        the redirections around it."""
        stopped = stopped or self.exited
        if node.type == "subshell":  # a subshell's exit ends the subshell alone
            status, state = self.sequence(node.named_children, stopped)
            self.exited = None if stopped is None else self.exited
            return status, state
        walk = {
            "list": self._and_or,
            "if_statement": self._if,
            "pipeline": self._pipeline,
            "negated_command": self._negated,
            "redirected_statement": self._redirected,
        }.get(node.type)
        if walk is not None:
            return walk(node, stopped)
        if node.type in _SEQUENCES:
            return self.sequence(node.named_children, stopped)
        if node.type in {"command", "test_command"}:
            return self._simple(node, stopped, text or _text(node))
        return self._taken(node, stopped, text or _text(node))

    def _redirected(self, node: tree_sitter.Node, stopped: str | None) -> tuple[bool, str]:
        """A statement with its redirections (`fi >/dev/null 2>&1`): the command's text keeps them, as written."""
        body = node.child_by_field_name("body")
        return self.run(body, stopped, _text(node)) if body is not None else self._taken(node, stopped, _text(node))

    def _negated(self, node: tree_sitter.Node, stopped: str | None) -> tuple[bool, str]:
        status, state = self.sequence(node.named_children, stopped)
        return not status, state

    def _pipeline(self, node: tree_sitter.Node, stopped: str | None) -> tuple[bool, str]:
        """A pipeline's status is its last command's; the grammar binds a leading `!` to the first command alone,
        where sh negates the whole pipeline."""
        first = node.named_children[0]
        negated = first.type == "negated_command"
        self.sequence(first.named_children if negated else [first], stopped)
        status, state = self.sequence(node.named_children[1:], stopped)
        return status != negated, state

    def sequence(self, nodes: Sequence[tree_sitter.Node], stopped: str | None) -> tuple[bool, str]:
        """Statements run one after the other: the status of the last (comments are none)."""
        status, state = True, ""
        for node in nodes:
            if node.type != "comment":
                status, state = self.run(node, stopped)
        return status, state

    def _and_or(self, node: tree_sitter.Node, stopped: str | None) -> tuple[bool, str]:
        # `a && b` runs b when a succeeds, `a || b` when it fails; past a skipped b, a's status stands. The left
        # operand is all that comes before the operator: the grammar nests `a && b || c` as `{ a && b; } || c`.
        left, operator = node.children[0], node.children[1].type
        right = [child for child in node.named_children[1:] if child.type != "comment"][-1]
        status, state = self.run(left, stopped)
        if stopped is None and status != (operator == "&&"):
            self.run(right, f"`{_text(left)} {operator}` stops it: {state}")
            return status, state
        status, right_state = self.run(right, stopped)
        return status, ", ".join(filter(None, [state, right_state]))

    def _if(self, node: tree_sitter.Node, stopped: str | None) -> tuple[bool, str]:
        """`if c; then b; [elif c; then b;]... [else b;] fi`, each condition named by its head as written."""
        branches = [node, *(clause for clause in node.children if clause.type == "elif_clause")]
        taken: str | None = None  # why the branches after a taken one do not run
        status, state = True, ""
        for branch in branches:
            # The condition's statements stand before `then`, the body's after it, up to the next clause.
            then = next(index for index, child in enumerate(branch.children) if child.type == "then")
            condition = [child for child in branch.children[:then] if child.is_named]
            clauses = {"elif_clause", "else_clause"}
            body = [child for child in branch.children[then:] if child.is_named and child.type not in clauses]
            head = self.source[branch.start_byte : branch.children[then].end_byte].decode("utf-8", "replace")
            if stopped is not None or taken is not None:
                self.sequence(condition, stopped or taken)
                self.sequence(body, stopped or taken)
                continue
            holds, said = self.sequence(condition, None)
            if holds:
                status, state = self.sequence(body, None)
                taken = f"`{head}` stops it: {said}"
            else:
                self.sequence(body, f"`{head}` stops it: {said}")
        for clause in (child for child in node.children if child.type == "else_clause"):
            if stopped is not None or taken is not None:
                self.run(clause, stopped or taken)
            else:
                status, state = self.run(clause, None)
        return status, state

    def _simple(self, node: tree_sitter.Node, stopped: str | None, text: str) -> tuple[bool, str]:
        name_node = node.child_by_field_name("name")
        name = _text(node.children[0]) if node.type == "test_command" else _text(name_node) if name_node else ""
        if name in {"true", ":", "false"}:
            return name != "false", f"{name} always {'fails' if name == 'false' else 'succeeds'}"
        if name == "exit":
            if stopped is None:
                self.exited = f"`{text}` before it ends the shell"
                self.exited_after = len(self.commands)
            return True, ""
        if name == "[[" and (unasked := self._double_brackets_unasked(text)) is not None:
            return unasked
        if name in {"test", "[", "[["}:
            if stopped is None and self.file_test is not None:
                return self._file_test(node, self.file_test)
            return True, ""
        return self._taken(node, stopped, text)

    def _double_brackets_unasked(self, text: str) -> tuple[bool, str] | None:
        """What a `[[` whose file test the host is not asked says: under a shell not known it is a test all the same,
        taken to succeed; under one without `[[` (dash) a command not found (status 127), which fails. None where the
        shell has `[[`, to be asked as `[` is."""
        has_it = self.shell.double_brackets if self.shell is not None else None
        if has_it is None:
            return True, f"`{text}` is taken to succeed"
        return None if has_it else (False, f"{self.shell} has no `[[`")

    def _taken(self, node: tree_sitter.Node, stopped: str | None, text: str) -> tuple[bool, str]:
        """A command that is noted and taken to succeed."""
        self.commands.append(Command(text, stopped))
        name = node.child_by_field_name("name") if node.type == "command" else None
        return True, f"{_text(name) if name else text.split(None, 1)[0]} is taken to succeed"

    def _file_test(self, node: tree_sitter.Node, file_test: FileTest) -> tuple[bool, str]:
        """A `test`/`[`/`[[` the caller can answer, else one taken to succeed."""
        negated = False
        if node.type == "test_command":  # [ ! -f path ], [[ ! -f path ]]: a unary expression, maybe inside a `!` one
            args = node.named_children[0].children if node.named_child_count == 1 else []
            if args and args[0].type == "!" and args[1].type == "unary_expression":
                negated, args = True, args[1].children
        else:  # test ! -f path: the words after the name, redirections left out
            args = node.children_by_field_name("argument")
            if args and _text(args[0]) == "!":
                negated, args = True, args[1:]
        path = _unquoted(args[1]) if len(args) == 2 else None
        if path is None or _text(args[0]) not in _FILE_TESTS:
            return True, f"`{_text(node)}` is taken to succeed"
        holds, state = file_test(_text(args[0])[1], path)
        return holds != negated, state


def readable(line: str) -> bool:
    """Whether the grammar parses all of ``line`` (a script, or a cron command)."""
    return _parsed(line) is not None


def readable_head(script: str) -> str:
    """The lines of ``script`` before the one where its first statement the grammar cannot parse begins (all of it
    where it parses; empty where those do not parse alone): sh runs each complete command before it reads the next,
    so these run as written whatever follows."""
    root = tree_sitter.Parser(_BASH).parse(script.encode()).root_node
    first = next((statement for statement in root.children if statement.has_error), None)
    if first is None:
        return script
    source = script.encode()
    head = source[: source.rfind(b"\n", 0, first.start_byte) + 1].decode("utf-8", "replace")
    return head if readable(head) else ""


def _parsed(line: str) -> tree_sitter.Node | None:
    """The line's tree, None where the grammar cannot parse it (ERROR or MISSING nodes)."""
    root = tree_sitter.Parser(_BASH).parse(line.encode()).root_node
    return None if root.has_error else root


def commands_run(line: str, file_test: FileTest | None, shell: Shell | None = None) -> list[Command]:
    """Each simple command of ``line`` that is no test, with the test that stops it there (None when it runs), as
    ``shell`` runs it (None: a shell not known, whose `[[` is taken to succeed); without ``file_test`` no file test
    is asked, and each is taken to succeed."""
    node = _parsed(line)
    if node is None:
        return [Command(line, None)]
    reader = _Reader(line.encode(), file_test, shell)
    reader.run(node, None)
    return reader.commands


def exits_early(line: str, file_test: FileTest | None, shell: Shell | None = None, *, whole: bool = True) -> bool:
    """Whether ``shell`` running ``line`` (read as commands_run reads it) reaches an `exit` of the shell before some
    command of it, which it never runs; False where the grammar cannot parse the line. Where ``line`` is not the
    ``whole`` script but its readable_head, any `exit` it reaches is early: the rest of the script never runs."""
    node = _parsed(line)
    if node is None:
        return False
    reader = _Reader(line.encode(), file_test, shell)
    reader.run(node, None)
    if reader.exited is None:
        return False
    return not whole or len(reader.commands) > reader.exited_after


def commands_of(line: str) -> list[str]:
    """Each simple command of ``line`` that is no test, whatever its tests would say (none is asked)."""
    return [command.text for command in commands_run(line, None)]
