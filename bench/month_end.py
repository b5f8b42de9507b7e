#!/usr/bin/env python3
"""Month end readiness page time on a large month, against counting the month's calls.

    python3 bench/month_end.py [--customers 10000] [--calls 1000000] [--rounds 3] [--rebuild]
                               [--db NAME] [--smoke]

Builds (once, kept in its own database) N customers with 3 services and 2
charges each and M calls of the usage month (October 2026: rated, unmatched,
not rated and without a rate, from three suppliers, one of which stops on the
27th), then opens Rebilling > Month end for the run of November as the menu
does (``_rebilling_build``: every check, stored lines) and the Summary's
banner (the same checks, not stored). Prints the median seconds of each, and the ratio to a
baseline measured in the same run: one ``search_count`` of the month's calls
(the least any page about these calls does). Goal: the page under 2 s.
"""

import argparse
import statistics
import sys
from datetime import date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from billing_run import build_customers

from tests.bench_support import (
    Timer,
    add_smoke_argument,
    bench_env,
    ensure_database,
    parse_bench_args,
    say,
)

DB = "rebilling_month_end_bench"
NOW = datetime(2026, 10, 28, 10, 0, 0)
GOAL_SECONDS = 2.0


def build(env, customers, calls):
    company, partners, _products = build_customers(env, customers)
    company.rebilling_tz = "UTC"
    formats = env["rebilling.cdr.format"].create(
        [{"name": f"Carrier {c}", "column_count": 6, "has_header": True} for c in "ABC"]
    )
    env.flush_all()
    # Calls straight into the table (the import's own speed is bench/cdr_ingest.py):
    # October 2026, three suppliers (C stops on the 27th), a mix of states.
    env.cr.execute(
        """
        INSERT INTO rebilling_cdr (company_id, start_time, duration, caller, caller_e164,
                                   called, called_e164, supplier_call_id, format_id, state,
                                   partner_id, price)
        SELECT %(company)s,
               timestamp '2026-10-01' + (CASE WHEN g %% 3 = 2 THEN interval '26 days'
                                              ELSE interval '31 days' END)
                                        * ((g::bigint * 7919) %% 100000) / 100000.0,
               30 + g %% 600, '0290000000', '+61290000000',
               '0412' || lpad((g %% 1000000)::text, 6, '0'),
               '+61412' || lpad((g %% 1000000)::text, 6, '0'),
               'B' || g, (%(formats)s)[1 + g %% 3],
               (ARRAY['rated', 'rated', 'rated', 'rated', 'rated', 'rated', 'rated',
                      'unmatched', 'new', 'error'])[1 + g %% 10],
               (%(partners)s)[1 + g %% %(npartners)s], 0.1
          FROM generate_series(1, %(calls)s) g
        """,
        {
            "company": company.id,
            "formats": formats.ids,
            "partners": partners.ids,
            "npartners": len(partners),
            "calls": calls,
        },
    )
    env.cr.execute("ANALYZE rebilling_cdr")
    return company


def timed(env, fn, rounds):
    seconds = []
    for _ in range(rounds):
        env.invalidate_all()
        with Timer() as timer:
            fn()
        seconds.append(timer.seconds)
    return statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--calls", type=int, default=1000000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--db", help=f"database (built when missing; default {DB}, {DB}_N for N customers)"
    )
    add_smoke_argument(parser, customers=3, calls=300, rounds=1)
    args = parse_bench_args(parser)

    db = args.db or (
        DB if (args.customers, args.calls) == (10000, 1000000) else f"{DB}_{args.customers}"
    )
    ensure_database(db, ["rebilling_voip", "rebilling_review", "rebilling_xero_sync"], args.rebuild)
    with bench_env(db, commit=True) as env:
        if not env["res.partner"].search_count([("rebilling_enabled", "=", True)]):
            say(f"building {args.customers} customers and {args.calls} calls...")
            with Timer() as timer:
                build(env, args.customers, args.calls)
            say(f"built in {timer.seconds:.0f} s")
    with bench_env(db) as env:
        company = env.ref("base.main_company")
        MonthEnd = env["rebilling.month.end"].with_company(company)
        probe = MonthEnd._rebilling_build(company, NOW)
        customers = len(probe._rebilling_billable_customers())
        calls = env["rebilling.cdr"].search_count([("company_id", "=", company.id)])
        start, end = company._rebilling_days_utc(date(2026, 10, 1), date(2026, 10, 31))
        month_calls = [
            ("company_id", "=", company.id),
            ("start_time", ">=", start),
            ("start_time", "<", end),
        ]
        base = timed(env, lambda: env["rebilling.cdr"].search_count(month_calls), args.rounds)
        page = timed(env, lambda: MonthEnd._rebilling_build(company, NOW), args.rounds)
        banner = timed(env, lambda: MonthEnd._rebilling_checks_of(company, NOW), args.rounds)
        print(f"\nMonth end readiness: {customers} customers to bill, {calls} calls")
        for line in probe.line_ids:
            print(f"  {line.severity:6} {line.count:>8} {line.amount:>12.2f}  {line.name}")
        print(f"baseline (count the month's calls): {base:.3f} s")
        verdict = "met" if page < GOAL_SECONDS else "NOT met"
        print(
            f"Month end page: {page:.3f} s ({page / base:.1f}x the baseline; "
            f"goal < {GOAL_SECONDS:.0f} s: {verdict})"
        )
        print(f"Summary banner: {banner:.3f} s ({banner / base:.1f}x the baseline)")


if __name__ == "__main__":
    main()
