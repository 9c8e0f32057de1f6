"""The exit codes of every dizuo command: one convention, the one click already uses for usage errors.

- ``0``: done, and the answer is yes: the declaration is valid, the audit passed, a plan or forecast was written.
- ``FAILED`` (1): the work ran and the answer is no, or it could not finish: controls fail the audit, the role failed
  on a host, the solver found no plan and no proof either, `validate` found problems (finding them is its job),
  `rules --check` differs, a stack program or `pulumi up` failed, Prometheus could not be read. A proof that no
  migration plan exists is an answer, written as JSON with exit 0 (the benchmark's contract).
- ``BAD_INPUT`` (2): nothing ran, because of what was given: options, a declaration, a config or data file that
  cannot be used, an ``--out`` that would lose data, a tool that is not installed.
"""

FAILED = 1
BAD_INPUT = 2
