"""Month end (issue 24, readiness half): what would block or spoil the next run, listed
with its count, amount and a click to the records; gone once fixed; a daily digest from
the configured day, only when something is listed.

Time is frozen in late October 2026: the next run bills November, usage October.
"""

from datetime import date, datetime

from freezegun import freeze_time

from odoo.addons.rebilling_review.tests.common import ReviewCase
from odoo.addons.rebilling_voip.tests.common import VoipCase, csv_line
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

OCT = date(2026, 10, 1)
UNPROVISIONED = "(02) 5555 0100"
A = "+61299990001"


@tagged("post_install", "-at_install")
class TestMonthEnd(ReviewCase, VoipCase):
    def setUp(self):
        super().setUp()
        self.freezer = freeze_time("2026-10-28 10:00:00")
        self.freezer.start()
        self.addCleanup(self.freezer.stop)

    def month_end(self, user=None):
        """Rebilling > Month end, as the menu opens it."""
        action = self.env.ref("rebilling_base.action_open_month_end")
        if user:
            action = action.with_user(user)
        result = action.run()
        self.assertEqual(result["res_model"], "rebilling.month.end")
        return self.env["rebilling.month.end"].browse(result["res_id"])

    def lines_by_code(self, month_end):
        return {line.code: line for line in month_end.line_ids}

    def opened(self, line):
        action = line.action_open()
        return (
            self.env[action["res_model"]].with_context(active_test=False).search(action["domain"])
        )

    def test_next_run_and_a_clean_month(self):
        month_end = self.month_end(self.clerk)
        self.assertEqual(month_end.period_start, date(2026, 11, 1))
        self.assertEqual((month_end.usage_start, month_end.usage_end), (OCT, date(2026, 10, 31)))
        self.assertIn("November", month_end.run_label)
        # the breadcrumb and the window title name the month, not "rebilling.month.end,1"
        self.assertEqual(month_end.display_name, "Month End: November 2026")
        lines = self.lines_by_code(month_end)
        for code in ("configuration", "sender", "no_email", "abn", "once_off_ended"):
            self.assertNotIn(code, lines)

    def test_run_of_this_month_until_it_started(self):
        with freeze_time("2026-11-01 00:30:00"):  # the 1st (UTC in these tests), not started
            self.assertEqual(self.month_end().period_start, date(2026, 11, 1))

    def test_customer_without_email_listed_then_gone(self):
        self.customer_b.email = False
        line = self.lines_by_code(self.month_end())["no_email"]
        self.assertEqual(line.severity, "spoil")
        self.assertEqual(line.count, 1)
        self.assertEqual(self.opened(line), self.customer_b)
        self.customer_b.rebilling_invoice_email = "ap@bondi.example.com"
        month_end = line.month_end_id
        month_end.action_refresh()
        self.assertNotIn("no_email", self.lines_by_code(month_end))

    def test_sender_not_confirmed_blocks(self):
        self.company.rebilling_sender_confirmed = False
        line = self.lines_by_code(self.month_end())["sender"]
        self.assertEqual(line.severity, "block")
        self.assertIn(self.company.rebilling_sender_email, line.name)
        action = line.action_open()
        self.assertEqual(action["res_model"], "res.company")

    def test_cancelled_or_unregistered_abn(self):
        self.customer_a.sudo().write({"rebilling_abn_status": "cancelled"})
        self.customer_b.sudo().write({"rebilling_abn_status": "active", "rebilling_abn_gst": False})
        line = self.lines_by_code(self.month_end())["abn"]
        self.assertEqual(line.count, 2)
        self.customer_b.sudo().rebilling_abn_gst = True
        self.assertEqual(self.lines_by_code(self.month_end())["abn"].count, 1)

    def test_once_off_charge_on_an_ended_service(self):
        self.service_b.date_end = date(2026, 9, 30)
        charge = self.env["rebilling.charge"].create(
            {
                "name": "Termination fee",
                "charge_type": "once",
                "partner_id": self.customer_b.id,
                "service_id": self.service_b.id,
                "product_id": self.product_fee.id,
                "quantity": 2,
                "price_unit": 99.5,
                "date_start": date(2026, 10, 15),
            }
        )
        line = self.lines_by_code(self.month_end())["once_off_ended"]
        self.assertEqual((line.count, line.amount), (1, 199.0))
        self.assertEqual(self.opened(line), charge)

    def test_calls_unmatched_unrated_and_silent_supplier(self):
        self.import_csv(
            [
                csv_line("2026-10-05 10:00:00", 60, A, "0412 555 001", "K1"),
                csv_line("2026-10-06 10:00:00", 60, UNPROVISIONED, "0412 555 002", "U1"),
                csv_line("2026-10-07 10:00:00", 95, UNPROVISIONED, "(03) 9000 1000", "U2"),
            ]
        )
        lines = self.lines_by_code(self.month_end())
        self.assertEqual(lines["unrated_calls"].count, 3)
        silent = lines[f"silent_supplier_{self.fmt.id}"]
        self.assertIn("Test wholesale CSV", silent.name)
        self.assertIn("7", silent.name)  # the 7th, the last call's day

        self.rate_all()
        lines = self.lines_by_code(self.month_end())
        self.assertNotIn("unrated_calls", lines)
        unmatched = lines["unmatched_calls"]
        self.assertEqual(unmatched.count, 2)
        self.assertEqual(sorted(self.opened(unmatched).mapped("supplier_call_id")), ["U1", "U2"])

        # The supplier's files reach the end of the month: not silent any more.
        self.import_csv([csv_line("2026-10-31 09:00:00", 30, A, "0412 555 003", "K2")], rate=True)
        self.assertNotIn(f"silent_supplier_{self.fmt.id}", self.lines_by_code(self.month_end()))

    def test_calls_too_late_for_any_period(self):
        """The next run (November) bills late calls back to July: June's are too late."""
        self.import_csv(
            [
                csv_line("2026-06-05 10:00:00", 60, A, "0412 555 001", "OLD1"),
                csv_line("2026-07-05 10:00:00", 60, A, "0412 555 002", "JUL1"),
            ],
            rate=True,
        )
        line = self.lines_by_code(self.month_end())["too_late_calls"]
        self.assertEqual(line.count, 1)
        self.assertEqual(self.opened(line), self.cdr("OLD1"))

    def test_calls_without_a_rate(self):
        self.import_csv([csv_line("2026-10-05 10:00:00", 60, A, "0412 555 001", "K1")])
        self.plan.rate_ids.filtered(lambda r: r.destination_group_id == self.g_mobile).unlink()
        self.rate_all()
        line = self.lines_by_code(self.month_end())["no_rate_calls"]
        self.assertEqual(line.count, 1)
        self.assertEqual(self.opened(line), self.cdr("K1"))

    def test_last_month_under_review_and_unsent(self):
        with freeze_time("2026-10-01 01:00:00"):
            self.run_billing(OCT)
        moves = self.invoices_of(self.customer_a, OCT) | self.invoices_of(self.customer_b, OCT)
        self.assertTrue(moves)
        lines = self.lines_by_code(self.month_end())
        review = lines["last_month_under_review"]
        self.assertEqual(review.count, len(moves))
        self.assertAlmostEqual(review.amount, sum(moves.mapped("amount_total")), places=2)
        self.assertEqual(lines["last_month_unsent"].count, len(moves))
        self.assertEqual(self.opened(review), moves)

    def test_back_billing_beyond_the_catch_up_limit(self):
        self.assertEqual(self.company.rebilling_catch_up_months, 3)
        for month in (7, 8, 9, 10):
            period = date(2026, month, 1)
            with freeze_time(f"{period.isoformat()} 02:00:00"):
                run = self.run_billing(period)
            run.date_started = datetime(2000, 1, 1)  # billed before the service is entered
        self.assertNotIn("back_billing", self.lines_by_code(self.month_end()))
        # Entered now, its true start date in 2024: July is beyond the 3 months before
        # November (August, September, October are caught up).
        self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_b.id,
                "product_id": self.product_pbx.id,
                "price_unit": 31.0,
                "date_start": date(2024, 5, 1),
            }
        )
        line = self.lines_by_code(self.month_end())["back_billing"]
        self.assertEqual((line.count, line.amount), (1, 31.0))
        self.assertEqual(self.opened(line), self.customer_b)

    def test_summary_shows_the_readiness_until_the_run(self):
        with freeze_time("2026-10-01 01:00:00"):
            run = self.run_without_review(OCT)
        self.customer_b.email = False
        form = Form(run, view="rebilling_base.rebilling_billing_run_view_summary")
        self.assertGreaterEqual(form.readiness_count, 1)
        self.assertIn("without an invoice email", form.readiness_summary)
        action = run.action_open_month_end()
        self.assertEqual(action["res_model"], "rebilling.month.end")

    def test_digest_from_its_day_only_when_something_is_listed(self):
        self.company.rebilling_notification_email = "ops@southerncross.example.com"
        self.company.rebilling_digest_days = 3
        MonthEnd = self.env["rebilling.month.end"]

        def digests():
            return (
                self.env["mail.message"]
                .sudo()
                .search([("subject", "like", "Month end:"), ("model", "=", "res.partner")])
            )

        self.customer_b.email = False
        with freeze_time("2026-10-20 12:00:00"):  # 20 Oct: 12 days before
            MonthEnd._cron_rebilling_digest()
        self.assertFalse(digests())
        with freeze_time("2026-10-29 12:00:00"):  # 29 Oct: 3 days before
            MonthEnd._cron_rebilling_digest()
        (digest,) = digests()
        self.assertIn("without an invoice email", digest.body)
        self.assertIn("ops@southerncross.example.com", digest.partner_ids.mapped("email"))

        self.customer_b.email = "hello@bondi.example.com"
        with freeze_time("2026-10-30 12:00:00"):
            MonthEnd._cron_rebilling_digest()
        self.assertEqual(len(digests()), 1, "nothing listed: no digest")

    def test_a_line_opens_only_its_own_pages(self):
        month_end = self.month_end(self.clerk)
        line = (
            self.env["rebilling.month.end.line"]
            .with_user(self.clerk)
            .create({"month_end_id": month_end.id, "name": "x", "open_method": "unlink"})
        )
        with self.assertRaisesRegex(UserError, "no page to open"):
            line.action_open()
