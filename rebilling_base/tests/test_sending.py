import csv
import io
import zipfile
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from email.utils import getaddresses

import openpyxl

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import Form, HttpCase, tagged

from ..fakes.fake_dns import FakeDNS
from ..fakes.fake_smtp import FakeSMTP
from .common import VALID_ABN, RebillingCase, run_send_cron

NOV = date(2026, 11, 1)


def sent_mails(env, move):
    return env["mail.mail"].search([("model", "=", "account.move"), ("res_id", "=", move.id)])


@tagged("post_install", "-at_install")
class TestSenderEmail(RebillingCase):
    def test_saving_sender_sends_confirmation_and_blocks_sending(self):
        with Form(self.company, view="rebilling_base.res_company_rebilling_form") as form:
            form.rebilling_sender_email = "invoices@newdomain.example.com"
        self.assertFalse(self.company.rebilling_sender_confirmed)
        mail = self.env["mail.mail"].search(
            [("subject", "=", "Confirm invoices@newdomain.example.com as invoice sender")]
        )
        self.assertTrue(mail, "a confirmation email goes to the new address")
        self.assertIn("/rebilling/sender/confirm/", mail.body_html)
        notif = self.company.action_rebilling_check_confirmed()
        self.assertEqual(notif["params"]["type"], "warning")
        # Invoices are not sent from an unconfirmed address.
        self.company.rebilling_auto_invoice = True
        self.run_billing(NOV)
        invoice = self.invoices_of(self.customer_a)
        self.assertEqual(invoice.rebilling_send_state, "failed")
        self.assertEqual(invoice.rebilling_send_error, "sender email not verified")
        self.assertFalse(invoice.sending_data)
        # Resend makes a new one-time link.
        token = self.company.sudo().rebilling_sender_token
        self.company.action_rebilling_resend_confirmation()
        self.assertNotEqual(self.company.sudo().rebilling_sender_token, token)

    def test_spf_check_against_local_dns(self):
        records = {
            ("southerncross.example.com", "TXT"): [
                '"v=spf1 include:_spf.mailhost.example.net -all"'
            ],
            ("_spf.mailhost.example.net", "TXT"): ['"v=spf1 ip4:198.51.100.0/24 -all"'],
            ("smtp.mailhost.example.net", "A"): ["198.51.100.25"],
            ("smtp.other.example.org", "A"): ["203.0.113.9"],
        }
        server = self.env["ir.mail_server"].create(
            {"name": "Outgoing", "smtp_host": "smtp.mailhost.example.net"}
        )
        with FakeDNS(records) as dns_server:
            self.env["ir.config_parameter"].set_param("rebilling.dns_server", dns_server.address)
            result = self.company.action_rebilling_check_spf()
            self.assertEqual(result["params"]["type"], "success")
            self.assertIn("authorises the outgoing mail server", result["params"]["message"])
            server.smtp_host = "smtp.other.example.org"
            result = self.company.action_rebilling_check_spf()
            self.assertEqual(result["params"]["type"], "warning")
            self.assertIn("does not authorise", result["params"]["message"])
            self.assertIn("48 hours", result["params"]["message"])
            self.company.rebilling_sender_email = "billing@nospf.example.com"
            result = self.company.action_rebilling_check_spf()
            self.assertIn("has no SPF record", result["params"]["message"])


@tagged("post_install", "-at_install")
class TestSenderConfirmationRoute(HttpCase):
    def test_one_time_link_confirms_the_address(self):
        company = self.env.ref("base.main_company")
        company.rebilling_sender_email = "billing@route.example.com"
        token = company.sudo().rebilling_sender_token
        self.assertTrue(token)
        response = self.url_open(f"/rebilling/sender/confirm/{token}")
        self.assertEqual(response.status_code, 200)
        self.assertIn("Sender email confirmed", response.text)
        company.invalidate_recordset()
        self.assertTrue(company.rebilling_sender_confirmed)
        again = self.url_open(f"/rebilling/sender/confirm/{token}")
        self.assertIn("Link not valid", again.text)
        self.assertIn("Link not valid", self.url_open("/rebilling/sender/confirm/forged").text)


