#!/usr/bin/env python3
"""Money over time, long profile: random months of many customers, invariants checked.

    python3 bench/ledger_sim.py [--customers 500] [--months 24] [--events 3] [--seed 1]
                                [--known-bugs all|none|NAME,...] [--db NAME] [--rebuild]
                                [--keep-sim]

Draws, for every simulated month, ``--events`` random events per customer
(services started, ended, re-priced; recurring and once-off charges; calls on
time, late, imported twice and at Sydney's DST changes; approvals, reissues now
and at the off-peak hour, adjustments, credit notes), then the month's billing
run, and checks the invariants of tests/ledger.py (the oracle written from the
events) after each run. Prints every distinct violation (goal: 0) and the
seconds per simulated month. ``--known-bugs``: the situations of the bugs of
tests/ledger.py KNOWN_BUGS to draw (default all, as CI: all fixed).

Databases: ``--db`` (default rebilling_bench_ledger) is the base, built with
rebilling_voip and rebilling_review when missing (``--rebuild``: again) and never
changed. The simulation runs on a database of its own, ``<db>_sim_<pid>`` (one per run:
two runs at once never touch each other's), a fresh copy
of the base and its filestore (``CREATE DATABASE ... TEMPLATE``) made at the
start, that **commits after every simulated month** (then, where PostgreSQL runs
without autovacuum, as on a machine set up for CI, vacuums and analyzes it: see
``vacuum_if_no_autovacuum``). PostgreSQL keeps every lock
of a transaction until it ends: a long profile in one transaction (the rating's
temporary tables of every run) ran out of its lock table ("out of shared memory
... increase max_locks_per_transaction"). The copy is dropped at the end (with
its filestore), or kept with ``--keep-sim`` to look at what a violation left.
The oracle (tests/ledger.py) lives in this process: an interrupted simulation
cannot be resumed, start it again.
"""

import argparse
import os
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import ledger
from tests.bench_support import (
    ROOT,
    bench_env,
    drop_database,
    ensure_database,
    pg_connect,
    write_config,
)


def copy_database(base, name):
    """``name``: a fresh copy of database ``base`` and of its filestore; its config written."""
    drop_database(name)
    conn = pg_connect()
    conn.autocommit = True
    with conn.cursor() as cr:
        cr.execute(f'CREATE DATABASE "{name}" TEMPLATE "{base}"')
    conn.close()
    filestore = ROOT / ".local" / "data" / "filestore"  # as setup/common.py
    if (filestore / base).exists():
        shutil.copytree(filestore / base, filestore / name)
    write_config(name, http_port=8199, log_level="warn")


def vacuum_if_no_autovacuum(name):
    """``VACUUM (ANALYZE)`` database ``name`` when this PostgreSQL runs without autovacuum.

    A machine configured for CI (``autovacuum = off``) never removes the dead rows of
    a long simulation nor refreshes its statistics: every month scanned the dead
    rows of all earlier months (260,800 dead against 62,517 live invoice lines after
    16 months). Production keeps autovacuum on; this does its work between months.
    """
    conn = pg_connect(name)
    conn.autocommit = True
    try:
        with conn.cursor() as cr:
            cr.execute("SHOW autovacuum")
            if cr.fetchone()[0] == "off":
                cr.execute("VACUUM (ANALYZE)")
    finally:
        conn.close()


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
    parser.add_argument("--rebuild", action="store_true", help="build the base database again")
    parser.add_argument(
        "--keep-sim", action="store_true", help="keep the simulation's database <db>_sim_<pid>"
    )
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
    sim_db = f"{args.db}_sim_{os.getpid()}"
    copy_database(args.db, sim_db)
    try:
        seen, month_seconds = simulate(args, bugs, sim_db)
    finally:
        if not args.keep_sim:
            drop_database(sim_db)
    total = sum(month_seconds)
    print(
        f"\n{args.customers} customers x {args.months} months, {args.events} events per "
        f"customer and month, seed {args.seed}, known bugs drawn: {sorted(bugs) or 'none'}"
    )
    print(f"violations: {len(seen)} distinct")
    if month_seconds:
        print(
            f"seconds per simulated month: {total / len(month_seconds):.2f} "
            f"(total {total:.0f} s, {len(month_seconds)} months)"
        )
    if args.keep_sim:
        print(f"simulation database kept: {sim_db}")
    return 1 if seen else 0


def simulate(args, bugs, sim_db):
    """The months on ``sim_db``, committed one by one: ``(violations seen, seconds per month)``."""
    profile = ledger.Profile(
        customers=args.customers,
        months=args.months,
        steps=args.customers * args.events * args.months,
        include_bugs=bugs,
        batch_imports=True,
    )
    rnd = random.Random(args.seed)
    seen, month_seconds = {}, []
    with bench_env(sim_db) as env:
        fixture = ledger.setup_fixture(env, args.customers)
        env.cr.commit()
        sim = ledger.Ledger(env, profile, fixture)
        for month in range(args.months):
            started = time.perf_counter()
            found, _log = ledger.run_steps(
                sim, month_steps(rnd, args.customers, args.events), check="run", stop=False
            )
            # One transaction per month: its locks (temporary tables of the rating) end here.
            env.cr.commit()
            vacuum_if_no_autovacuum(sim_db)
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
    return seen, month_seconds


if __name__ == "__main__":
    sys.exit(main())
