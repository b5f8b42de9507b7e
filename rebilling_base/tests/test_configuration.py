import base64
import json
from datetime import date

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import Form, HttpCase, new_test_user, tagged

from .common import VALID_ABN, RebillingCase, pdf_to_text, png_bytes

CONFIG_VIEW = "rebilling_base.res_company_rebilling_form"


@tagged("post_install", "-at_install")
class TestConfiguration(RebillingCase):
    def config_form(self):
        return Form(self.company, view=CONFIG_VIEW)

    def test_menus_open_the_configuration_until_complete(self):
        action = self.env.ref("rebilling_base.action_open_summary")
        self.company.rebilling_bsb = False
        self.company.rebilling_phone = False
        result = action.run()
        self.assertEqual(result["res_model"], "res.company")
        self.assertEqual(result["res_id"], self.company.id)
        self.assertIn("BSB", self.company.rebilling_config_missing)
        self.assertIn("Invoice Company Phone", self.company.rebilling_config_missing)
        with self.config_form() as form:
            form.rebilling_bsb = "062-000"
            form.rebilling_phone = "02 9000 1234"
        self.assertTrue(self.company.rebilling_configured)
        result = action.run()
        self.assertEqual(result["res_model"], "account.move")

    def test_rebilling_manager_configures_without_being_admin(self):
        manager = self.env["res.users"].create(
            {
                "name": "Reseller admin",
                "login": "reseller_admin",
                "group_ids": [(6, 0, [self.env.ref("rebilling_base.group_rebilling_manager").id])],
            }
        )
        self.assertFalse(manager.has_group("base.group_erp_manager"))
        company = self.company.with_user(manager)
        with Form(company, view=CONFIG_VIEW) as form:
            form.rebilling_payment_term_days = 30
        self.assertEqual(self.company.rebilling_payment_term_days, 30)
        user = manager.copy(
            {
                "login": "backoffice",
                "group_ids": [(6, 0, [self.env.ref("rebilling_base.group_rebilling_user").id])],
            }
        )
        with self.assertRaises(AccessError):
            self.company.with_user(user).write({"rebilling_payment_term_days": 7})

    def test_rebilling_manager_writes_only_the_rebilling_configuration(self):
        manager = new_test_user(
            self.env, login="reseller_cfg", groups="rebilling_base.group_rebilling_manager"
        )
        company = self.company.with_user(manager)
        for vals in (
            {"fiscalyear_lock_date": date(2030, 1, 1)},
            {"hard_lock_date": date(2030, 1, 1)},
            {"name": "Renamed"},
            {"rebilling_phone": "02 9000 0000", "email": "x@example.com"},
            {"rebilling_sender_confirmed": True},
        ):
            with self.assertRaises(AccessError, msg=vals):
                company.write(vals)
        # Nor the company's files (logo...): no write access on res.company at all.
        with self.assertRaises(AccessError):
            self.env["ir.attachment"].with_user(manager).create(
                {"name": "logo.png", "res_model": "res.company", "res_id": self.company.id}
            )
        # Not the configuration of a company the manager does not belong to.
        other = self.env["res.company"].create({"name": "Other reseller"})
        with self.assertRaises(AccessError):
            other.with_user(manager).write({"rebilling_phone": "02 9000 0000"})
        # The configuration form works (editable in the web client too): rebilling
        # fields, and the new sender address needs the confirmation link again.
        arch = company.get_views([(self.env.ref(CONFIG_VIEW).id, "form")])["views"]["form"]
        self.assertNotIn('edit="False"', arch["arch"])
        with Form(company, view=CONFIG_VIEW) as form:
            form.rebilling_phone = "02 9000 5555"
            form.rebilling_tz = "Australia/Perth"
            form.rebilling_sender_email = "billing@example.com"
        self.assertEqual(self.company.rebilling_phone, "02 9000 5555")
        self.assertEqual(self.company.rebilling_tz, "Australia/Perth")
        self.assertFalse(self.company.rebilling_sender_confirmed)
        token = self.company.sudo().rebilling_sender_token
        self.assertEqual(self.env["res.company"]._rebilling_confirm_sender(token), self.company)
        self.assertTrue(self.company.rebilling_sender_confirmed)

    def test_abn_checksum(self):
        with self.assertRaisesRegex(ValidationError, "ABN"):
            with self.config_form() as form:
                form.rebilling_abn = "51 824 753 557"
        with self.config_form() as form:
            form.rebilling_abn = VALID_ABN
        self.assertEqual(self.company.partner_id.vat, VALID_ABN)

    def test_bsb_six_digits_printed_with_dash(self):
        for bad in ("06200", "0620001", "ABC-DEF"):
            with self.assertRaisesRegex(ValidationError, "BSB"):
                with self.config_form() as form:
                    form.rebilling_bsb = bad
        with self.config_form() as form:
            form.rebilling_bsb = "062000"
        self.assertEqual(self.company._rebilling_bsb_display(), "062-000")

    def test_logo_format_and_size(self):
        bmp = base64.b64encode(png_bytes(fmt="BMP"))
        with self.assertRaisesRegex(ValidationError, "only JPG, GIF and PNG"):
            self.company.rebilling_logo = bmp
        too_big = base64.b64encode(png_bytes(300, 100))
        with self.assertRaisesRegex(ValidationError, "300x100"):
            self.company.rebilling_logo = too_big
        with self.assertRaisesRegex(ValidationError, "not an image"):
            self.company.rebilling_logo = base64.b64encode(b"not an image at all")
        for fmt in ("PNG", "JPEG", "GIF"):
            self.company.rebilling_logo = base64.b64encode(png_bytes(200, 128, fmt=fmt))

    def test_prefix_numbering(self):
        n = self.company.rebilling_sequence_id.number_next_actual
        self.assertEqual(
            self.company._rebilling_next_numbers(2, date(2026, 11, 1)),
            [f"AAP-{n:05d}", f"AAP-{n + 1:05d}"],
        )
        self.run_billing(date(2026, 11, 1))
        names = sorted(
            self.env["account.move"].search([("rebilling_period", "!=", False)]).mapped("name")
        )
        self.assertEqual(names, [f"AAP-{n + 2:05d}", f"AAP-{n + 3:05d}"])

    def test_pattern_numbering(self):
        with self.config_form() as form:
            form.rebilling_number_pattern = "%num%/%year%"
            form.rebilling_invoice_start = 100001
        self.run_billing(date(2026, 11, 1))
        moves = self.env["account.move"].search([("rebilling_period", "!=", False)])
        self.assertEqual(sorted(moves.mapped("name")), ["100001/2026", "100002/2026"])
        self.assertEqual(set(moves.mapped("state")), {"posted"})
        with self.assertRaisesRegex(ValidationError, "%num%"):
            with self.config_form() as form:
                form.rebilling_number_pattern = "INV-%year%"

    def test_starting_number(self):
        with self.config_form() as form:
            form.rebilling_invoice_prefix = "SCC-"
            form.rebilling_invoice_start = 500
        self.assertEqual(self.company._rebilling_next_numbers(1, date(2026, 11, 1)), ["SCC-00500"])

    def test_preview_invoice_is_the_real_document_and_creates_no_record(self):
        self.company.l10n_au_is_gst_registered = True
        moves_before = self.env["account.move"].search_count([])
        partners_before = self.env["res.partner"].search_count([])
        company = self.company.with_context(force_report_rendering=True)
        action = company.action_rebilling_preview()
        self.assertEqual(action["type"], "ir.actions.act_url")
        attachment_id = int(action["url"].split("/web/content/")[1].split("?")[0])
        preview = self.env["ir.attachment"].browse(attachment_id).raw
        self.assertTrue(preview.startswith(b"%PDF"))
        self.assertEqual(self.env["account.move"].search_count([]), moves_before)
        self.assertEqual(self.env["res.partner"].search_count([]), partners_before)
        text = pdf_to_text(preview)
        self.assertRegex(self.company._rebilling_preview_number(), r"^AAP-\d{5}$")
        for expected in (
            "Tax Invoice",
            self.company._rebilling_preview_number(),
            "Sample Customer Pty Ltd",
            "Southern Cross Communications",
            f"ABN: {VALID_ABN}",
            "062-000",
            "Pay by EFT",
            "Business NBN 100/40",
            # 99.00 + 5 x 25.00 + 10.00 + 42.50 = 276.50, GST 27.65, total 304.15
            "276.50",
            "27.65",
            "304.15",
        ):
            self.assertIn(expected, text)
        # Same layout as a real invoice: the same blocks in the same order.
        self.run_billing(date(2026, 11, 1))
        invoice = self.invoices_of(self.customer_a)
        real, _kind = (
            self.env["ir.actions.report"]
            .with_context(force_report_rendering=True)
            ._render_qweb_pdf("account.account_invoices", invoice.ids)
        )
        blocks = ["Tax Invoice", "Period:", "Summary", "Untaxed Amount", "Total", "Payment terms"]
        for name, doc in (("preview", text), ("invoice", pdf_to_text(real))):
            positions = [doc.find(block) for block in blocks]
            self.assertNotIn(-1, positions, name)
            self.assertEqual(positions, sorted(positions), name)
        # The same button at the top of the Summary.
        action = (
            self.env["account.move"]
            .with_context(force_report_rendering=True)
            .action_rebilling_preview()
        )
        self.assertEqual(action["type"], "ir.actions.act_url")

    def test_invoice_shows_white_label_details(self):
        self.run_billing(date(2026, 11, 1))
        invoice = self.invoices_of(self.customer_a)
        html = (
            self.env["ir.actions.report"]
            ._render_qweb_html("account.account_invoices", invoice.ids)[0]
            .decode()
        )
        for text in (
            "Southern Cross Communications",
            "02 9000 1234",
            VALID_ABN,
            "062-000",
            "12345678",
            "Pay by EFT quoting the invoice number.",
            "Payment terms: <span>14</span> days",
            "data:image/png;base64",
            "Services",
        ):
            self.assertIn(text, html)
        # White label: the reseller's header, not the company layout with its logo slot.
        self.assertIn("o_rebilling_layout_header", html)
        self.assertNotIn("o_company_logo_small", html)
        self.assertIn(self.company.rebilling_logo.decode()[:200], html)