@tagged("post_install", "-at_install")
class TestSending(RebillingCase):
    def test_auto_invoice_queues_then_cron_sends_from_the_sender(self):
        self.company.rebilling_auto_invoice = True
        self.run_billing(NOV)
        invoice = self.invoices_of(self.customer_a)
        self.assertEqual(invoice.rebilling_send_state, "queued")
        run_send_cron(self.env)
        self.assertEqual(invoice.rebilling_send_state, "sent")
        mail = sent_mails(self.env, invoice)
        self.assertEqual(len(mail), 1)
        self.assertIn("billing@southerncross.example.com", mail.email_from)
        self.assertIn("invoices@harbour.example.com", mail.recipient_ids.mapped("email"))
        self.assertTrue(mail.attachment_ids.filtered(lambda a: a.mimetype == "application/pdf"))

    def test_from_header_quotes_the_company_name(self):
        """A company name with a comma and quotes still gives one valid From address."""
        self.company.write(
            {"rebilling_company_name": 'Smith, Jones & "Partners"', "rebilling_auto_invoice": True}
        )
        self.company.rebilling_sender_confirmed = True
        self.run_billing(NOV)
        invoice = self.invoices_of(self.customer_a)
        run_send_cron(self.env)
        mail = sent_mails(self.env, invoice)
        self.assertEqual(len(mail), 1)
        self.assertEqual(
            getaddresses([mail.email_from]),
            [('Smith, Jones & "Partners"', "billing@southerncross.example.com")],
        )

    def test_without_auto_invoice_invoices_stay_pending(self):
        self.run_billing(NOV)
        invoice = self.invoices_of(self.customer_a)
        self.assertEqual(invoice.rebilling_send_state, "pending")
        self.assertFalse(invoice.sending_data)

    def test_send_and_cancel_from_the_list(self):
        self.run_billing(NOV)
        invoices = self.invoices_of(self.customer_a) | self.invoices_of(self.customer_b)
        action = self.env.ref("rebilling_base.action_server_rebilling_send")
        result = action.with_context(active_model="account.move", active_ids=invoices.ids).run()
        self.assertEqual(result["params"]["type"], "success")
        self.assertEqual(set(invoices.mapped("rebilling_send_state")), {"queued"})
        invoices[0].action_rebilling_cancel_send()
        self.assertEqual(invoices[0].rebilling_send_state, "cancelled")
        run_send_cron(self.env)
        self.assertEqual(invoices[1].rebilling_send_state, "sent")
        self.assertFalse(sent_mails(self.env, invoices[0]), "a cancelled invoice is not emailed")
        # Sending again puts it back in the queue.
        invoices[0].action_rebilling_send()
        self.assertEqual(invoices[0].rebilling_send_state, "queued")

    def test_delivery_failure_and_bounce_are_shown(self):
        self.company.rebilling_auto_invoice = True
        self.run_billing(NOV)
        a, b = self.invoices_of(self.customer_a), self.invoices_of(self.customer_b)
        run_send_cron(self.env)
        mail_a = sent_mails(self.env, a)
        mail_a._postprocess_sent_message(
            success_pids=[],
            success_emails=[],
            failure_reason="550 5.1.1 mailbox unavailable",
            failure_type="mail_email_invalid",
        )
        self.assertEqual(a.rebilling_send_state, "failed")
        self.assertIn("mailbox unavailable", a.rebilling_send_error)
        b._message_receive_bounce("hello@bondi.example.com", self.customer_b)
        self.assertEqual(b.rebilling_send_state, "failed")
        self.assertIn("Hard bounce", b.rebilling_send_error)
        failed = self.env["account.move"].search([("rebilling_send_state", "=", "failed")])
        self.assertEqual(failed, a | b)

    def test_previous_invoices(self):
        self.run_billing(NOV)
        self.run_billing(date(2026, 12, 1))
        dec = self.invoices_of(self.customer_a, date(2026, 12, 1))
        action = dec.action_rebilling_previous_invoices()
        previous = self.env["account.move"].search(action["domain"])
        self.assertEqual(previous, self.invoices_of(self.customer_a, NOV))


