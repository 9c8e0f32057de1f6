"""Which commands of a cron line (or a cron script) sh would run, given what its file tests say.

cron hands a job's command to the shell (/bin/sh on Debian, SHELL=/bin/bash in cronie's files), and the lines that run
cron.daily guard it with file tests: `test -x /usr/sbin/anacron || { cd / && run-parts ...; }`, `[ ! -f
/etc/cron.hourly/0anacron ] && run-parts ...`, `[ -x /etc/init.d/anacron ] && if [ ! -d /run/systemd/system ]; then
...; fi`; Debian's /etc/cron.daily/logrotate steps aside for systemd with `if [ -d /run/systemd/system ]; then exit 0;
fi`. They are read here as sh reads them (POSIX, 2.9.3): `&&` and `||` bind equally and from the left, so in `a && b
|| c` c runs where a or b fails; `;`, `&` and newlines sequence; `{ ...; }`, `( ... )` and `if ...; then ...; [elif
...; then ...;] [else ...;] fi` group; `!` negates a pipeline; `exit` ends the shell (a subshell alone); `#` starts a
comment. A file test (`test` or `[` with one of -e, -f, -d, -x, maybe negated) is answered by the caller, as the host
would; `true`, `:` and `false` say what they always say; any other command is taken to succeed, as it does when it
works (`cd /`, `run-parts`). A command this reader does not understand (`case`, loops, an unbalanced quote) is read as
one command that runs, as before sh was read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

# A file test the caller answers: (test letter, path) -> (whether it holds, the state the evidence says).
FileTest = Callable[[str, str], tuple[bool, str]]

_OPERATORS = ("&&", "||", ";", "&", "|", "(", ")", "\n")
# A word: plain characters, escapes, quoted strings, $(...) and `...` substitutions, and redirections (`>/dev/null`,
# `2>&1`), which stay part of their word so that their `&` separates nothing.
_WORD = r"""(?:[^\s;&|()'"\\`<>$]|\\.|'[^']*'|"(?:[^"\\]|\\.)*"|`[^`]*`|\$\([^()]*\)|\$|[0-9]*[<>]+&?[0-9-]*)+"""
_BLANKS_AND_COMMENT = re.compile(r"[ \t]*(?:#[^\n]*)?")
_TOKEN = re.compile(rf"[ \t]*(?:(&&|\|\||[;&|()\n])|({_WORD}))")
_REDIRECTION = re.compile(r"[0-9]*[<>]")
# A redirection whose target is the next word (`> /dev/null`).
_BARE_REDIRECTION = re.compile(r"[0-9]*[<>]+")
_FILE_TESTS = {"e", "f", "d", "x"}
_CLOSERS = {"}", "then", "elif", "else", "fi"}


@dataclass(frozen=True)
class Command:
    """A simple command of the line, and why sh does not get to it (None when it runs)."""

    text: str
    stopped: str | None


class _UnreadableError(Exception):
    """The line holds what this reader does not understand."""


@dataclass
class _Node:
    """A piece of the parsed line: ``kind`` simple, group, if, not, pipe, and_or or list; ``text`` as written."""

    kind: str
    text: str
    words: list[str] = field(default_factory=list)
    parts: list[_Node] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    operands: list[str] = field(default_factory=list)  # of an and-or list: the left operand of each operator


class _Parser:
    """A recursive-descent reader of the POSIX shell grammar's lists, and-or lists, pipelines and compound commands."""

    def __init__(self, line: str) -> None:
        self.line = line
        self.tokens: list[tuple[str, bool, int, int]] = []  # (text, is an operator, start, end)
        position = 0
        while position < len(line):
            # Blanks, and a comment: `#` where a word would start, up to the end of its line.
            blank = _BLANKS_AND_COMMENT.match(line, position)
            position = blank.end() if blank else position
            if position == len(line):
                break
            match = _TOKEN.match(line, position)
            if match is None:
                if line[position:].strip(" \t") == "":
                    break
                raise _UnreadableError(line[position:])
            operator, word = match.groups()
            self.tokens.append((operator or word, operator is not None, match.start(1 if operator else 2), match.end()))
            position = match.end()
        self.index = 0

    def _peek(self) -> tuple[str, bool] | None:
        return self.tokens[self.index][:2] if self.index < len(self.tokens) else None

    def _is(self, text: str, *, operator: bool) -> bool:
        return self._peek() == (text, operator)

    def _expect(self, text: str, *, operator: bool) -> None:
        if not self._is(text, operator=operator):
            raise _UnreadableError(f"{text} expected")
        self.index += 1

    def _text(self, first: int) -> str:
        return self.line[self.tokens[first][2] : self.tokens[self.index - 1][3]]

    def _skip_newlines(self) -> None:
        while self._is("\n", operator=True):
            self.index += 1

    def whole(self) -> _Node:
        node = self.list_until(set())
        if self._peek() is not None:
            raise _UnreadableError(f"{self._peek()} unexpected")
        return node

    def list_until(self, closers: set[str]) -> _Node:
        """and-or lists separated by `;`, `&` or newlines, up to a closing word or `)` (or the end)."""
        first, parts = self.index, []
        while True:
            self._skip_newlines()
            peek = self._peek()
            if peek is None or peek == (")", True) or (not peek[1] and peek[0] in closers):
                break
            parts.append(self.and_or())
            if self._peek() in {(";", True), ("&", True), ("\n", True)}:
                self.index += 1
            else:
                break
        if not parts:
            raise _UnreadableError("an empty list")
        return _Node("list", self._text(first), parts=parts)

    def and_or(self) -> _Node:
        first, parts, operators, operands = self.index, [self.pipeline()], [], []
        while (peek := self._peek()) is not None and peek in {("&&", True), ("||", True)}:
            operators.append(peek[0])
            operands.append(self._text(first))
            self.index += 1
            self._skip_newlines()
            parts.append(self.pipeline())
        if not operators:
            return parts[0]
        return _Node("and_or", self._text(first), parts=parts, operators=operators, operands=operands)

    def pipeline(self) -> _Node:
        first = self.index
        if self._is("!", operator=False):
            self.index += 1
            inner = self.pipeline()
            return _Node("not", self._text(first), parts=[inner])
        parts = [self.command()]
        while self._is("|", operator=True):
            self.index += 1
            self._skip_newlines()
            parts.append(self.command())
        return parts[0] if len(parts) == 1 else _Node("pipe", self._text(first), parts=parts)

    def command(self) -> _Node:
        first, peek = self.index, self._peek()
        if peek is None:
            raise _UnreadableError("a command expected")
        if peek in {("(", True), ("{", False)}:
            self.index += 1
            body = self.list_until({"}"} if peek[0] == "{" else set())
            self._expect(")" if peek[0] == "(" else "}", operator=peek[0] == "(")
            self._redirections()
            return _Node("group", self._text(first), parts=[body])
        if peek == ("if", False):
            node = self._if(first)
            self._redirections()
            return node
        if peek[1] or peek[0] in _CLOSERS:
            raise _UnreadableError(f"{peek[0]} unexpected")
        words = []
        while (peek := self._peek()) is not None and not peek[1]:
            words.append(peek[0])
            self.index += 1
        return _Node("simple", self._text(first), words=words)

    def _redirections(self) -> None:
        """Skip the redirections after a compound command (`fi >/dev/null 2>&1`, `} > /dev/null`)."""
        while (peek := self._peek()) is not None and not peek[1] and _REDIRECTION.match(peek[0]):
            self.index += 1
            if _BARE_REDIRECTION.fullmatch(peek[0]) and (target := self._peek()) is not None and not target[1]:
                self.index += 1

    def _if(self, first: int) -> _Node:
        """`if c; then b; [elif c; then b;]... [else b;] fi`: parts are condition, body pairs, then the else body;
        operators hold each condition's head as written (`if [ -x a ]; then`)."""
        parts, heads = [], []
        keyword = "if"
        while keyword in {"if", "elif"}:
            head = self.index
            self._expect(keyword, operator=False)
            parts.append(self.list_until({"then"}))
            self._expect("then", operator=False)
            heads.append(self._text(head))
            parts.append(self.list_until({"elif", "else", "fi"}))
            keyword = peek[0] if (peek := self._peek()) is not None else ""
        if keyword == "else":
            self.index += 1
            parts.append(self.list_until({"fi"}))
        self._expect("fi", operator=False)
        return _Node("if", self._text(first), parts=parts, operators=heads)


def _unquoted(word: str) -> str | None:
    """A word without its quotes, None where it holds an expansion or glob the shell would change."""
    if re.fullmatch(r"'[^']*'", word):
        return word[1:-1]
    if re.fullmatch(r'"[^"\\$`]*"', word):
        return word[1:-1]
    return None if re.search(r"[$`*?\[\\'\"]", word) else word


class _Reader:
    """Walks a parsed line as sh would run it, noting for each simple command whether it runs."""

    def __init__(self, file_test: FileTest | None) -> None:
        self.file_test = file_test
        self.commands: list[Command] = []
        self.exited: str | None = None  # why nothing after a reached `exit` runs

    def run(self, node: _Node, stopped: str | None) -> tuple[bool, str]:
        """The node's exit status (True for 0) and the state that decided it, each command in it noted as run or
        stopped by ``stopped``; a stopped node's status is no one's concern."""
        stopped = stopped or self.exited
        if node.kind == "group" and node.text.startswith("("):  # a subshell's exit ends the subshell alone
            status, state = self.run(node.parts[0], stopped)
            self.exited = None if stopped is None else self.exited
            return status, state
        if node.kind == "simple":
            return self._simple(node, stopped)
        if node.kind == "not":
            status, state = self.run(node.parts[0], stopped)
            return not status, state
        if node.kind in {"group", "pipe", "list"}:
            status, state = True, ""
            for part in node.parts:  # a pipeline's status is its last command's, as is a list's
                status, state = self.run(part, stopped)
            return status, state
        if node.kind == "and_or":
            # Left to right, each operator's left operand all that comes before it: `a && b || c` is `{ a && b; } ||
            # c`. `a && b` runs b when a succeeds, `a || b` when it fails; past a skipped b, a's status stands.
            status, state = self.run(node.parts[0], stopped)
            states = [state]
            for operator, part, left in zip(node.operators, node.parts[1:], node.operands, strict=True):
                if stopped is None and status != (operator == "&&"):
                    self.run(part, f"`{left} {operator}` stops it: {', '.join(filter(None, states))}")
                    continue
                status, state = self.run(part, stopped)
                states.append(state)
            return status, ", ".join(filter(None, states))
        return self._if(node, stopped)

    def _if(self, node: _Node, stopped: str | None) -> tuple[bool, str]:
        pairs = len(node.operators)
        taken: str | None = None  # why the branches after a taken one do not run
        status, state = True, ""
        for index, head in enumerate(node.operators):
            condition, body = node.parts[2 * index], node.parts[2 * index + 1]
            if stopped is not None or taken is not None:
                self.run(condition, stopped or taken)
                self.run(body, stopped or taken)
                continue
            holds, said = self.run(condition, None)
            if holds:
                status, state = self.run(body, None)
                taken = f"`{head}` stops it: {said}"
            else:
                self.run(body, f"`{head}` stops it: {said}")
        if len(node.parts) > 2 * pairs:
            if stopped is not None or taken is not None:
                self.run(node.parts[-1], stopped or taken)
            else:
                status, state = self.run(node.parts[-1], None)
        return status, state

    def _simple(self, node: _Node, stopped: str | None) -> tuple[bool, str]:
        words, target = [], False
        for word in node.words:  # without redirections and their targets
            if not target and not _REDIRECTION.match(word):
                words.append(word)
            target = not target and _BARE_REDIRECTION.fullmatch(word) is not None
        name = words[0] if words else ""
        if name in {"true", ":", "false"}:
            return name != "false", f"{name} always {'fails' if name == 'false' else 'succeeds'}"
        if name == "exit":
            if stopped is None:
                self.exited = f"`{node.text}` before it ends the shell"
            return True, ""
        if name in {"test", "["}:
            if stopped is None and self.file_test is not None:
                return self._file_test(words, self.file_test)
            return True, ""
        self.commands.append(Command(node.text, stopped))
        return True, f"{name} is taken to succeed"

    def _file_test(self, words: list[str], file_test: FileTest) -> tuple[bool, str]:
        """A `test`/`[` the caller can answer, else one taken to succeed."""
        args = words[1:-1] if words[0] == "[" and words[-1] == "]" else words[1:]
        negated = args[:1] == ["!"]
        args = args[1:] if negated else args
        path = _unquoted(args[1]) if len(args) == 2 else None
        if path is None or args[0] not in {f"-{letter}" for letter in _FILE_TESTS}:
            return True, f"`{' '.join(words)}` is taken to succeed"
        holds, state = file_test(args[0][1], path)
        return holds != negated, state


def readable(line: str) -> bool:
    """Whether this reader understands all of ``line`` (a script, or a cron command)."""
    return _parsed(line) is not None


def _parsed(line: str) -> _Node | None:
    try:
        return _Parser(line).whole()
    except _UnreadableError:
        return None


def commands_run(line: str, file_test: FileTest) -> list[Command]:
    """Each simple command of ``line`` that is no test, with the test that stops it there (None when it runs)."""
    node = _parsed(line)
    if node is None:
        return [Command(line, None)]
    reader = _Reader(file_test)
    reader.run(node, None)
    return reader.commands


def commands_of(line: str) -> list[str]:
    """Each simple command of ``line`` that is no test, whatever its tests would say (none is asked)."""
    node = _parsed(line)
    if node is None:
        return [line]
    reader = _Reader(None)
    reader.run(node, None)
    return [command.text for command in reader.commands]
