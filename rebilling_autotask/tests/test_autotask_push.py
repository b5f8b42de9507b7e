from datetime import date
from unittest.mock import patch

from freezegun import freeze_time

from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.exceptions import UserError
from odoo.tests import Form

from .common import NOV, AutotaskCase


class TestAutotaskPush(AutotaskCase):
    def setUp(self):
        super().setUp()
        self.connect()
        self.seed()
        self.link_services()
        # A service that is not a VoIP utility: never pushed, even with a contract.
        self.service_other = self.env["rebilling.service"].create(
            {
                "partner_id": self.customer_a.id,
                "product_id": self.product_fee.id,
                "service_type": "other",
                "date_start": date(2026, 1, 1),
                "autotask_contract_id": self.record("contract", self.at_contract_a["id"]).id,
                "autotask_product_id": self.record("product", self.at_product["id"]).id,
            }
        )

    def bill(self):
        self.run_billing(NOV)
        self.invoice_a = self.invoices_of(self.customer_a, NOV)
        self.invoice_b = self.invoices_of(self.customer_b, NOV)
        self.assertEqual(len(self.invoice_a | self.invoice_b), 2)

    def line_of(self, invoice, service):
        return invoice.invoice_line_ids.filtered(lambda line: line.rebilling_service_id == service)

    def binding(self, line):
        return self.env["rebilling.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("res_model", "=", "account.move.line"),
                ("res_id", "=", line.id),
            ]
        )

    def push(self, invoice):
        return invoice.action_rebilling_autotask_push()

    def test_generated_invoice_items_become_contract_charges(self):
        self.bill()
        charges_a = self.autotask.charges(self.at_contract_a["id"])
        charges_b = self.autotask.charges(self.at_contract_b["id"])
        self.assertEqual(len(charges_a), 1, "the 'other' service line is not pushed")
        self.assertEqual(len(charges_b), 1)
        line_a = self.line_of(self.invoice_a, self.service_a)
        charge = charges_a[0]
        self.assertEqual(charge["productID"], self.at_product["id"])
        self.assertEqual(charge["unitQuantity"], line_a.quantity)
        self.assertEqual(charge["unitPrice"], line_a.price_unit)
        self.assertEqual(charge["datePurchased"], "2026-11-01T00:00:00Z")
        self.assertEqual(charge["purchaseOrderNumber"], self.invoice_a.name)
        self.assertEqual(charges_b[0]["billingCodeID"], self.at_material["id"])
        self.assertEqual(charges_b[0]["unitQuantity"], 4)
        self.assertEqual(self.binding(line_a).external_id, str(charge["id"]))
        self.assertFalse(self.binding(self.line_of(self.invoice_a, self.service_other)))
        # Exactly once: pushing again sends nothing new.
        posts = self.charge_posts()
        self.push(self.invoice_a | self.invoice_b)
        self.assertEqual(self.charge_posts(), posts)
        self.assertEqual(len(self.autotask.charges()), 2)
        logs = self.env["rebilling.sync.log"].search(
            [("backend_id", "=", self.backend.id), ("res_model", "=", "account.move.line")]
        )
        self.assertEqual(len(logs), 2)
        self.assertEqual(set(logs.mapped("state")), {"done"})

    def bill_without_push(self):
        self.backend.auto_push = False
        self.bill()
        self.assertFalse(self.autotask.charges())
        self.backend.auto_push = True

    def test_retries_after_500_and_429_create_once(self):
        self.bill_without_push()
        # An outage (503, or a 500 without Autotask's errors list) is retried.
        self.autotask.fail_next(1, 503, path=r"/Charges$", method="POST")
        self.autotask.fail_next(1, 500, body="<html>down</html>", path=r"/Charges$", method="POST")
        self.push(self.invoice_a)
        self.assertEqual(len(self.autotask.charges()), 1)
        self.assertEqual(self.charges_sent()["chargeType"], 1, "the client sends chargeType")
        self.autotask.fail_next(2, 429, retry_after=0.1, path=r"/Charges$", method="POST")
        self.push(self.invoice_b)
        self.assertEqual(len(self.autotask.charges()), 2)
        self.assertTrue(self.autotask.request_count(status=429))
        line_b = self.line_of(self.invoice_b, self.service_b)
        self.assertEqual(self.binding(line_b).sync_state, "done")

    def charges_sent(self):
        return self.autotask.requests_matching("POST", r"/Charges$")[-1].json

    def test_business_rule_error_is_permanent(self):
        """Autotask refuses with HTTP 500 and an errors list: one call, the message logged."""
        self.bill_without_push()
        with self.autotask._state_lock:
            del self.autotask._data["products"][self.at_product["id"]]
        action = self.push(self.invoice_a)
        self.assertEqual(action["params"]["type"], "warning")
        self.assertEqual(self.charge_posts(), 1, "not retried: the same payload is refused again")
        binding = self.binding(self.line_of(self.invoice_a, self.service_a))
        self.assertEqual(binding.sync_state, "error")
        self.assertIn("does not exist", binding.sync_error)
        log = self.env["rebilling.sync.log"].search(
            [("backend_id", "=", self.backend.id), ("state", "=", "error")], limit=1
        )
        self.assertIn(f"productID {self.at_product['id']} does not exist", log.message)
        with trap_jobs() as trap:
            self.backend._rebilling_push_job("account.move.line", binding.mapped("res_id"))
            # Not retried (the month's reconciliation may be queued after the push).
            trap.assert_jobs_count(0, only=self.backend._rebilling_push_job)

    def test_timeout_never_duplicates(self):
        self.bill_without_push()
        self.autotask.timeout_next(1, seconds=1.0, path=r"/Charges$", method="POST")
        action = self.push(self.invoice_a)
        self.assertEqual(action["params"]["type"], "warning")
        line_a = self.line_of(self.invoice_a, self.service_a)
        binding = self.binding(line_a)
        self.assertEqual(binding.sync_state, "error")
        self.assertFalse(binding.external_id)
        # The slow server created the charge after the client gave up.
        self.assertTrue(self.wait_for(lambda: len(self.autotask.charges()) == 1))
        posts = self.charge_posts()
        self.push(self.invoice_a)
        self.assertEqual(self.charge_posts(), posts, "found by its marker, not created again")
        self.assertEqual(len(self.autotask.charges()), 1)
        self.assertEqual(binding.external_id, str(self.autotask.charges()[0]["id"]))
        self.assertEqual(binding.sync_state, "done")

    def test_worker_death_after_the_answer_never_duplicates(self):
        """Autotask created the charge, the worker died before its transaction committed."""
        self.bill_without_push()
        line_a = self.line_of(self.invoice_a, self.service_a)
        with self.worker_dies_after("POST", r"/Contracts/\d+/Charges$"):
            self.push(self.invoice_a)
        self.assertEqual(len(self.autotask.charges()), 1)
        intent = self.binding(line_a)
        self.assertEqual(intent.sync_state, "sending", "the intent was committed before the call")
        self.assertFalse(intent.external_id)
        self.assertTrue(intent.sync_marker)
        self.push(self.invoice_a)
        charges = self.autotask.charges()
        self.assertEqual(len(charges), 1, "found by its marker, not created again")
        self.assertEqual(self.charge_posts(), 1)
        binding = self.binding(line_a)
        self.assertEqual(len(binding), 1)
        self.assertEqual(binding.external_id, str(charges[0]["id"]))
        self.assertEqual(binding.sync_state, "done")

    def test_each_binding_is_committed_after_its_answer(self):
        """A death in the middle of a batch keeps the bindings of the lines already pushed."""
        self.bill_without_push()
        lines = self.line_of(self.invoice_a, self.service_a) | self.line_of(
            self.invoice_b, self.service_b
        )
        # The second create of the batch is the one the worker does not survive.
        with self.worker_dies_after("POST", rf"/Contracts/{self.second_contract()}/Charges$"):
            self.push(self.invoice_a | self.invoice_b)
        bindings = self.env["rebilling.binding"].search(
            [("res_model", "=", "account.move.line"), ("res_id", "in", lines.ids)]
        )
        self.assertEqual(sorted(bindings.mapped("sync_state")), ["done", "sending"])
        self.push(self.invoice_a | self.invoice_b)
        self.assertEqual(len(self.autotask.charges()), 2)
        self.assertEqual(self.charge_posts(), 2, "no line created twice")
        bindings.invalidate_recordset()
        self.assertEqual(set(bindings.mapped("sync_state")), {"done"})

    def second_contract(self):
        """The contract of the line pushed second (lines go in id order)."""
        line_a = self.line_of(self.invoice_a, self.service_a)
        line_b = self.line_of(self.invoice_b, self.service_b)
        second = max(line_a, line_b, key=lambda line: line.id)
        return self.at_contract_a["id"] if second == line_a else self.at_contract_b["id"]

    def test_a_line_never_goes_to_another_customers_contract(self):
        """The mapping is enforced at push: Harbour's line cannot land on Bondi's contract."""
        with Form(self.service_a) as form:
            form.autotask_contract_id = self.record("contract", self.at_contract_b["id"])
        self.bill_without_push()
        action = self.push(self.invoice_a)
        self.assertEqual(action["params"]["type"], "warning")
        self.assertFalse(self.autotask.charges(self.at_contract_b["id"]))
        self.assertFalse(self.charge_posts())
        binding = self.binding(self.line_of(self.invoice_a, self.service_a))
        self.assertIn("belongs to Bondi Surf Club, not to Harbour Dental", binding.sync_error)
        # An unmapped customer: nothing goes either.
        with Form(self.customer_b) as form:
            form.rebilling_autotask_company_id = self.env["rebilling.external.record"]
        self.push(self.invoice_b)
        self.assertFalse(self.charge_posts())
        binding = self.binding(self.line_of(self.invoice_b, self.service_b))
        self.assertIn("Map Bondi Surf to a Autotask company first", binding.sync_error)

    def test_once_off_charge_carries_its_own_contract_and_product(self):
        """Seed 002: a once-off charge can go to its own contract/product, else its service's."""
        other = self.autotask.add_contract(self.at_harbour["id"], "Harbour projects")
        hardware = self.autotask.add_product(
            "Handset", unitCost=80.0, unitPrice=120.0, productBillingCodeID=self.at_material["id"]
        )
        self.backend.action_autotask_pull()
        handset = self.once_off_charge("Handset", 120.0)
        self.assertEqual(
            handset.autotask_contract_id,
            self.record("contract", self.at_contract_a["id"]),
            "by default the service's",
        )
        with Form(handset) as form:
            form.autotask_contract_id = self.record("contract", other["id"])
            form.autotask_product_id = self.record("product", hardware["id"])
        self.once_off_charge("Porting fee", 30.0)
        self.bill()
        (own,) = self.autotask.charges(other["id"])
        self.assertEqual(own["productID"], hardware["id"])
        self.assertEqual(own["unitPrice"], 120.0)
        on_service = self.autotask.charges(self.at_contract_a["id"])
        self.assertEqual(sorted(c["unitPrice"] for c in on_service), [30.0, 99.0])

    def once_off_charge(self, name, price):
        with Form(self.env["rebilling.charge"]) as form:
            form.name = name
            form.charge_type = "once"
            form.partner_id = self.customer_a
            form.service_id = self.service_a
            form.product_id = self.product_fee
            form.price_unit = price
            form.date_start = NOV
        return form.record

    def test_correction_patches_the_charge(self):
        self.bill()
        line_a = self.line_of(self.invoice_a, self.service_a)
        charge_id = int(self.binding(line_a).external_id)
        self.invoice_a.button_draft()
        with Form(self.invoice_a) as form:
            index = self.invoice_a.invoice_line_ids.ids.index(line_a.id)
            with form.invoice_line_ids.edit(index) as line_form:
                line_form.quantity = 3
                line_form.price_unit = 80.0
        with trap_jobs() as trap:
            self.invoice_a.action_post()
            trap.assert_jobs_count(1)
            trap.perform_enqueued_jobs()
        charges = self.autotask.charges()
        self.assertEqual(len(charges), 2, "no duplicate")
        charge = self.autotask.get("ContractCharges", charge_id)
        self.assertEqual(charge["unitQuantity"], 3)
        self.assertEqual(charge["unitPrice"], 80.0)
        self.assertEqual(self.autotask.request_count("PATCH", r"/Charges$"), 1)

    def test_contract_change_replaces_unbilled_charge(self):
        self.bill()
        line_a = self.line_of(self.invoice_a, self.service_a)
        old_id = int(self.binding(line_a).external_id)
        other = self.autotask.add_contract(self.at_harbour["id"], "Harbour VoIP 2")
        self.backend._rebilling_pull("autotask_contracts")
        self.service_a.autotask_contract_id = self.record("contract", other["id"])
        self.invoice_a.button_draft()
        with trap_jobs() as trap:
            self.invoice_a.action_post()
            trap.perform_enqueued_jobs()
        self.assertIsNone(self.autotask.get("ContractCharges", old_id))
        new = self.autotask.charges(other["id"])
        self.assertEqual(len(new), 1)
        self.assertEqual(self.binding(line_a).external_id, str(new[0]["id"]))
        self.assertEqual(self.autotask.request_count("DELETE", r"/Charges/\d+$"), 1)

    def test_billed_charge_is_not_changed(self):
        self.bill()
        line_a = self.line_of(self.invoice_a, self.service_a)
        charge_id = int(self.binding(line_a).external_id)
        self.autotask.set_charge_billed(charge_id)
        self.invoice_a.button_draft()
        with Form(self.invoice_a) as form:
            index = self.invoice_a.invoice_line_ids.ids.index(line_a.id)
            with form.invoice_line_ids.edit(index) as line_form:
                line_form.quantity = 2
        with trap_jobs() as trap:
            self.invoice_a.action_post()
            trap.perform_enqueued_jobs()
        binding = self.binding(line_a)
        self.assertEqual(binding.sync_state, "error")
        self.assertIn("already billed", binding.sync_error)
        self.assertEqual(self.autotask.get("ContractCharges", charge_id)["unitQuantity"], 1)
        self.assertFalse(self.autotask.request_count("PATCH"))
        log = self.env["rebilling.sync.log"].search(
            [("backend_id", "=", self.backend.id), ("state", "=", "error")], limit=1
        )
        self.assertIn("already billed", log.message)

    def test_not_ready_waits(self):
        """An invoice left out by ``_rebilling_external_ready`` (e.g. held for review) waits."""
        self.bill_without_push()
        moves = self.invoice_a
        self.assertEqual(moves._rebilling_external_ready(), moves)
        with patch.object(type(moves), "_rebilling_external_ready", lambda m: m.browse()):
            with trap_jobs() as trap:
                moves.write({"state": "posted"})
                trap.assert_jobs_count(0)
            with self.assertRaises(UserError):
                moves.action_rebilling_autotask_push()
        # The documented trigger: writing state (posted) queues the ready invoices.
        with trap_jobs() as trap:
            moves.write({"state": "posted"})
            trap.assert_jobs_count(1)
            trap.perform_enqueued_jobs()
        self.assertEqual(len(self.autotask.charges()), 1)

    def credit_note_of(self, invoice, post=True):
        """A credit note of the whole ``invoice`` through Odoo's reversal wizard."""
        wizard = Form(
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=invoice.ids
            )
        )
        wizard.reason = "Service never delivered"
        wizard.date = date(2026, 11, 20)
        credit_note = self.env["account.move"].browse(wizard.save().refund_moves()["res_id"])
        if post:
            with trap_jobs() as trap:
                credit_note.action_post()
                trap.perform_enqueued_jobs()
        return credit_note

    def test_credit_note_is_a_negative_charge_once(self):
        """A posted credit note goes to Autotask as charges with a negative unit price
        (Autotask refuses negative quantities), exactly once; Approve and Post then
        bills what Odoo billed in the month."""
        with freeze_time("2026-11-20 09:00:00", tick=True):
            self.bill()
            credit_note = self.credit_note_of(self.invoice_b)
        line = credit_note.invoice_line_ids
        (charge,) = [c for c in self.autotask.charges() if c["notes"].endswith(f":{line.id}")]
        self.assertEqual((charge["unitQuantity"], charge["unitPrice"]), (4, -25.0))
        self.assertEqual(charge["unitCost"], 0.0)
        self.assertEqual(charge["contractID"], self.at_contract_b["id"])
        self.assertEqual(charge["purchaseOrderNumber"], credit_note.name)
        self.assertEqual(self.binding(line).external_id, str(charge["id"]))
        log = self.env["rebilling.sync.log"].search(
            [("backend_id", "=", self.backend.id), ("res_id", "=", line.id)]
        )
        self.assertEqual(log.mapped("state"), ["done"])
        posts = self.charge_posts()
        self.push(credit_note)
        self.assertEqual(self.charge_posts(), posts, "sent once")
        moves = self.invoice_a | self.invoice_b | credit_note
        self.autotask.approve_and_post(until=date(2026, 11, 30))
        pushed = sum(
            line.move_id.direction_sign * -line.price_subtotal
            for line in self.backend._psa_lines(moves)
        )
        self.assertEqual(self.autotask.billed_total(), round(pushed, 2))
        self.assertEqual(self.autotask.billed_total(), 99.0)  # 99 + 4 x 25 - 4 x 25

    def test_credit_note_lost_answer_is_found(self):
        self.bill_without_push()
        self.backend.auto_push = False
        with freeze_time("2026-11-20 09:00:00", tick=True):
            credit_note = self.credit_note_of(self.invoice_a)
        line = credit_note.invoice_line_ids.filtered(lambda ln: ln.product_id == self.product_nbn)
        with self.worker_dies_after("POST", r"/Contracts/\d+/Charges$"):
            self.push(credit_note)
        self.assertEqual(self.binding(line).sync_state, "sending")
        self.push(credit_note)
        self.assertEqual(self.charge_posts(), 1)
        (charge,) = self.autotask.charges()
        self.assertEqual(charge["unitPrice"], -99.0)
        self.assertEqual(self.binding(line).external_id, str(charge["id"]))