@tagged("post_install", "-at_install")
class TestExports(RebillingCase):
    def _download(self, action):
        attachment_id = int(action["url"].split("/web/content/")[1].split("?")[0])
        return self.env["ir.attachment"].browse(attachment_id)

    def test_xero_csv_of_a_month(self):
        self.run_billing(NOV)
        wizard = Form(self.env["rebilling.export.wizard"])
        wizard.month = date(2026, 11, 15)
        attachment = self._download(wizard.save().action_export())
        self.assertTrue(attachment.name.endswith(".csv"))
        text = attachment.raw.decode()
        # Xero's SalesInvoiceTemplate.csv header, written out by hand.
        self.assertEqual(
            text.splitlines()[0],
            "*ContactName,EmailAddress,POAddressLine1,POAddressLine2,POAddressLine3,"
            "POAddressLine4,POCity,PORegion,POPostalCode,POCountry,*InvoiceNumber,Reference,"
            "*InvoiceDate,*DueDate,Total,InventoryItemCode,*Description,*Quantity,*UnitAmount,"
            "Discount,*AccountCode,*TaxType,TaxAmount,TrackingName1,TrackingOption1,"
            "TrackingName2,TrackingOption2,Currency,BrandingTheme",
        )
        rows = list(csv.DictReader(io.StringIO(text)))
        invoice = self.invoices_of(self.customer_a)
        mine = [r for r in rows if r["*InvoiceNumber"] == invoice.name]
        self.assertEqual(len(mine), len(invoice.invoice_line_ids))
        first = mine[0]
        self.assertEqual(first["*ContactName"], "Harbour Dental")
        self.assertEqual(first["*InvoiceDate"], "01/11/2026")
        self.assertEqual(first["*DueDate"], "15/11/2026")
        self.assertEqual(first["*AccountCode"], "200")
        self.assertEqual(first["*TaxType"], "GST on Income")
        self.assertEqual(first["Currency"], "AUD")
        # 99.00 + 10% GST, computed by hand.
        self.assertEqual(first["Total"], "108.90")
        self.assertEqual(first["TaxAmount"], "9.90")
        self.product_nbn.rebilling_xero_account_code = "210"
        rows = list(
            csv.DictReader(
                io.StringIO(
                    self._download(invoice.action_rebilling_download_xero_csv()).raw.decode()
                )
            )
        )
        self.assertIn("210", {r["*AccountCode"] for r in rows})

    def test_xero_csv_numbers_exact_and_lines_add_up_to_total(self):
        """No %g: 1234567 stays 1234567, 1234.5678 stays 1234.5678; on every invoice and
        credit note the lines plus their TaxAmount make Total, to the cent."""
        # Usage is priced and counted finer than cents (the company's decimal accuracy).
        self.env.ref("product.decimal_price").digits = 4
        self.env.ref("uom.decimal_product_uom").digits = 4
        lines = [(0.04, 1.0)] * 12 + [(0.25, 1.0), (0.15, 3.0), (1234.5678, 1.0), (0.01, 1234567.0)]
        lines.append((0.1, 1234.5678))
        invoice = self.posted_invoice_of_lines(lines, invoice_date=NOV, rebilling_period=NOV)
        credit_note = invoice._reverse_moves()
        credit_note.invoice_line_ids[:3].unlink()
        credit_note.action_post()
        wizard = self.env["rebilling.export.wizard"].create(
            {"move_ids": [Command.set((invoice | credit_note).ids)]}
        )
        rows = list(
            csv.DictReader(io.StringIO(wizard._xero_csv_files(wizard._get_moves())[0].decode()))
        )
        mine = [r for r in rows if r["*InvoiceNumber"] == invoice.name]
        self.assertEqual(mine[-3]["*UnitAmount"], "1234.5678")
        self.assertEqual(mine[-2]["*Quantity"], "1234567")
        self.assertEqual(mine[-2]["*UnitAmount"], "0.01")
        self.assertEqual(mine[-1]["*Quantity"], "1234.5678")
        self.assertEqual(mine[0]["TaxAmount"], "0.00", "GST of 0.4 cent, rounded on the line")
        for move, sign in ((invoice, 1), (credit_note, -1)):
            mine = [r for r in rows if r["*InvoiceNumber"] == move.name]
            self.assertEqual(len(mine), len(move.invoice_line_ids))
            total = Decimal(mine[0]["Total"])
            self.assertEqual(total, sign * Decimal(str(move.amount_total)))
            added = sum(
                (Decimal(r["*Quantity"]) * Decimal(r["*UnitAmount"])).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
                + Decimal(r["TaxAmount"])
                for r in mine
            )
            self.assertEqual(added, total, move.name)

    def test_xero_csv_split_in_files_of_500_invoices(self):
        self.run_billing(NOV)
        wizard = self.env["rebilling.export.wizard"].create({"month": NOV})
        moves = wizard._get_moves()
        self.assertEqual(len(wizard._xero_csv_files(moves)), 1)
        files = wizard._xero_csv_files(moves, per_file=1)
        self.assertEqual(len(files), 2)
        zipped = self._download(wizard.with_context(rebilling_xero_per_file=1).action_export())
        self.assertTrue(zipped.name.endswith(".zip"))
        with zipfile.ZipFile(io.BytesIO(zipped.raw)) as zf:
            self.assertEqual(len(zf.namelist()), 2)

    def test_formula_injection_is_neutralised_in_csv_and_xlsx(self):
        evil = '=HYPERLINK("http://evil.example.com","Click")'
        self.customer_a.name = evil
        self.customer_a.city = "+61 trick"
        self.service_a.name = "@SUM(1+1)"
        self.run_billing(NOV)
        wizard = self.env["rebilling.export.wizard"].create({"month": NOV})
        rows = list(
            csv.DictReader(io.StringIO(wizard._xero_csv_files(wizard._get_moves())[0].decode()))
        )
        mine = [r for r in rows if "HYPERLINK" in r["*ContactName"]]
        self.assertTrue(mine)
        for row in mine:
            self.assertEqual(row["*ContactName"], "'" + evil)
            self.assertEqual(row["POCity"], "'+61 trick")
            self.assertTrue(row["*Description"].startswith("'@SUM"))
        for row in rows:
            for value in row.values():
                self.assertFalse(value.startswith(("=", "+", "@")), value)
        wizard.export_type = "xlsx"
        attachment = self._download(wizard.action_export())
        book = openpyxl.load_workbook(io.BytesIO(attachment.raw))
        cells = [c for row in book.active.iter_rows() for c in row if c.value is not None]
        self.assertFalse([c for c in cells if c.data_type == "f"], "no formula cell")
        names = [c.value for c in cells if "HYPERLINK" in str(c.value)]
        self.assertEqual(names, ["'" + evil])

    def test_summary_xlsx(self):
        self.run_billing(NOV)
        wizard = self.env["rebilling.export.wizard"].create({"month": NOV, "export_type": "xlsx"})
        attachment = self._download(wizard.action_export())
        sheet = openpyxl.load_workbook(io.BytesIO(attachment.raw)).active
        rows = list(sheet.iter_rows(values_only=True))
        self.assertEqual(rows[0][0], "Invoice")
        self.assertEqual(len(rows), 4)  # header, 2 invoices, total
        total = sum(
            self.env["account.move"].search([("rebilling_period", "=", NOV)]).mapped("amount_total")
        )
        self.assertAlmostEqual(rows[-1][6], total)

    def test_download_pdfs_of_several_invoices_as_zip(self):
        self.run_billing(NOV)
        invoices = self.env["account.move"].search([("rebilling_period", "=", NOV)])
        attachment = self._download(invoices.action_rebilling_download_pdf())
        with zipfile.ZipFile(io.BytesIO(attachment.raw)) as zf:
            names = zf.namelist()
            self.assertEqual(len(names), 2)
            self.assertTrue(zf.read(names[0]), "each invoice has its document")


