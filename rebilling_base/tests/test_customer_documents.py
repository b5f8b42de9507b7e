"""What the customer and finance staff see, through HTTP: adjustment notes, white label
before login, the portal in the contact's language, Pay Now, credit notes in the lists."""

import base64
import io
import json
import re
from datetime import date

from PIL import Image

from odoo import Command
from odoo.tests import Form, HttpCase, tagged

from .common import VALID_ABN, RebillingCase, png_bytes
from .common_pdf import PdfAssertions, ReportAssetMirror

NOV = date(2026, 11, 1)
FORCE_PDF = json.dumps({"force_report_rendering": True})


def page_title(html):
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    return match[1].strip() if match else None


@tagged("post_install", "-at_install")
class TestCustomerDocuments(PdfAssertions, RebillingCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("en_AU")
        cls.customer_a.lang = "en_AU"
        cls.company.l10n_au_is_gst_registered = True
        run = cls.env["rebilling.billing.run"]._get_or_create(cls.company, NOV)
        run.with_context(queue_job__no_delay=True).action_start()
        cls.invoice = cls.env["account.move"].search(
            [("partner_id", "=", cls.customer_a.id), ("rebilling_period", "=", NOV)]
        )
        cls.invoice.write({"is_move_sent": True, "rebilling_mail_accepted": True})
        wizard = Form(
            cls.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=cls.invoice.ids
            )
        )
        wizard.reason = "Duplicate billing"
        cls.credit_note = cls.env["account.move"].browse(wizard.save().refund_moves()["res_id"])
        cls.credit_note.action_post()
        cls.credit_note.write({"is_move_sent": True, "rebilling_mail_accepted": True})
        cls.contact = cls.env["res.partner"].create(
            {"name": "Harbour Accounts", "parent_id": cls.customer_a.id, "lang": "en_AU"}
        )
        cls.portal_user = cls.env["res.users"].create(
            {
                "name": "Harbour Accounts",
                "login": "harbour_accounts",
                "password": "harbour_accounts",
                "partner_id": cls.contact.id,
                "group_ids": [Command.set([cls.env.ref("base.group_portal").id])],
            }
        )

    def report_pdf(self, move):
        self.authenticate("admin", "admin")
        with ReportAssetMirror(self):
            response = self.url_open(
                f"/report/pdf/account.account_invoices/{move.id}?context={FORCE_PDF}", timeout=60
            )
        self.assertEqual(response.status_code, 200)
        return response.content

    # ------------------------------------------------------------ documents
    def test_credit_note_is_an_adjustment_note(self):
        self.assertEqual(self.credit_note.rebilling_adjustment_reason, "Duplicate billing")
        text = self.assertTextPdf(
            self.report_pdf(self.credit_note),
            f"Adjustment Note {self.credit_note.name}",
            "Adjustment Note Date",
            f"Adjusts invoice {self.invoice.name} of 01/11/2026",
            "Reason: Duplicate billing",
            "GST adjustment (decrease): $ 9.90",
            f"ABN: {VALID_ABN}",
            "$ 108.90",
        )
        for wrong in ("Payment terms", "Pay by EFT", "BSB", "Credit Note AAP", "Reversal of"):
            self.assertNotIn(wrong, text)
        summary = text.split("Summary", 1)[1].split("Description", 1)[0]
        self.assertIn("Services $ 99.00", summary, "credited by kind, as the invoice billed")
        self.assertNotIn("Adjustments", summary)

    def test_invoice_shows_no_internal_source(self):
        self.authenticate("harbour_accounts", "harbour_accounts")
        html = self.url_open(f"/my/invoices/{self.invoice.id}?report_type=html").text
        self.assertIn(self.invoice.name, html)
        self.assertIn("Pay by EFT quoting the invoice number.", html)
        self.assertNotIn("Billing run", html)
        self.assertNotIn("Source", html)

    # ------------------------------------------------------------ portal
    def second_reseller(self):
        """A reseller that is not the first company, with an invoice of its own."""
        other = self.env["res.company"].create(
            {
                "name": "Outback Telecom Pty Ltd",
                "country_id": self.env.ref("base.au").id,
                "currency_id": self.env.ref("base.AUD").id,
                "rebilling_company_name": "Outback Telecom",
                "rebilling_logo": base64.b64encode(png_bytes(80, 40, color=(200, 30, 30))),
            }
        )
        self.env["account.chart.template"].try_loading("au", company=other, install_demo=False)
        partner = self.env["res.partner"].create({"name": "Alice Springs Motel"})
        move = (
            self.env["account.move"]
            .with_company(other)
            .create(
                {
                    "move_type": "out_invoice",
                    "company_id": other.id,
                    "partner_id": partner.id,
                    "invoice_date": date(2026, 11, 1),
                    "invoice_line_ids": [Command.create({"name": "Service", "price_unit": 10})],
                }
            )
        )
        return other, move

    def assertBrand(self, html, company):
        self.assertIn(f"/web/binary/company_logo?company={company.id}", html)
        self.assertIn(company.rebilling_company_name, html)
        self.assertNotIn("Powered by", html)
        self.assertEqual(page_title(html), company.rebilling_company_name)

    def test_login_page_of_an_invoice_link_shows_its_reseller(self):
        other, move = self.second_reseller()
        self.assertNotEqual(other, self.env.ref("base.main_company"))
        link = move.get_portal_url()
        self.assertIn("access_token=", link)
        login = self.url_open(f"/web/login?redirect={link.replace('&', '%26').replace('?', '%3F')}")
        self.assertEqual(login.status_code, 200)
        self.assertBrand(login.text, other)
        logo = self.url_open(f"/web/binary/company_logo?company={other.id}").content
        image = Image.open(io.BytesIO(logo)).convert("RGB")
        self.assertEqual(image.getpixel((1, 1)), (200, 30, 30), "the reseller's logo")
        # A forged token tells nothing about the invoice's company.
        forged = self.url_open(f"/web/login?redirect=/my/invoices/{move.id}%3Faccess_token%3Dx")
        self.assertNotIn("Outback Telecom", forged.text)

    def test_password_reset_page_shows_the_configured_reseller(self):
        other, _move = self.second_reseller()
        self.env["ir.config_parameter"].sudo().set_param("rebilling.portal_company_id", other.id)
        for url in ("/web/reset_password", "/web/login"):
            with self.subTest(url=url):
                response = self.url_open(url)
                self.assertEqual(response.status_code, 200)
                self.assertBrand(response.text, other)

    def test_portal_tab_title_dates_and_amounts_in_the_contact_language(self):
        self.authenticate("harbour_accounts", "harbour_accounts")
        # The login page left a cookie of the language of its anonymous visit.
        self.opener.cookies.set("frontend_lang", "en_US", domain="127.0.0.1")
        page = self.url_open("/my/invoices").text
        self.assertEqual(page_title(page), "Southern Cross Communications")
        self.assertIn("01/11/2026", page, "en_AU: 1 November 2026")
        self.assertNotIn("11/01/2026", page)
        for url in ("/my", f"/my/invoices/{self.invoice.id}"):
            with self.subTest(url=url):
                self.assertNotEqual(page_title(self.url_open(url).text), "Odoo")

    def test_pay_now_only_with_a_payment_provider(self):
        self.env["ir.config_parameter"].sudo().set_param(
            "account_payment.enable_portal_payment", True
        )
        self.env["payment.provider"].sudo().search([]).write({"state": "disabled"})
        # The invoice is still to pay (not settled by the credit note).
        (self.invoice | self.credit_note).line_ids.remove_move_reconcile()
        self.authenticate("harbour_accounts", "harbour_accounts")
        url = f"/my/invoices/{self.invoice.id}"
        self.assertNotIn("Pay Now", self.url_open(url).text)
        self.env["payment.provider"].sudo().create(
            {"name": "Card", "state": "test", "company_id": self.company.id}
        )
        self.assertIn("Pay Now", self.url_open(url).text)

    # ------------------------------------------------------------ finance staff
    def test_credit_notes_read_as_credits_in_the_invoice_list(self):
        self.authenticate("admin", "admin")
        action = self.env.ref("rebilling_base.action_rebilling_invoices")
        list_view = self.env.ref("rebilling_base.view_move_list_rebilling")
        views = self.make_jsonrpc_request(
            "/web/dataset/call_kw/account.move/get_views",
            {
                "model": "account.move",
                "method": "get_views",
                "args": [[[list_view.id, "list"]]],
                "kwargs": {"options": {"action_id": action.id}},
            },
        )
        arch = views["views"]["list"]["arch"]
        names = re.findall(r'<field name="([^"]+)"', arch)
        specification = {
            name: {} for name in names if name in views["models"]["account.move"]["fields"]
        }
        records = self.make_jsonrpc_request(
            "/web/dataset/call_kw/account.move/web_search_read",
            {
                "model": "account.move",
                "method": "web_search_read",
                "args": [],
                "kwargs": {
                    "domain": [("id", "in", (self.invoice | self.credit_note).ids)],
                    "specification": specification,
                },
            },
        )["records"]
        rows = {row["id"]: row for row in records}
        credit, invoice = rows[self.credit_note.id], rows[self.invoice.id]
        total = next(n for n in names if n.startswith("amount_total"))
        self.assertEqual(invoice[total], 108.90)
        self.assertEqual(credit[total], -108.90, "a credit reads negative; the sum nets it")
        self.assertEqual(credit["move_type"], "out_refund")
        self.assertEqual(invoice["move_type"], "out_invoice")
