from datetime import date, datetime
from unittest.mock import patch

from odoo import Command, sql_db
from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.addons.rebilling_voip.models import rebilling_cdr_rating
from odoo.addons.rebilling_voip.models.rebilling_cdr_rating import LOCK_KEY
from odoo.sql_db import Cursor
from odoo.tests import Form, tagged
from odoo.tools import SQL

from .common import HEADER, NOV, VoipCase, csv_line

A = "+61299990001"


@tagged("post_install", "-at_install")
class TestRating(VoipCase):
    def rate_one(self, called, duration, cost="0.01", when="2026-10-05 10:00:00", caller=None):
        call_id = f"R{len(self.Cdr.search([]))}-{duration}-{called}"
        imp = self.import_csv(
            [csv_line(when, duration, caller or "+61299990001", called, call_id, cost)]
        )
        self.assertEqual(imp.imported_count, 1, imp.error_ids.mapped("reason"))
        self.rate_all()
        return self.cdr(call_id)

    def assert_price(self, cdr, price, billed):
        self.assertEqual(cdr.state, "rated", cdr.rating_note)
        self.assertAlmostEqual(cdr.price, price, places=4)
        self.assertEqual(cdr.billed_seconds, billed)
        self.assertAlmostEqual(cdr.margin, price - cdr.cost, places=4)

    def test_large_ratings_run_as_parallel_jobs(self):
        lines = [
            csv_line(f"2026-10-{day:02d} 10:00:00", 60 + day, A, f"0412 000 {300 + day}", f"J{day}")
            for day in range(1, 31)
        ]
        self.import_csv(lines)
        cdrs = self.Cdr.search([])
        with trap_jobs() as trap:
            self.assertEqual(self.Cdr._rate_in_jobs(self.company, jobs=3, min_calls=1), (30, 3))
            trap.assert_jobs_count(3, only=self.Cdr._rate_job)
            slices = []
            for job in trap.enqueued_jobs:
                self.assertEqual(job.channel, "root.rebilling.rating")
                self.assertTrue(job.identity_key.startswith(f"rebilling_rate:{self.company.id}:"))
                slices.append(job.args[1:3])
            self.assertEqual(set(cdrs.mapped("state")), {"new"}, "rated by the jobs, not here")
            trap.perform_enqueued_jobs()
        slices.sort()
        self.assertEqual(slices[0][0], datetime(2026, 10, 1, 10, 0))
        self.assertEqual(slices[-1][1], datetime(2026, 10, 30, 10, 0, 1))
        for (_start, end), (start, _end) in zip(slices, slices[1:], strict=False):
            self.assertEqual(end, start, "the slices follow each other")
        cdrs.invalidate_recordset()
        self.assertEqual(set(cdrs.mapped("state")), {"rated"})
        columns = ["service_id", "destination_group_id", "rate_id", "billed_seconds", "price"]
        by_jobs = cdrs.read(columns)
        self.rate_all(rerate=True)
        cdrs.invalidate_recordset()
        self.assertEqual(cdrs.read(columns), by_jobs, "as one rating would")
        # A few calls: rated at once, no job.
        self.import_csv([csv_line("2026-10-31 10:00:00", 60, A, "0412 000 399", "J31")])
        with trap_jobs() as trap:
            self.assertEqual(self.Cdr._rate_in_jobs(self.company), (1, 0))
            trap.assert_jobs_count(0)
        self.assertEqual(self.cdr("J31").state, "rated")
        # The Rate Calls wizard: a large re-rating goes to the background.
        with patch.object(rebilling_cdr_rating, "RATING_JOBS_MIN", 10), trap_jobs() as trap:
            form = Form(self.env["rebilling.cdr.rate.wizard"])
            form.rerate = True
            action = form.save().action_rate()
            self.assertIn("in the background", action["params"]["message"])
            trap.assert_jobs_count(1, only=self.Cdr._rate_job)

    def test_rating_jobs_exclude_billing_not_each_other(self):
        """A rating job locks its slot: billing waits for it, another job does not."""
        company = self.company.id

        def other_gets(function, slot):
            # Another database session (the test's own would hold the locks already).
            with sql_db.db_connect(self.env.cr.dbname).cursor() as other:
                other.execute(f"SELECT {function}(%s, %s)", [LOCK_KEY + slot, company])
                return other.fetchone()[0]

        self.Cdr._lock_rating(self.company, slot=2)
        self.assertFalse(other_gets("pg_try_advisory_xact_lock_shared", 2), "billing waits")
        self.assertTrue(other_gets("pg_try_advisory_xact_lock", 3), "another job runs")
        self.Cdr._lock_rating(self.company, shared=True)  # billing, here
        self.assertTrue(other_gets("pg_try_advisory_xact_lock_shared", 5), "billing runs too")
        self.assertFalse(other_gets("pg_try_advisory_xact_lock", 5), "a rating job waits")

    def test_60_60_per_started_minute(self):
        # National 0.10/min, 60/60.
        self.assert_price(self.rate_one("(03) 9000 1234", 1), 0.10, 60)
        self.assert_price(self.rate_one("(03) 9000 1235", 60), 0.10, 60)
        self.assert_price(self.rate_one("(03) 9000 1236", 61), 0.20, 120)
        self.assert_price(self.rate_one("(03) 9000 1237", 3599), 6.00, 3600)

    def test_30_1_per_second_after_30(self):
        # Mobile 0.20/min, 30/1.
        self.assert_price(self.rate_one("0412 000 111", 10), 0.10, 30)  # 30 s x 0.20/60
        self.assert_price(self.rate_one("0412 000 112", 30), 0.10, 30)
        self.assert_price(self.rate_one("0412 000 113", 61), 0.2033, 61)  # 61 x 0.20/60
        self.assert_price(self.rate_one("0412 000 114", 95), 0.3167, 95)

    def test_flagfall_minimum_and_free_zero_second_calls(self):
        self.assert_price(self.rate_one("(02) 9000 1111", 1234), 0.15, 1260)  # local untimed
        self.assert_price(self.rate_one("1300 123 456", 600), 0.25, 600)  # 13/1300 flagfall
        # Zone 1: 0.08/min 60/60, minimum 0.10.
        self.assert_price(self.rate_one("+44 20 7946 0001", 30), 0.10, 60)  # 0.08 -> minimum
        self.assert_price(self.rate_one("+44 20 7946 0002", 150), 0.24, 180)
        self.assert_price(self.rate_one("+44 20 7946 0003", 0), 0.0, 0)  # not connected

    def test_cost_plus_markup(self):
        # Zone 2: cost + 50 %, minimum 0.05.
        self.assert_price(self.rate_one("+49 30 1234567", 120, cost="0.40"), 0.60, 120)
        self.assert_price(self.rate_one("+49 30 1234568", 120, cost="0.02"), 0.05, 120)
        # The Python reference agrees.
        zone2 = self.plan.rate_ids.filtered(lambda r: r.destination_group_id == self.g_zone2)
        self.assertEqual(zone2._price(120, 0.40), (0.6, 120))

    def test_no_rate_is_an_error(self):
        cdr = self.rate_one("+60 3 1234 5678", 60)  # zone 3: not in the plan
        self.assertEqual(cdr.destination_group_id, self.g_zone3)
        self.assertEqual(cdr.state, "error")
        self.assertIn("no rate", cdr.rating_note)
        self.company.rebilling_rate_plan_id = False
        self.rate_all(rerate=True)
        self.assertEqual(cdr.state, "error")
        self.assertIn("no rate plan", cdr.rating_note)

    def test_customer_plan_beats_company_default(self):
        cheap = self.plan.copy({"name": "Cheap mobiles"})
        cheap.rate_ids.filtered(lambda r: r.destination_group_id == self.g_mobile).write(
            {"rate_per_minute": 0.06}
        )
        self.customer_a.rebilling_rate_plan_id = cheap
        cdr = self.rate_one("0412 000 115", 60)
        self.assert_price(cdr, 0.06, 60)
        self.assertEqual(cdr.rate_id.plan_id, cheap)

    def test_rate_in_force_at_call_time(self):
        mobile = self.plan.rate_ids.filtered(lambda r: r.destination_group_id == self.g_mobile)
        before = self.rate_one("0412 000 116", 60, when="2026-10-14 23:59:59")
        after = self.rate_one("0412 000 117", 60, when="2026-10-15 00:00:00")
        self.assert_price(before, 0.20, 60)
        self.assert_price(after, 0.20, 60)
        # A new rate from the 15th: re-rating applies it to the calls from then on only.
        new_rate = self.env["rebilling.rate"].create(
            {
                "plan_id": self.plan.id,
                "destination_group_id": self.g_mobile.id,
                "date_from": date(2026, 10, 15),
                "rate_per_minute": 0.30,
                "first_block": 30,
                "next_block": 1,
            }
        )
        form = Form(self.env["rebilling.cdr.rate.wizard"])
        form.date_from = date(2026, 10, 1)
        form.date_to = date(2026, 10, 31)
        form.rerate = True
        form.save().action_rate()
        self.assert_price(before, 0.20, 60)
        self.assertEqual(before.rate_id, mobile)
        self.assert_price(after, 0.30, 60)
        self.assertEqual(after.rate_id, new_rate)

    def test_effective_dates_are_local_days(self):
        self.company.rebilling_tz = "Australia/Sydney"  # UTC+11 in October (daylight time)
        self.env["rebilling.rate"].create(
            {
                "plan_id": self.plan.id,
                "destination_group_id": self.g_mobile.id,
                "date_from": date(2026, 10, 15),
                "rate_per_minute": 0.30,
                "first_block": 30,
                "next_block": 1,
            }
        )
        # 2026-10-14 13:30 UTC is 15 October 00:30 in Sydney.
        sydney_15th = self.rate_one("0412 000 118", 60, when="2026-10-14 13:30:00")
        sydney_14th = self.rate_one("0412 000 119", 60, when="2026-10-14 12:30:00")
        self.assert_price(sydney_15th, 0.30, 60)
        self.assert_price(sydney_14th, 0.20, 60)

    def test_service_dates_and_trunks(self):
        self.voice_a.date_start = date(2026, 10, 10)
        early = self.rate_one("0412 000 120", 60, when="2026-10-09 12:00:00")
        self.assertEqual(early.state, "unmatched", "the service had not started")
        trunk_fmt = self.fmt.copy(
            {"name": "With trunk", "column_count": 7, "col_trunk": 7, "col_caller": 3}
        )
        imp = self.import_csv(
            ["2026-10-05 10:00:00,60,,0412 000 121,T1,0.01,TRUNK-B"],
            fmt=trunk_fmt,
        )
        self.assertEqual(imp.imported_count, 1, imp.error_ids.mapped("reason"))
        self.rate_all()
        by_trunk = self.cdr("T1")
        self.assertEqual(by_trunk.service_id, self.voice_b)
        self.assertEqual(by_trunk.partner_id, self.customer_b)

    def test_rerating_stops_at_invoiced_calls(self):
        cdr = self.rate_one("0412 000 122", 60)
        self.run_billing(NOV)
        self.assertEqual(cdr.state, "invoiced")
        invoiced_price = cdr.price
        self.plan.rate_ids.write({"rate_per_minute": 5.0})
        self.rate_all(rerate=True)
        self.assertEqual(cdr.state, "invoiced")
        self.assertEqual(cdr.price, invoiced_price)

    def test_rating_is_one_update(self):
        lines = [
            csv_line(
                f"2026-10-{1 + i % 28:02d} 10:{i % 60:02d}:00",
                30 + i,
                "+61299990001",
                f"0412 100 {i:03d}",
                f"U{i}",
            )
            for i in range(300)
        ]
        self.import_csv(lines)
        statements = []
        execute = Cursor.execute

        def spy(cr, query, params=None, log_exceptions=True):
            statements.append(str(getattr(query, "code", query)))
            return execute(cr, query, params, log_exceptions)

        with patch.object(Cursor, "execute", spy):
            count = self.rate_all()
        self.assertEqual(count, 300)
        updates = [q for q in statements if q.lstrip().startswith("UPDATE rebilling_cdr")]
        self.assertEqual(len(updates), 1, "all calls in one set-based UPDATE")
        self.assertEqual(self.Cdr.search_count([("state", "=", "rated")]), 300)
        # Nothing new left: rating again touches nothing.
        self.assertEqual(self.rate_all(), 0)

    def test_deleted_references_detach_the_calls(self):
        cdr = self.rate_one("0412 000 123", 60)
        self.assertEqual(cdr.service_id, self.voice_a)
        mobile = cdr.rate_id
        # Without database foreign keys, the ondelete hooks keep the links sound.
        mobile.unlink()
        self.assertFalse(cdr.rate_id)
        self.assertEqual(cdr.state, "new", "rated again by the next rating")
        self.rate_all()
        self.assertEqual(cdr.state, "error")
        self.voice_a.unlink()
        self.assertFalse(cdr.service_id)
        self.rate_all()
        self.assertEqual(cdr.state, "unmatched")
        self.env.cr.execute(
            "SELECT count(*) FROM pg_constraint WHERE conrelid = 'rebilling_cdr'::regclass "
            "AND contype = 'f'"
        )
        self.assertEqual(self.env.cr.fetchone()[0], 0)

    def dangling(self, column, table):
        """Calls whose ``column`` references a deleted row of ``table``."""
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                "SELECT count(*) FROM rebilling_cdr c WHERE c.%(col)s IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM %(table)s x WHERE x.id = c.%(col)s)",
                col=SQL.identifier(column),
                table=SQL.identifier(table),
            )
        )
        return self.env.cr.fetchone()[0]

    def test_deleting_a_rate_plan_detaches_the_calls_of_its_rates(self):
        gold = self.plan.copy({"name": "Gold"})
        self.customer_a.rebilling_rate_plan_id = gold
        cdr = self.rate_one("0412 000 123", 60)
        self.assertEqual(cdr.rate_id.plan_id, gold)
        # The rates go with the plan by a database cascade, which runs no hook of theirs.
        gold.unlink()
        self.assertEqual(self.dangling("rate_id", "rebilling_rate"), 0)
        self.assertFalse(cdr.rate_id)
        self.assertEqual(cdr.state, "new", "rated again by the next rating")
        self.rate_all()
        self.assertEqual(cdr.rate_id.plan_id, self.plan, "now the company's default plan")
        self.assert_price(cdr, 0.20, 60)

    def test_merging_customers_keeps_their_calls(self):
        twin = self.customer_a.copy({"name": "Harbour Dental (duplicate)"})
        self.voice_a.partner_id = twin
        cdr = self.rate_one("0412 000 123", 60)
        self.assertEqual(cdr.partner_id, twin)
        wizard = Form(
            self.env["base.partner.merge.automatic.wizard"].with_context(
                active_model="res.partner", active_ids=(self.customer_a | twin).ids
            )
        )
        wizard.dst_partner_id = self.customer_a
        wizard.save().action_merge()
        self.assertFalse(twin.exists())
        self.assertEqual(self.dangling("partner_id", "res_partner"), 0)
        self.assertEqual(cdr.partner_id, self.customer_a, "the call keeps its customer")
        self.assertEqual(cdr.state, "rated")

    def test_customer_shared_by_two_companies_gets_each_companys_plan(self):
        other = self.env["res.company"].create(
            {
                "name": "Other Reseller",
                "country_id": self.env.ref("base.au").id,
                "currency_id": self.company.currency_id.id,
            }
        )
        self.env.user.company_ids |= other
        env2 = self.env(context=dict(self.env.context, allowed_company_ids=[other.id]))
        dear = env2["rebilling.rate.plan"].create(
            {
                "name": "Other's plan",
                "rate_ids": [
                    Command.create(
                        {
                            "destination_group_id": self.g_mobile.id,
                            "rate_per_minute": 0.50,
                            "first_block": 60,
                            "next_block": 60,
                        }
                    )
                ],
            }
        )
        self.assertEqual(dear.company_id, other)
        gold = self.plan.copy({"name": "Gold"})
        # One customer of both companies, on each company's own plan.
        self.customer_a.rebilling_rate_plan_id = gold
        self.customer_a.with_company(other).rebilling_rate_plan_id = dear
        self.assertEqual(self.customer_a.rebilling_rate_plan_id, gold)
        self.assertEqual((gold.partner_count, dear.partner_count), (1, 1))
        env2["rebilling.service"].create(
            {
                "partner_id": self.customer_a.id,
                "product_id": self.voice_product.id,
                "price_unit": 0.0,
                "date_start": date(2026, 1, 1),
                "identifiers": "+61299990009",
            }
        )
        fmt2 = env2["rebilling.cdr.format"].create(
            {"name": "Other CSV", "column_count": 6, "has_header": True}
        )
        text = "\n".join(
            [HEADER, csv_line("2026-10-05 10:00:00", 60, "+61299990009", "0412 000 123", "O1")]
        )
        env2["rebilling.cdr.import"]._import_file(fmt2, (text + "\n").encode(), "other.csv")
        self.Cdr._rate(other)
        cdr_other = self.cdr("O1")
        self.assertEqual(cdr_other.rate_id.plan_id, dear)
        self.assert_price(cdr_other, 0.50, 60)
        cdr_main = self.rate_one("0412 000 123", 60)
        self.assertEqual(cdr_main.rate_id.plan_id, gold)
        self.assert_price(cdr_main, 0.20, 60)