class GateMixin:
    """A company whose configuration is incomplete, a manager and a clerk."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.rebilling_bsb = False
        cls.manager = new_test_user(
            cls.env,
            login="rita_manager",
            name="Rita Manager",
            groups="base.group_user,rebilling_base.group_rebilling_manager",
        )
        cls.clerk = new_test_user(
            cls.env,
            login="colin_clerk",
            password="colin_clerk",
            name="Colin Clerk",
            groups="base.group_user,rebilling_base.group_rebilling_user",
        )


@tagged("post_install", "-at_install")
class TestConfigurationGate(GateMixin, RebillingCase):
    def open_menu(self, menu, user):
        """What the web client does with a menu's action (server or window action)."""
        action = menu.action.with_user(user)
        if action._name == "ir.actions.server":
            return action.run()
        return action.sudo()._get_action_dict()

    def may_run(self, menu, user):
        """False for a server action of a group ``user`` lacks (Odoo refuses it anyway)."""
        groups = menu.action.group_ids if menu.action._name == "ir.actions.server" else None
        return not groups or bool(groups & user.all_group_ids)

    def test_every_rebilling_menu_is_gated(self):
        root = self.env.ref("rebilling_base.menu_rebilling_root")
        menus = self.env["ir.ui.menu"].search([("id", "child_of", root.id)])
        menus = menus.filtered(
            lambda m: (
                m.action
                and m.action != self.env.ref("rebilling_base.action_rebilling_configuration")
            )
        )
        self.assertGreater(len(menus), 8)
        clerk_menus = menus.with_user(self.clerk)._filter_visible_menus()
        self.assertIn(self.env.ref("rebilling_base.menu_rebilling_invoices"), clerk_menus)
        for menu in menus:
            if not self.may_run(menu, self.manager):
                continue
            with self.subTest(menu=menu.complete_name):
                result = self.open_menu(menu, self.manager)
                self.assertEqual(result["res_model"], "res.company", menu.complete_name)
        for menu in clerk_menus:
            if not self.may_run(menu, self.clerk):
                continue
            with self.subTest(menu=menu.complete_name):
                with self.assertRaisesRegex(UserError, "Rita Manager"):
                    self.open_menu(menu, self.clerk)
        # Configured: the menus open their pages.
        self.company.rebilling_bsb = "062-000"
        result = self.open_menu(self.env.ref("rebilling_base.menu_rebilling_invoices"), self.clerk)
        self.assertEqual(result["res_model"], "account.move")

    def test_customer_tab_is_gated(self):
        partner = self.customer_a.with_user(self.clerk)
        self.assertIn("Rita Manager", partner.rebilling_config_gate)
        self.assertIn("BSB", self.customer_a.with_user(self.manager).rebilling_config_gate)
        with self.assertRaisesRegex(UserError, "Rita Manager"):
            partner.action_rebilling_services()
        self.company.rebilling_bsb = "062-000"
        self.customer_a.invalidate_recordset(["rebilling_config_gate"])
        self.assertFalse(self.customer_a.with_user(self.clerk).rebilling_config_gate)


@tagged("post_install", "-at_install")
class TestConfigurationGateUrl(GateMixin, RebillingCase, HttpCase):
    def load(self, action):
        """What the web client posts for /odoo/action-<xmlid> (a direct URL)."""
        payload = {"jsonrpc": "2.0", "method": "call", "params": {"action_id": action}}
        return self.url_open(
            "/web/action/load",
            data=json.dumps(payload),
            headers={"Content-Type": "application/json"},
        ).json()

    def test_direct_url_of_a_rebilling_page_is_gated(self):
        self.authenticate("colin_clerk", "colin_clerk")
        answer = self.load("rebilling_base.action_rebilling_invoices")
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.UserError")
        self.assertIn("Rita Manager", answer["error"]["data"]["message"])
        self.authenticate("admin", "admin")
        answer = self.load("rebilling_base.action_rebilling_invoices")
        self.assertEqual(answer["result"]["res_model"], "res.company")
