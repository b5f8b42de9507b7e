import time
from collections import Counter
from datetime import date

from freezegun import freeze_time

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user
from odoo.tools import date_utils

from .common import NOV, ConnectwiseCase

DEC = date(2026, 12, 1)
JAN = date(2027, 1, 1)


class TestConnectwiseConfig(ConnectwiseCase):
    def test_connect_discovers_the_codebase(self):
        backend = self.configure()
        self.assertEqual(backend.name, "ConnectWise")
        action = backend.action_connectwise_connect()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("integrated", action["params"]["message"])
        self.assertEqual(backend.state, "connected")
        self.assertEqual(backend.connectwise_codebase, "v2025_1/")
        self.assertEqual(backend.api_url, self.cw.api_url)
        call = self.cw.requests_matching("GET", "system/info")[-1]
        self.assertEqual(call.headers["Authorization"], self.cw.auth_header())
        self.assertEqual(call.headers["clientId"], self.cw.client_id)
        backend.action_test_connection()

    def test_wrong_keys(self):
        backend = self.configure(connectwise_private_key="wrong-private")
        action = backend.action_connectwise_connect()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn("ConnectWise refused the connection", action["params"]["message"])
        self.assertNotIn("wrong-private", action["params"]["message"])
        self.assertEqual(backend.state, "error")
        with self.assertRaisesRegex(UserError, "Invalid or missing credentials"):
            backend.action_test_connection()

    def test_wrong_company_and_client_id(self):
        backend = self.configure(connectwise_company_id="otherco")
        action = backend.action_connectwise_connect()
        self.assertIn("otherco was not found", action["params"]["message"])
        backend.active = False  # one active backend per company and system
        backend = self.configure(client_id="not-the-client")
        action = backend.action_connectwise_connect()
        self.assertEqual(action["params"]["type"], "danger")

    def test_keys_hidden_from_non_admins(self):
        backend = self.connect()
        user = new_test_user(
            self.env, login="cw_user", groups="rebilling_base.group_rebilling_manager"
        )
        for name in ("connectwise_public_key", "connectwise_private_key"):
            with self.assertRaises(AccessError):
                backend.with_user(user).read([name])


