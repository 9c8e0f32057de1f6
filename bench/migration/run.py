"""Xinchuang migration-planning benchmark: `dizuo migrate plan` next to the greedy anchor on the public set.

Usage: python bench/migration/run.py [--bench-data DIR] [--instances DIR] [--reference JSON] [--only NAME ...]
                                    [--candidate CMD]

The public set is not in the repository: by default it is read from ../shared/bench/migration/ next to the clone
(public/*.json, public_reference.json and FORMAT.md); --bench-data DIR or DIZUO_BENCH_DATA names the folder that
holds migration/, --instances and --reference name the files themselves.

For every instance, in one run: the candidate as FORMAT.md runs it (a command given the instance path,
one JSON document on stdout, wall clock measured including process start, 300 s timeout) and the greedy
anchor of FORMAT.md (bench/migration/greedy.py, in process). Both are checked by
dizuo.migration.validate against the seven rules, and scored against public_reference.json. Beside the score, the
candidate's own solver status, bound and gap where its document carries them (`dizuo migrate plan` does: `status`,
`bound_cny`, `solver.gap`, as plan.json), so a plan a limit stopped does not pass for a proven optimum.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # public_sets
import public_sets
from greedy import greedy

from dizuo.migration.instance import Instance, load_instance
from dizuo.migration.validate import PlanFormatError, check_plan, parse_plan, plan_cost
from dizuo.migration.waves import lower_bound

TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class SolverReport:
    """How the candidate says its solve ended, from its document's `status`, `bound_cny` and `solver.gap` (the keys
    `dizuo migrate plan` adds beside FORMAT.md's): a plan a limit stopped must not read like a proven one."""

    status: str
    bound: float | None = None
    gap: float | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """One answer scored: FORMAT.md's result word, and for valid plans cost, gap and waves; the solver's own report
    where the answer carries one."""

    result: str
    seconds: float
    cost: int | None = None
    gap: float | None = None
    waves: int | None = None
    waves_lb: int | None = None
    note: str = ""
    solver: SolverReport | None = None

    @property
    def correct(self) -> bool:
        return self.result in ("ok", "infeas-ok")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def solver_report(document: object) -> SolverReport | None:
    """The solver's status, bound and gap in a decoded answer (None where it gives no status: FORMAT.md asks for
    none, so the greedy anchor and other candidates have none; a bound or gap that is not a number is left out)."""
    if not isinstance(document, dict) or not isinstance(status := document.get("status"), str):
        return None
    solver = document.get("solver")
    gap = _number(solver.get("gap")) if isinstance(solver, dict) else None
    return SolverReport(status, _number(document.get("bound_cny")), gap)


def score(instance: Instance, reference: dict[str, object], document: object, seconds: float) -> Outcome:
    """Classify one decoded answer against the reference and the rules; the solver's report rides along."""
    return replace(_score(instance, reference, document, seconds), solver=solver_report(document))


def _score(instance: Instance, reference: dict[str, object], document: object, seconds: float) -> Outcome:
    infeasible = reference["status"] == "infeasible"
    if isinstance(document, dict) and document.get("infeasible") is True:
        reason = document.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            return Outcome("BAD-JSON", seconds, note="infeasible claim without a reason")
        return Outcome("infeas-ok" if infeasible else "WRONG-INF", seconds, note=reason)
    try:
        plan = parse_plan(document)
    except PlanFormatError as err:
        return Outcome("BAD-JSON", seconds, note=str(err))
    broken = check_plan(instance, plan)
    if broken or infeasible:
        note = "; ".join(str(v) for v in broken) or "a plan on an instance proven infeasible"
        return Outcome("INVALID", seconds, note=note)
    cost = plan_cost(instance, plan)
    ref = reference["objective"] if reference["status"] == "optimal" else reference["bound"]
    assert isinstance(ref, int | float)
    size = {s.id: s.projected_bytes for s in instance.systems}
    moved = [size[sid] for wave in plan.waves for sid in wave]
    return Outcome("ok", seconds, cost, (cost - ref) / ref, len(plan.waves), lower_bound(moved, instance.wave_bytes))


def run_candidate(command: list[str], path: Path, instance: Instance, reference: dict[str, object]) -> Outcome:
    """Run the candidate on one instance and score its answer; wall seconds include the process start. The result
    words of a run that gave no document (TIMEOUT, CRASH, NO-OUTPUT, BAD-JSON) are this function's own: whatever the
    candidate printed is a document, and one that is not an object (say the string "ok") is BAD-JSON."""
    start = time.perf_counter()
    try:
        done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return Outcome("TIMEOUT", time.perf_counter() - start)
    seconds = time.perf_counter() - start
    tail = done.stderr.strip().splitlines()[-1:] if done.stderr.strip() else []
    if done.returncode != 0:
        return Outcome("CRASH", seconds, note=f"exit {done.returncode}: {' '.join(tail)}")
    if not done.stdout.strip():
        return Outcome("NO-OUTPUT", seconds)
    try:
        document = json.loads(done.stdout)
    except json.JSONDecodeError as err:
        return Outcome("BAD-JSON", seconds, note=str(err))
    return score(instance, reference, document, seconds)


