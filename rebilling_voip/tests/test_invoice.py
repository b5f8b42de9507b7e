import io
import zipfile

from odoo.tests import tagged
from odoo.tools import float_round

from .common import DEC, HEADER, NOV, VoipCase, csv_line

A = "+61299990001"
B = "(03) 9999 0002"


@tagged("post_install", "-at_install")
class TestUsageInvoice(VoipCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        lines = []
        # Customer A in October: 5 mobile calls, 3 national, 2 to the UK.
        for i in range(5):
            lines.append(
                csv_line(f"2026-10-0{i + 1} 10:00:00", 61 + i, A, f"0412 555 00{i}", f"M{i}")
            )
        for i in range(3):
            lines.append(csv_line(f"2026-10-1{i} 11:00:00", 125, A, f"(03) 9000 100{i}", f"N{i}"))
        for i in range(2):
            lines.append(csv_line(f"2026-10-2{i} 12:00:00", 150, A, f"+44 20 7946 000{i}", f"I{i}"))
        # Customer B in October: 2 mobile calls. And calls of November (next invoice).
        lines.append(csv_line("2026-10-31 23:59:59", 30, B, "0412 555 100", "B1"))
        lines.append(csv_line("2026-10-15 09:00:00", 10, B, "0412 555 101", "B2"))
        lines.append(csv_line("2026-11-01 00:00:00", 60, A, "0412 555 200", "NOV1"))
        # Unmatched: never billed.
        lines.append(csv_line("2026-10-15 09:00:00", 60, A, "0550 123 456", "U1"))
        cls.imp = cls.import_csv_class(lines)

    @classmethod
    def import_csv_class(cls, lines):
        text = "\n".join([HEADER, *lines]) + "\n"
        return cls.env["rebilling.cdr.import"]._import_file(cls.fmt, text.encode(), "oct.csv")

    def usage_lines(self, invoice):
        return invoice.invoice_line_ids.filtered(lambda ln: ln.rebilling_line_kind == "usage")

    def test_usage_lines_by_destination_group(self):
        self.env["res.lang"]._activate_lang("en_AU")
        self.customer_b.lang = "en_AU"
        self.assertEqual(self.imp.imported_count, 14)
        run = self.run_billing(NOV)  # rates the new calls first
        inv = self.invoices_of(self.customer_a, NOV)
        self.assertEqual(len(inv), 1)
        usage = self.usage_lines(inv)
        self.assertEqual(
            usage.mapped("rebilling_destination_group_id"),
            self.g_national | self.g_mobile | self.g_zone1,
            "one line per destination group, in the groups' order",
        )
        mobile = usage.filtered(lambda ln: ln.rebilling_destination_group_id == self.g_mobile)
        # 30/1 at 0.20/min: 61+62+63+64+65 = 315 s -> 1.05
        self.assertAlmostEqual(mobile.price_subtotal, 1.05)
        self.assertEqual(mobile.rebilling_call_count, 5)
        self.assertEqual(mobile.product_id, self.voice_product)
        self.assertEqual(mobile.tax_ids, self.gst)
        self.assertEqual(mobile.rebilling_service_id, self.voice_a)
        self.assertIn("Australia Mobile: 5 calls, 5.2 min", mobile.name)
        self.assertIn("10/01/2026 - 10/31/2026", mobile.name)
        # In the customer's language: an en_AU customer reads 01/10/2026.
        usage_b = self.usage_lines(self.invoices_of(self.customer_b, NOV))
        self.assertIn("01/10/2026 - 31/10/2026", usage_b.name)
        national = usage.filtered(lambda ln: ln.rebilling_destination_group_id == self.g_national)
        self.assertAlmostEqual(national.price_subtotal, 0.90)  # 3 x 125 s -> 3 x 3 min x 0.10
        uk = usage.filtered(lambda ln: ln.rebilling_destination_group_id == self.g_zone1)
        self.assertAlmostEqual(uk.price_subtotal, 0.48)  # 2 x 180 s x 0.08/min
        calls = self.Cdr.search([("invoice_id", "=", inv.id)])
        self.assertEqual(len(calls), 10)
        self.assertEqual(set(calls.mapped("state")), {"invoiced"})
        total = float_round(sum(calls.mapped("price")), 2)
        self.assertAlmostEqual(sum(usage.mapped("price_subtotal")), total)
        self.assertAlmostEqual(inv.amount_untaxed, 99.0 + total, msg="NBN service + usage")
        self.assertEqual(inv.rebilling_call_count, 10)
        self.assertEqual(
            (inv.rebilling_usage_from, inv.rebilling_usage_to), (run.usage_start, run.usage_end)
        )
        # Customer B: the call at 23:59:59 on the last day is October usage.
        inv_b = self.invoices_of(self.customer_b, NOV)
        self.assertEqual(self.cdr("B1").invoice_id, inv_b)
        self.assertEqual(self.usage_lines(inv_b).rebilling_call_count, 2)
        # November's call waits for the December invoice; unmatched calls are never billed.
        self.assertEqual(self.cdr("NOV1").state, "new", "rated by the next run (or the cron)")
        self.assertEqual(self.cdr("U1").state, "unmatched")
        self.run_billing(DEC)
        self.assertEqual(self.cdr("NOV1").invoice_id, self.invoices_of(self.customer_a, DEC))
        self.assertEqual(self.cdr("U1").state, "unmatched")

    def test_review_flags_from_usage(self):
        # B: one call bought at 5.00 and sold for cents, and a SIP trunk without calls.
        self.import_csv([csv_line("2026-10-16 09:00:00", 60, B, "0412 555 102", "B3", "5.00")])
        self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_b.id,
                "product_id": self.voice_product.id,
                "service_type": "sip_trunk",
                "identifiers": "TRUNK-IDLE",
                "date_start": "2026-01-01",
            }
        )
        self.run_billing(NOV)
        inv_a = self.invoices_of(self.customer_a, NOV)
        inv_b = self.invoices_of(self.customer_b, NOV)
        flags = (inv_a | inv_b)._rebilling_review_flags()
        self.assertIn("unmatched_cdr", flags[inv_a.id], "the 0550 call of A matched nothing")
        self.assertNotIn("zero_usage", flags[inv_a.id])
        self.assertNotIn("negative_margin", flags[inv_a.id])
        self.assertIn("negative_margin", flags[inv_b.id])
        self.assertIn("zero_usage", flags[inv_b.id], "B's SIP trunk had no call")
        self.assertNotIn("unmatched_cdr", flags[inv_b.id])

    def test_late_calls_go_on_the_next_invoice(self):
        self.run_billing(NOV)
        late = self.import_csv(
            [
                csv_line("2026-10-20 10:00:00", 60, A, "0412 555 300", "LATE"),
                # Older than the late-call window (3 months before the usage month).
                csv_line("2026-07-31 10:00:00", 60, A, "0412 555 301", "TOO-LATE"),
            ]
        )
        self.assertEqual(late.imported_count, 2)
        run = self.run_billing(DEC)
        dec = self.invoices_of(self.customer_a, DEC)
        self.assertEqual(self.cdr("LATE").invoice_id, dec)
        # LATE (October) and NOV1 (November): a line each, labelled with its own month.
        self.assertEqual(self.usage_lines(dec).mapped("rebilling_call_count"), [1, 1])
        self.assertEqual(self.cdr("TOO-LATE").state, "new", "left for a usage invoice by hand")
        self.assertEqual(run.late_call_count, 1, "and counted on the run")

    def test_call_list_attached_and_summary_printed(self):
        self.run_billing(NOV)
        inv = self.invoices_of(self.customer_a, NOV)
        attachment = inv.rebilling_call_list_id
        self.assertTrue(attachment)
        self.assertEqual(attachment.res_id, inv.id)
        self.assertTrue(attachment.name.endswith(".xlsx"))
        with zipfile.ZipFile(io.BytesIO(attachment.raw)) as book:
            sheet = book.read("xl/worksheets/sheet1.xml").decode()
        self.assertEqual(sheet.count("<row "), 1 + 10 + 1, "header, 10 calls, total")
        self.assertIn("+61412555000", sheet)
        self.assertIn("Australia Mobile", sheet)
        # The invoice document shows the usage by destination group.
        html = self.env["ir.actions.report"]._render_qweb_html("account.account_invoices", inv.ids)[
            0
        ]
        html = html.decode()
        self.assertIn("Call usage by destination", html)
        self.assertIn("Australia National", html)
        self.assertIn("International Zone 1", html)

    def test_preview_links_nothing_and_cancel_frees_calls(self):
        self.run_billing(NOV, dry_run=True)
        self.assertFalse(self.Cdr.search([("state", "=", "invoiced")]))
        self.run_billing(NOV)
        inv = self.invoices_of(self.customer_a, NOV)
        inv.button_cancel()
        self.assertFalse(self.Cdr.search([("invoice_id", "=", inv.id)]))
        self.assertEqual(self.cdr("M0").state, "rated", "billable again")

    def test_margin_report(self):
        self.run_billing(NOV)
        action = self.env.ref("rebilling_voip.action_rebilling_margin")
        self.assertEqual(action.view_mode, "pivot,graph,list")
        groups = self.Cdr._read_group(
            [("state", "in", ("rated", "invoiced"))],
            ["partner_id", "destination_group_id"],
            ["cost:sum", "price:sum", "margin:sum"],
        )
        sums = {(partner, group): rest for partner, group, *rest in groups}
        cost, price, margin = sums[(self.customer_a, self.g_mobile)]
        self.assertAlmostEqual(price, 1.05)
        self.assertAlmostEqual(cost, 0.05)
        self.assertAlmostEqual(margin, 1.0)
        # The pivot view of the report loads.
        self.Cdr.get_views([(False, "pivot"), (False, "graph")])

    def test_calls_of_unprovisioned_numbers_are_counted_on_the_run(self):
        self.import_csv(
            [
                csv_line("2026-10-20 10:00:00", 60, "+61298887777", "0412 555 300", "X1"),
                csv_line("2026-10-21 10:00:00", 60, "+61298887777", "0412 555 301", "X2"),
            ]
        )
        run = self.run_billing(NOV)
        self.assertEqual(self.cdr("X1").state, "unmatched")
        self.assertFalse(self.cdr("X1").partner_id, "nobody's call")
        # U1 (a customer's call to a number of no destination group) has a service.
        self.assertEqual(run.unmatched_call_count, 2)
        action = run.action_view_unmatched_calls()
        self.assertEqual(self.Cdr.search(action["domain"]), self.cdr("X1") | self.cdr("X2"))

    def test_usage_month_in_company_time(self):
        self.company.rebilling_tz = "Australia/Sydney"  # UTC+11 on 1 November 2026
        self.import_csv(
            [
                csv_line("2026-10-31 12:59:59", 60, A, "0412 555 400", "TZ0"),  # 31 Oct 23:59:59
                csv_line("2026-10-31 13:30:00", 60, A, "0412 555 401", "TZ1"),  # 1 Nov 00:30
            ]
        )
        self.run_billing(NOV)
        self.assertEqual(self.cdr("TZ0").invoice_id, self.invoices_of(self.customer_a, NOV))
        self.assertFalse(self.cdr("TZ1").invoice_id, "00:30 on 1 November in Sydney: November's")
        self.run_billing(DEC)
        self.assertEqual(self.cdr("TZ1").invoice_id, self.invoices_of(self.customer_a, DEC))

    def test_odoo_credit_note_keeps_the_usage_of_its_lines(self):
        """Issue 26, case 12: Odoo's Credit Note of an invoice with usage."""
        self.run_billing(NOV)
        inv = self.invoices_of(self.customer_a, NOV)
        action = (
            self.env["account.move.reversal"]
            .with_context(active_model="account.move", active_ids=inv.ids)
            .create({"reason": "Wrong rates", "journal_id": inv.journal_id.id})
            .refund_moves()
        )
        credit_note = self.env["account.move"].browse(action["res_id"])
        usage = self.usage_lines(credit_note)
        self.assertEqual(
            usage.mapped("rebilling_destination_group_id"),
            self.g_national | self.g_mobile | self.g_zone1,
        )
        mobile = usage.filtered(lambda ln: ln.rebilling_destination_group_id == self.g_mobile)
        self.assertEqual(mobile.rebilling_call_count, 5)
        self.assertEqual(mobile.rebilling_service_id, self.voice_a)
        kinds = [label for label, _amount in credit_note._rebilling_report_summary()]
        self.assertNotIn("Adjustments", kinds)
        self.assertIn("Usage", kinds)