class TestConnectwisePullAndPush(ConnectwiseCase):
    def setUp(self):
        super().setUp()
        self.connect()

    def test_pull_paging_and_mapping(self):
        for n in range(1003):
            self.cw.add_company(f"F{n:04d}", f"Filler {n:04d}")
        self.seed()
        companies = self.env["rebilling.external.record"].search(
            [("backend_id", "=", self.backend.id), ("kind", "=", "company")]
        )
        self.assertEqual(len(companies), 1005)
        pages = self.cw.requests_matching("GET", r"/company/companies$")
        self.assertEqual(len(pages), 2, "followed the Link rel=next")
        agreement = self.record("agreement", self.cw_agreement_a["id"])
        self.assertEqual(agreement.parent_id, self.record("company", self.cw_harbour["id"]))
        self.assertEqual(self.record("product", self.cw_product["id"]).identifier, "NBN100")
        harbour = self.record("company", self.cw_harbour["id"])
        self.assertEqual(self.customer_a.rebilling_connectwise_suggested_id, harbour)
        self.customer_a.action_connectwise_confirm_company()
        self.assertEqual(self.customer_a.rebilling_connectwise_company_id, harbour)

    def test_create_catalog_product_from_the_service_form(self):
        self.seed()
        action = self.service_a.action_connectwise_create_product()
        form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        self.assertEqual(form.identifier, "NBN100")
        form.identifier = "NBN100-WS"
        form.description = "NBN 100/40 wholesale"
        form.customer_description = "Business NBN 100/40"
        form.save().action_create()
        product = self.service_a.connectwise_product_id
        remote = [p for p in self.cw.products() if p["id"] == product.external_id][0]
        self.assertEqual(remote["identifier"], "NBN100-WS")
        # Chosen among the subcategories and types pulled from ConnectWise, not typed ids.
        self.assertEqual(remote["subcategory"], {"id": self.cw_subcategory["id"]})
        self.assertEqual(remote["type"], {"id": self.cw_type["id"]})
        self.assertEqual(remote["customerDescription"], "Business NBN 100/40")
        # A duplicate identifier is refused plainly.
        form = Form(self.env[action["res_model"]].with_context(**action["context"]))
        form.identifier = "NBN100-WS"
        with self.assertRaisesRegex(UserError, "already in use"):
            form.save().action_create()

    def bill(self, auto_push=True):
        self.backend.auto_push = auto_push
        self.run_billing(NOV)
        self.backend.auto_push = True
        self.invoice_a = self.invoices_of(self.customer_a, NOV)
        self.invoice_b = self.invoices_of(self.customer_b, NOV)

    def binding(self, line):
        return self.env["rebilling.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", "account.move.line"),
                ("res_id", "=", line.id),
            ]
        )

    def test_invoice_lines_become_additions_once(self):
        self.seed()
        self.link_services()
        self.bill()
        additions = self.cw.additions(self.cw_agreement_a["id"])
        self.assertEqual(len(additions), 1)
        line = self.invoice_a.invoice_line_ids
        addition = additions[0]
        self.assertEqual(addition["product"]["id"], self.cw_product["id"])
        self.assertEqual(addition["quantity"], line.quantity)
        self.assertEqual(addition["unitPrice"], line.price_unit)
        self.assertEqual(addition["billCustomer"], "Billable")
        self.assertEqual(addition["effectiveDate"], "2026-11-01T00:00:00Z")
        self.assertEqual(addition["invoiceDescription"], line.name)
        self.assertEqual(len(self.cw.additions(self.cw_agreement_b["id"])), 1)
        posts = self.cw.request_count("POST", "additions$")
        self.invoice_a.action_rebilling_connectwise_push()
        self.assertEqual(self.cw.request_count("POST", "additions$"), posts)
        # Correction: back to draft, change the line, post again: a JSON-Patch.
        self.invoice_a.button_draft()
        with Form(self.invoice_a) as form, form.invoice_line_ids.edit(0) as line_form:
            line_form.quantity = 2
        with trap_jobs() as trap:
            self.invoice_a.action_post()
            trap.assert_jobs_count(1)
            trap.perform_enqueued_jobs()
        additions = self.cw.additions(self.cw_agreement_a["id"])
        self.assertEqual(len(additions), 1, "patched, never duplicated")
        self.assertEqual(additions[0]["quantity"], 2)
        patch = self.cw.requests_matching("PATCH", r"additions/\d+$")[-1].json
        self.assertIsInstance(patch, list)
        self.assertIn({"op": "replace", "path": "quantity", "value": 2.0}, patch)

    def test_faults_create_once(self):
        self.seed()
        self.link_services()
        self.bill(auto_push=False)
        self.assertFalse(self.cw.additions())
        self.cw.fail_next(2, 500, path="additions$", method="POST")
        self.invoice_a.action_rebilling_connectwise_push()
        self.assertEqual(len(self.cw.additions()), 1)
        self.cw.fail_next(1, 429, retry_after=0.1, path="additions$", method="POST")
        self.invoice_b.action_rebilling_connectwise_push()
        self.assertEqual(len(self.cw.additions()), 2)
        # A timeout: the server creates it late; the next push finds it.
        self.cw.additions()
        self.env["rebilling.binding"].search([("backend_id", "=", self.backend.id)]).unlink()
        with self.cw._state_lock:
            self.cw._data["additions"].clear()
        self.cw.timeout_next(1, seconds=1.0, path="additions$", method="POST")
        action = self.invoice_a.action_rebilling_connectwise_push()
        self.assertEqual(action["params"]["type"], "warning")
        deadline = time.monotonic() + 5
        while not self.cw.additions() and time.monotonic() < deadline:
            time.sleep(0.05)
        posts = self.cw.request_count("POST", "additions$")
        self.invoice_a.action_rebilling_connectwise_push()
        self.assertEqual(self.cw.request_count("POST", "additions$"), posts)
        self.assertEqual(len(self.cw.additions()), 1)
        line = self.invoice_a.invoice_line_ids
        self.assertEqual(self.binding(line).external_id, str(self.cw.additions()[0]["id"]))
        logs = self.env["rebilling.sync.log"].search([("backend_id", "=", self.backend.id)])
        self.assertIn("error", logs.mapped("state"))
        self.assertIn("done", logs.mapped("state"))

    def test_worker_death_after_the_answer_never_duplicates(self):
        self.seed()
        self.link_services()
        self.bill(auto_push=False)
        line = self.invoice_a.invoice_line_ids
        with self.worker_dies_after("POST", "additions$"):
            self.invoice_a.action_rebilling_connectwise_push()
        self.assertEqual(len(self.cw.additions()), 1)
        self.assertEqual(self.binding(line).sync_state, "sending")
        self.invoice_a.action_rebilling_connectwise_push()
        self.assertEqual(len(self.cw.additions()), 1, "found by its marker, not created again")
        self.assertEqual(self.cw.request_count("POST", "additions$"), 1)
        self.assertEqual(self.binding(line).external_id, str(self.cw.additions()[0]["id"]))
        self.assertEqual(self.binding(line).sync_state, "done")

    def add_addition(self, description):
        return self.cw.add_addition(
            self.cw_agreement_a["id"],
            product={"id": self.cw_product["id"]},
            billCustomer="Billable",
            description=description,
        )

    def test_lost_create_finds_only_its_own_marker(self):
        """``contains`` is a SQL Server LIKE: the marker has no wildcard, so the lookup
        after a lost answer matches its own addition only."""
        self.seed()
        self.link_services()
        self.bill(auto_push=False)
        line = self.invoice_a.invoice_line_ids
        marker = self.backend._psa_marker(line)
        # Earlier additions: one with letters of the marker, one of a line id 10 times more.
        decoys = [self.add_addition("Handset rental"), self.add_addition(f"NBN ({marker}0)")]
        with self.worker_dies_after("POST", "additions$"):
            self.invoice_a.action_rebilling_connectwise_push()
        self.invoice_a.action_rebilling_connectwise_push()
        self.assertEqual(self.cw.request_count("POST", "additions$"), 1)
        (own,) = [a for a in self.cw.additions() if a["id"] not in {d["id"] for d in decoys}]
        self.assertTrue(own["description"].endswith(f" ({marker})"))
        self.assertEqual(self.binding(line).external_id, str(own["id"]))
        self.assertEqual(self.binding(line).sync_state, "done")
        self.assertEqual(
            [a["description"] for a in self.cw.additions() if a["id"] != own["id"]],
            ["Handset rental", f"NBN ({marker}0)"],
            "the other additions are left alone",
        )

    def test_lost_create_with_the_old_marker_is_found(self):
        """An addition pushed with the old ``[marker]`` before its answer was lost is
        found (escaped: ``[[]``), not created again, and gets the new marker."""
        self.seed()
        self.link_services()
        self.bill(auto_push=False)
        line = self.invoice_a.invoice_line_ids
        marker = self.backend._psa_marker(line)
        self.add_addition(f"NBN [{marker}0]")
        old = self.add_addition(f"{line.name} [{marker}]")
        self.env["rebilling.binding"]._rebilling_write_durable(
            self.backend, line, {"sync_state": "sending", "sync_marker": marker}
        )
        self.invoice_a.action_rebilling_connectwise_push()
        self.assertFalse(self.cw.request_count("POST", "additions$"))
        self.assertEqual(self.binding(line).external_id, str(old["id"]))
        (found,) = [a for a in self.cw.additions() if a["id"] == old["id"]]
        self.assertTrue(found["description"].endswith(f" ({marker})"))
        self.assertEqual(found["cancelledDate"], "2026-11-30T00:00:00Z")

    def test_credit_note_lost_answer_is_found(self):
        """A credit note's lines go as additions with a negative price, exactly once."""
        self.seed()
        self.link_services()
        self.bill(auto_push=False)
        self.backend.auto_push = False
        wizard = Form(
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=self.invoice_a.ids
            )
        )
        wizard.date = date(2026, 11, 20)
        with freeze_time("2026-11-20 09:00:00", tick=True):
            credit_note = self.env["account.move"].browse(wizard.save().refund_moves()["res_id"])
            credit_note.action_post()
        line = credit_note.invoice_line_ids
        with self.worker_dies_after("POST", "additions$"):
            credit_note.action_rebilling_connectwise_push()
        self.assertEqual(self.binding(line).sync_state, "sending")
        credit_note.action_rebilling_connectwise_push()
        self.assertEqual(self.cw.request_count("POST", "additions$"), 1)
        (addition,) = self.cw.additions()
        self.assertEqual((addition["quantity"], addition["unitPrice"]), (1.0, -99.0))
        self.assertEqual(addition["cancelledDate"], "2026-11-30T00:00:00Z")
        self.assertEqual(self.binding(line).external_id, str(addition["id"]))

    def test_charge_agreement_and_mapping(self):
        """A once-off charge goes to its own agreement; never to another customer's."""
        self.seed()
        self.link_services()
        projects = self.cw.add_agreement("Harbour projects", self.cw_harbour["id"])
        self.backend.action_connectwise_pull()
        with Form(self.env["rebilling.charge"]) as form:
            form.name = "Handset"
            form.charge_type = "once"
            form.partner_id = self.customer_a
            form.service_id = self.service_a
            form.product_id = self.product_fee
            form.price_unit = 120.0
            form.date_start = NOV
            self.assertEqual(
                form.connectwise_agreement_id, self.record("agreement", self.cw_agreement_a["id"])
            )
            form.connectwise_agreement_id = self.record("agreement", projects["id"])
        # Bondi's service pointed at Harbour's agreement: refused at push.
        self.service_b.connectwise_agreement_id = self.record(
            "agreement", self.cw_agreement_a["id"]
        )
        self.bill()
        (handset,) = self.cw.additions(projects["id"])
        self.assertEqual(handset["unitPrice"], 120.0)
        self.assertEqual(len(self.cw.additions(self.cw_agreement_a["id"])), 1, "Harbour's only")
        line_b = self.invoice_b.invoice_line_ids
        self.assertIn(
            "belongs to Harbour Dental, not to Bondi Surf", self.binding(line_b).sync_error
        )

    def test_unlinked_services_are_not_pushed(self):
        self.seed()
        self.bill()
        self.assertFalse(self.cw.additions())
        with self.assertRaisesRegex(UserError, "no line for ConnectWise"):
            self.invoice_a.action_rebilling_connectwise_push()