def summary(name: str, outcomes: list[Outcome], references: list[dict[str, object]]) -> str:
    """FORMAT.md's summary line for one solver."""
    feasible = [r["status"] != "infeasible" for r in references]
    valid = [o for o, f in zip(outcomes, feasible, strict=True) if f and o.result == "ok"]
    inf_ok = sum(1 for o in outcomes if o.result == "infeas-ok")
    correct = len(valid) + inf_ok
    n_feasible = sum(feasible)
    gaps = [o.gap for o in valid if o.gap is not None]
    over = f" (over {len(gaps)})" if len(gaps) != n_feasible else ""
    gap = f"mean gap {100 * sum(gaps) / len(gaps):.3f}%, max {100 * max(gaps):.3f}%{over}" if gaps else "no gap"
    extra = [o.waves - o.waves_lb for o in valid if o.waves is not None and o.waves_lb is not None]
    waves = f"waves +{sum(extra) / len(extra):.1f} over LB" if extra else "no waves"
    total = sum(o.seconds for o in outcomes)
    return (
        f"{name}: {correct}/{len(outcomes)} correct ({len(valid)}/{n_feasible} valid plans, "
        f"{inf_ok}/{len(outcomes) - n_feasible} infeasible reported), {gap}, {waves}, total {total:.1f} s"
    )


def statuses(name: str, outcomes: list[Outcome]) -> str:
    """How many runs ended in each solver status, as the answers report it ("no status" for those that give none)."""
    counts = Counter("no status" if o.solver is None else o.solver.status for o in outcomes)
    return f"{name} solver status: " + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def show_solver(report: SolverReport | None) -> tuple[str, str]:
    """The status and bound / gap cells of a row (the candidate's own bound and gap, not the reference's)."""
    if report is None:
        return "-", "-"
    bound = "-" if report.bound is None else f"{report.bound:,.0f}"
    gap = "-" if report.gap is None else f"{100 * report.gap:.4f}%"
    colour = "green" if report.status in ("optimal", "infeasible") else "yellow"
    return f"[{colour}]{report.status}", f"{bound} / {gap}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    public_sets.add_option(parser)
    parser.add_argument("--instances", type=Path, help="folder of instance JSON files (default: <bench data>/public)")
    parser.add_argument("--reference", type=Path, help="default: <bench data>/public_reference.json")
    parser.add_argument("--only", nargs="*", help="instance names (default: all)")
    exe = Path(sys.executable).with_name("dizuo")
    parser.add_argument("--candidate", default=f"{exe} migrate plan", help="the candidate command (path appended)")
    args = parser.parse_args()
    args.instances, args.reference = public_sets.locate(
        args.bench_data,
        "migration",
        [("--instances", args.instances, "public"), ("--reference", args.reference, "public_reference.json")],
    )
    console = Console(width=200)
    references = json.loads(args.reference.read_text(encoding="utf-8"))["instances"]
    paths = sorted(args.instances.glob("*.json"))
    if args.only:
        paths = [p for p in paths if p.stem in args.only]

    table = Table(title=f"Migration planning, {args.instances.name} set ({len(paths)} instances)")
    numbers = ("cost CNY", "own bound / gap", "gap", "waves/LB", "seconds")
    for column in ("instance", "solver", "result", "status", *numbers, "note"):
        table.add_column(column, justify="right" if column in numbers else "left")
    outcomes: dict[str, list[Outcome]] = {"candidate": [], "greedy": []}
    refs = []
    for path in paths:
        instance = load_instance(path)
        reference = references[instance.name]
        refs.append(reference)
        candidate = run_candidate(shlex.split(args.candidate), path, instance, reference)
        start = time.perf_counter()
        anchor = greedy(instance)
        anchor_outcome = score(instance, reference, anchor, time.perf_counter() - start)
        star = "" if reference["status"] == "optimal" else "*"
        for solver, outcome in (("candidate", candidate), ("greedy", anchor_outcome)):
            outcomes[solver].append(outcome)
            colour = "green" if outcome.correct else "red"
            status, own = show_solver(outcome.solver)
            table.add_row(
                instance.name if solver == "candidate" else "",
                solver,
                f"[{colour}]{outcome.result}",
                status,
                "-" if outcome.cost is None else f"{outcome.cost:,}",
                own,
                "-" if outcome.gap is None else f"{100 * outcome.gap:.4f}%{star}",
                "-" if outcome.waves is None else f"{outcome.waves}/{outcome.waves_lb}",
                f"{outcome.seconds:.2f}",
                outcome.note[:70],
                end_section=solver == "greedy",
            )
    console.print(table)
    console.print("* gap to HiGHS's bound (the reference hit its time limit): over-states the true gap")
    console.print(
        "status, own bound / gap: how the candidate says its solve ended (its document's `status`, `bound_cny`, "
        "`solver.gap`); only `optimal` is a proven optimum",
        soft_wrap=True,
    )
    line = "; ".join(summary(name, found, refs) for name, found in outcomes.items())
    console.print(line, soft_wrap=True)
    console.print(statuses("candidate", outcomes["candidate"]), soft_wrap=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