@tagged("post_install", "-at_install")
class TestHonestSendStates(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.rebilling_notification_email = "ops@southerncross.example.com"
        cls.customer_mute = cls.env["res.partner"].create(
            {"name": "Silent Cafe", "is_company": True, "rebilling_enabled": True}
        )
        cls.env["rebilling.service"].create(
            {
                "partner_id": cls.customer_mute.id,
                "product_id": cls.product_nbn.id,
                "date_start": date(2026, 1, 1),
            }
        )

    def notifications_to_ops(self):
        return self.env["mail.notification"].search(
            [("res_partner_id.email", "=", "ops@southerncross.example.com")]
        )

    def test_no_email_address_fails_and_the_run_warns(self):
        self.company.rebilling_auto_invoice = True
        run = self.run_billing(NOV)
        invoice = self.invoices_of(self.customer_mute)
        self.assertEqual(invoice.rebilling_send_state, "failed")
        self.assertEqual(invoice.rebilling_send_error, "no email address")
        self.assertFalse(invoice.sending_data)
        warning = run.message_ids.filtered(lambda m: "Silent Cafe" in (m.body or ""))
        self.assertTrue(warning, "the run's chatter names the customer without address")
        self.assertIn("no email address", str(warning[0].body))
        run_send_cron(self.env)
        self.assertEqual(invoice.rebilling_send_state, "failed")
        self.assertFalse(sent_mails(self.env, invoice))
        # The notification email gets the run's summary with the counts and the warning.
        finished = self.notifications_to_ops().mail_message_id.filtered(
            lambda m: m.model == "rebilling.billing.run" and m.res_id == run.id
        )
        self.assertEqual(len(finished), 1)
        self.assertIn("3 invoices, 0 errors", str(finished.body))
        self.assertIn("Silent Cafe", str(finished.body))
        # Sending it again by hand still fails with the reason.
        result = invoice.action_rebilling_send()
        self.assertEqual(result["params"]["type"], "warning")
        self.assertIn("no email address", result["params"]["message"])

    def test_without_auto_invoice_the_run_warns_before_sending(self):
        run = self.run_billing(NOV)
        self.assertTrue(run.message_ids.filtered(lambda m: "Silent Cafe" in (m.body or "")))
        self.assertEqual(self.invoices_of(self.customer_mute).rebilling_send_state, "pending")

    def test_sent_only_when_the_mail_server_accepts(self):
        self.company.rebilling_auto_invoice = True
        self.run_billing(NOV)
        a, b = self.invoices_of(self.customer_a), self.invoices_of(self.customer_b)
        with FakeSMTP(reject=["invoices@harbour.example.com"]) as smtp:
            run_send_cron(self.env, smtp=smtp)
        self.assertEqual(b.rebilling_send_state, "sent")
        self.assertEqual(a.rebilling_send_state, "failed")
        # The refusal as finance staff read it: who, and the server's answer, one line.
        self.assertEqual(
            a.rebilling_send_error,
            "Refused by the mail server: invoices@harbour.example.com: 550 5.1.1 "
            "<invoices@harbour.example.com>: mailbox unavailable",
        )
        self.assertEqual(
            [rcpts for _sender, rcpts, _msg in smtp.messages if "hello@bondi.example.com" in rcpts],
            [["hello@bondi.example.com"]],
        )
        # White label: the email shows the company logo, which is the reseller's logo
        # (Odoo's "Your logo" placeholder was replaced when the logo was configured).
        email = next(msg for _s, rcpts, msg in smtp.messages if "hello@bondi.example.com" in rcpts)
        html = next(
            part.get_payload(decode=True).decode()
            for part in email.walk()
            if part.get_content_type() == "text/html"
        )
        self.assertIn("Southern Cross Communications", html)
        self.assertIn("Phone: 02 9000 1234", html)
        self.assertIn(f"ABN: {VALID_ABN}", html)
        self.assertNotIn("Powered by", html, "white label: no Odoo promotion in the email")
        self.assertNotIn("odoo.com", html)
        self.assertFalse(self.company.uses_default_logo)
        # The notification email is told about the failure.
        failure = self.notifications_to_ops().mail_message_id.filtered(
            lambda m: m.model == "account.move" and m.res_id == a.id
        )
        self.assertEqual(len(failure), 1)
        self.assertIn("mailbox unavailable", str(failure.body))
        # A sent invoice cannot be cancelled; it stays sent (and on the portal).
        with self.assertRaisesRegex(UserError, "already sent"):
            b.action_rebilling_cancel_send()
        self.assertEqual(b.rebilling_send_state, "sent")
        # A bounce afterwards turns it Failed and notifies again.
        b._message_receive_bounce("hello@bondi.example.com", self.customer_b)
        self.assertEqual(b.rebilling_send_state, "failed")
        self.assertTrue(
            self.notifications_to_ops().mail_message_id.filtered(
                lambda m: m.model == "account.move" and m.res_id == b.id
            )
        )

    def test_email_summary_lists_this_companys_rebilling_emails(self):
        self.company.rebilling_auto_invoice = True
        run = self.run_billing(NOV)
        run_send_cron(self.env)
        other_invoice = self.env["account.move"].create(
            {"move_type": "out_invoice", "partner_id": self.customer_a.id}
        )
        other_invoice.message_post(
            body="not rebilling", partner_ids=self.customer_a.ids, message_type="comment"
        )
        action = self.env.ref("rebilling_base.action_open_email_summary").run()
        shown = self.env["mail.notification"].search(action["domain"])
        invoices = self.invoices_of(self.customer_a) | self.invoices_of(self.customer_b)
        self.assertEqual(
            set(
                shown.mail_message_id.filtered(lambda m: m.model == "account.move").mapped("res_id")
            ),
            set(invoices.ids),
        )
        self.assertIn(
            run.id,
            shown.mail_message_id.filtered(lambda m: m.model == "rebilling.billing.run").mapped(
                "res_id"
            ),
        )
        other = self.env["res.company"].create({"name": "Other Reseller"})
        self.env.user.company_ids |= other
        action = self.env.ref("rebilling_base.action_open_email_summary").with_company(other).run()
        if action.get("res_model") == "mail.notification":
            self.assertFalse(self.env["mail.notification"].search(action["domain"]))