class TestConnectwiseAgreementBilling(ConnectwiseCase):
    """What ConnectWise bills on its agreement cycles equals what Odoo billed."""

    def setUp(self):
        super().setUp()
        self.connect()
        self.seed()
        self.link_services()

    def month_moves(self, month):
        """The posted invoices and credit notes of the customers dated in ``month``."""
        return self.env["account.move"].search(
            [
                ("partner_id", "in", (self.customer_a | self.customer_b).ids),
                ("move_type", "in", ("out_invoice", "out_refund")),
                ("state", "=", "posted"),
                ("invoice_date", ">=", month),
                ("invoice_date", "<=", date_utils.end_of(month, "month")),
            ]
        )

    def credit_invoice(self, invoice, day):
        """A credit note of the whole ``invoice`` dated ``day``, posted (pushed by its jobs)."""
        wizard = Form(
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=invoice.ids
            )
        )
        wizard.reason = "Service never delivered"
        wizard.date = day
        action = wizard.save().refund_moves()
        credit_note = self.env["account.move"].browse(action["res_id"])
        with trap_jobs() as trap:
            credit_note.action_post()
            trap.perform_enqueued_jobs()
        return credit_note

    def test_three_months_bill_each_line_once(self):
        with Form(self.env["rebilling.charge"]) as form:
            form.name = "Cabling"
            form.charge_type = "once"
            form.partner_id = self.customer_a
            form.service_id = self.service_a
            form.product_id = self.product_fee
            form.quantity = 2.5
            form.price_unit = 10.33
            form.date_start = NOV
        for month in (NOV, DEC, JAN):
            with freeze_time(f"{month} 02:00:00", tick=True):
                self.run_billing(month)
            if month == DEC:
                nov_b = self.invoices_of(self.customer_b, NOV)
                with freeze_time("2026-12-10 09:00:00", tick=True):
                    credit_note = self.credit_invoice(nov_b, date(2026, 12, 10))
            self.cw.run_billing_cycle(month)
            odoo = sum(self.month_moves(month).mapped("amount_untaxed_signed"))
            self.assertEqual(
                self.cw.billed_total(month), round(odoo, 2), f"billed in {month:%B %Y}"
            )
        self.assertEqual(self.cw.billed_total(NOV), 224.83)  # 99 + 4 x 25 + 25.83
        self.assertEqual(self.cw.billed_total(DEC), 99.0)  # 99 + 4 x 25 - 4 x 25
        self.assertEqual(self.cw.billed_total(JAN), 199.0)
        billed = Counter(
            line["additionId"]
            for invoice in self.cw.agreement_invoices()
            for line in invoice["lines"]
        )
        self.assertEqual(len(billed), len(self.cw.additions()), "every addition billed")
        self.assertEqual(set(billed.values()), {1}, "each addition billed once")
        (credit,) = [
            a
            for a in self.cw.additions()
            if a["description"].endswith(f":{credit_note.invoice_line_ids.id})")
        ]
        self.assertEqual((credit["quantity"], credit["unitPrice"]), (4.0, -25.0))
        self.assertEqual(credit["effectiveDate"], "2026-12-01T00:00:00Z")
        self.assertEqual(credit["cancelledDate"], "2026-12-31T00:00:00Z")
        # The cabling (2.5 x 10.33 = 25.825, 25.83 in Odoo) is one unit at its subtotal.
        (cabling,) = [
            a for a in self.cw.additions() if a["invoiceDescription"].startswith("Cabling")
        ]
        self.assertEqual((cabling["quantity"], cabling["unitPrice"]), (1.0, 25.83))
        logs = self.env["rebilling.sync.log"].search([("backend_id", "=", self.backend.id)])
        self.assertIn(credit_note.invoice_line_ids.id, logs.mapped("res_id"))
