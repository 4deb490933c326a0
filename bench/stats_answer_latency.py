"""What deciding every figure once (stats' domain/linked.py) costs an answer, beside main's
one-table suppression, on a realistic campus: the figures only, no database.

    uv run python bench/stats_answer_latency.py [--colleges 20] [--campuses 1] [--rounds 5]

A campus of `--colleges` colleges with a year of crisis events (a Poisson-like spread: about
one severe, three moderate and six mild events per college and year, by month). For the
page's annual table by college and its trends, it times

- **baseline** (main): the by-college table and the months × grades table, each suppressed on
  its own in one pass (`suppress`, as main's `CrossTable.publish`);
- **spine**: the year's spine over every campus and college decided from scratch (`_decide`,
  no memo) for events found, relieved and breaches, then the months × grades table with its
  margins fixed by the spine;
- **sticky**: the spine decided from scratch with the cells the day before hid forced hidden
  (the year in progress: the day before lacks a few of the year's events);
- **memo**: the same answer when the counts have not changed since the last (`decide`).

Prints each median and its ratio to the baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable

from shouwang_stats.domain.linked import ALL, Unit, _decide, decide
from shouwang_stats.domain.suppression import Count, suppress
from shouwang_stats.domain.tables import CrossTable, cross_from_rows

GRADES = ("severe", "moderate", "mild")
MEANS = {"severe": 1.0, "moderate": 3.0, "mild": 6.0}


def campus_year(
    rng: random.Random, campuses: int, colleges: int
) -> dict[tuple[str, str, int, str], int]:
    cases: dict[tuple[str, str, int, str], int] = {}
    for p in range(campuses):
        for x in range(colleges):
            for grade, mean in MEANS.items():
                for _ in range(int(rng.expovariate(1 / mean) + 0.5)):
                    key = (f"P{p}", f"X{x}", rng.randint(1, 12), grade)
                    cases[key] = cases.get(key, 0) + 1
    return cases


def spine_counts(
    cases: dict[tuple[str, str, int, str], int], cols: bool
) -> dict[tuple[Unit, str | None], Count]:
    counts: dict[tuple[Unit, str | None], int] = {}
    for (p, x, _, g), n in cases.items():
        for unit in ((p, x), (p, None), ALL):
            for col in (g, None) if cols else (None,):
                counts[(unit, col)] = counts.get((unit, col), 0) + n
    return {k: Count(v, v) for k, v in counts.items()}


def table(cases: dict[tuple[str, str, int, str], int], by_college: bool, campus: str) -> CrossTable:
    counts: dict[tuple[str | None, str | None], int] = {}
    rows: set[str] = set()
    for (p, x, m, g), n in cases.items():
        if p != campus:
            continue
        row = x if by_college else f"2026-{m:02d}"
        rows.add(row)
        for key in ((row, g), (row, None), (None, g), (None, None)):
            counts[key] = counts.get(key, 0) + n
    return cross_from_rows(sorted(rows), GRADES, {k: Count(v, v) for k, v in counts.items()})


def timed(work: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--colleges", type=int, default=20)
    parser.add_argument("--campuses", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    cases = campus_year(random.Random(7), args.campuses, args.colleges)
    found, totals = spine_counts(cases, cols=True), spine_counts(cases, cols=False)
    by_college, by_month = table(cases, True, "P0"), table(cases, False, "P0")
    before = dict(cases)
    for key in random.Random(8).sample(sorted(before), 3):
        before[key] -= 1
    hid = _decide(spine_counts(before, cols=True), GRADES, 5).hidden()
    hid_totals = _decide(spine_counts(before, cols=False), (), 5).hidden()

    def baseline() -> None:  # main's one pass per table (publish now checks its result again)
        for t in (by_college, by_month):
            suppress(t.entries(), t.lines())

    def spine() -> None:
        decided = _decide(found, GRADES, 5)
        _decide(totals, (), 5)
        _decide(totals, (), 5)
        by_month.publish(fixed=decided.fixed_cross(("P0", None)))

    def sticky() -> None:
        decided = _decide(found, GRADES, 5, hid)
        _decide(totals, (), 5, hid_totals)
        _decide(totals, (), 5, hid_totals)
        by_month.publish(fixed=decided.fixed_cross(("P0", None)))

    def memo() -> None:
        decided = decide(found, GRADES)
        decide(totals, ())
        by_month.publish(fixed=decided.fixed_cross(("P0", None)))

    memo()  # fill the memo
    base = timed(baseline, args.rounds)
    print(
        f"{args.campuses} campus(es) × {args.colleges} colleges, "
        f"{sum(cases.values())} events a year; median of {args.rounds} rounds"
    )
    print(f"{'baseline (main: two tables)':32} {base * 1000:9.1f} ms   1.00×")
    for name, work in (
        ("spine, decided afresh", spine),
        ("spine, sticky (day before forced)", sticky),
        ("spine, memo hit", memo),
    ):
        took = timed(work, args.rounds)
        print(f"{name:32} {took * 1000:9.1f} ms   {took / base:.2f}×")


if __name__ == "__main__":
    main()
