#!/usr/bin/env python3
"""Money over time, long profile: random months of many customers, invariants checked.

    python3 bench/ledger_sim.py [--customers 500] [--months 24] [--events 3] [--seed 1]
                                [--known-bugs all|none|NAME,...] [--db NAME] [--rebuild]

Draws, for every simulated month, ``--events`` random events per customer
(services started, ended, re-priced; recurring and once-off charges; calls on
time, late and imported twice; approvals, reissues, adjustments, credit notes),
then the month's billing run, and checks the invariants of tests/ledger.py (the
oracle written from the events) after each run. Prints every distinct violation
(goal: 0) and the seconds per simulated month. ``--known-bugs``: the situations
of the bugs of tests/ledger.py KNOWN_BUGS to draw (default all, as CI: all fixed).
Everything is rolled back. The database (``--db``, default rebilling_bench_ledger)
is built with rebilling_voip and rebilling_review when missing.
"""

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import ledger
from tests.bench_support import bench_env, ensure_database


def month_steps(rnd, customers, events):
    """One month: ``events`` random steps per customer, in random order, then the run."""
    kinds = list(range(1, len(ledger.KINDS)))
    steps = [
        (rnd.choice(kinds), customer, rnd.randrange(1000), rnd.randrange(1000), rnd.randrange(1000))
        for customer in range(customers)
        for _ in range(events)
    ]
    rnd.shuffle(steps)
    return [*steps, (0, 0, 0, 0, 0)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--events", type=int, default=3, help="events per customer and month")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--known-bugs", default="all")
    parser.add_argument("--db", default="rebilling_bench_ledger")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    bugs = {
        "none": frozenset(),
        "all": frozenset(ledger.KNOWN_BUGS),
    }.get(args.known_bugs, frozenset(filter(None, args.known_bugs.split(","))))
    unknown = bugs - set(ledger.KNOWN_BUGS)
    if unknown:
        parser.error(f"unknown --known-bugs {sorted(unknown)}; known: {sorted(ledger.KNOWN_BUGS)}")
    if args.db.startswith("rebilling_bench"):
        ensure_database(args.db, ["rebilling_voip", "rebilling_review"], rebuild=args.rebuild)
    profile = ledger.Profile(
        customers=args.customers,
        months=args.months,
        steps=args.customers * args.events * args.months,
        include_bugs=bugs,
        batch_imports=True,
    )
    rnd = random.Random(args.seed)
    with bench_env(args.db) as env:
        fixture = ledger.setup_fixture(env, args.customers)
        sim = ledger.Ledger(env, profile, fixture)
        seen, month_seconds = {}, []
        for month in range(args.months):
            started = time.perf_counter()
            found, _log = ledger.run_steps(
                sim, month_steps(rnd, args.customers, args.events), check="run", stop=False
            )
            month_seconds.append(time.perf_counter() - started)
            new = [v for v in found if v not in seen]
            for violation in found:
                seen.setdefault(violation, month)
            print(
                f"month {month + 1:2d} ({sim.last_run}): {month_seconds[-1]:6.1f} s, "
                f"{len(found)} violations ({len(new)} new)",
                flush=True,
            )
            for violation in new[:20]:
                print(f"    {violation}")
    total = sum(month_seconds)
    print(
        f"\n{args.customers} customers x {args.months} months, {args.events} events per "
        f"customer and month, seed {args.seed}, known bugs drawn: {sorted(bugs) or 'none'}"
    )
    print(f"violations: {len(seen)} distinct")
    print(f"seconds per simulated month: {total / args.months:.2f} (total {total:.0f} s)")
    return 1 if seen else 0


if __name__ == "__main__":
    sys.exit(main())
