from datetime import date

from freezegun import freeze_time

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.exceptions import UserError
from odoo.tests import Form, tagged

from .common import NOV, OCT, XeroCase


@tagged("post_install", "-at_install")
class TestXeroPush(XeroCase):
    def setUp(self):
        super().setUp()
        with trap_jobs():
            self.connect()

    def pushed_numbers(self):
        return sorted(inv["InvoiceNumber"] for inv in self.xero.invoices())

    def test_new_month_is_pushed_automatically(self):
        run = self.env["rebilling.billing.run"]._get_or_create(self.company, NOV)
        with trap_jobs() as trap:
            run.with_context(queue_job__no_delay=True).action_start()
            moves = run.invoice_ids
            self.assertEqual(len(moves), 2)
            trap.assert_jobs_count(1, only=self.backend._rebilling_push_job)
            (job,) = [j for j in trap.enqueued_jobs if j.method_name == "_rebilling_push_job"]
            self.assertEqual(job.channel, "root.rebilling.sync")
            self.assertTrue(job.identity_key.startswith(f"rebilling.push:{self.backend.id}:"))
            self.assertEqual(sorted(job.args[1]), sorted(moves.ids))
            trap.perform_enqueued_jobs()
        self.assertEqual(self.pushed_numbers(), sorted(moves.mapped("name")))
        move = self.invoices_of(self.customer_a, NOV)
        pushed = self.xero.get_invoice(move.name)
        self.assertEqual(pushed["Type"], "ACCREC")
        self.assertEqual(pushed["Status"], "AUTHORISED")
        self.assertEqual(pushed["DateString"], "2026-11-01T00:00:00")
        self.assertEqual(pushed["DueDateString"], "2026-11-15T00:00:00")
        self.assertEqual(pushed["Contact"]["ContactID"], self.customer_a.rebilling_xero_contact_id)
        self.assertEqual(len(pushed["LineItems"]), len(move.invoice_line_ids))
        line = pushed["LineItems"][0]
        self.assertEqual(line["Description"], move.invoice_line_ids[0].name)
        self.assertEqual(line["UnitAmount"], 99.0)
        self.assertEqual(line["AccountCode"], "200")
        self.assertEqual(line["TaxType"], "OUTPUT")
        self.assertEqual(pushed["Total"], move.amount_total)
        self.assertEqual(move.rebilling_xero_state, "done")
        self.assertEqual(move.rebilling_xero_invoice_id, pushed["InvoiceID"])

    def test_disconnected_company_is_not_pushed(self):
        self.backend.action_disconnect()
        with trap_jobs() as trap:
            self.run_billing(NOV)
            trap.assert_jobs_count(0, only=self.backend._rebilling_push_job)

    def test_older_invoice_upload_button_and_links(self):
        move = self.make_invoices(self.customer_b, OCT)
        self.assertTrue(move.rebilling_xero_can_upload)
        action = move.action_rebilling_xero_upload()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(move.rebilling_xero_state, "done")
        self.assertFalse(move.rebilling_xero_can_upload)
        invoice_id = move.rebilling_xero_invoice_id
        link = move.action_rebilling_xero_open()
        self.assertEqual(link["type"], "ir.actions.act_url")
        self.assertIn(f"InvoiceID%3D{invoice_id}", link["url"])
        self.assertTrue(link["url"].startswith("https://go.xero.example/organisationlogin/"))
        online = move.action_rebilling_xero_online_invoice()
        self.assertEqual(online["url"], f"{self.xero.base_url}/online-invoice/{invoice_id}")
        # Cached: no second OnlineInvoice call.
        move.action_rebilling_xero_online_invoice()
        self.assertEqual(self.xero.request_count("GET", "/OnlineInvoice$"), 1)
        # Uploading again does not create a second invoice in Xero.
        move.action_rebilling_xero_upload()
        self.assertEqual(len(self.xero.invoices()), 1)

    def test_list_server_action_and_batches_of_50(self):
        moves = self.make_invoices(self.make_customers(120), OCT)
        action = self.env.ref("rebilling_xero_sync.action_server_rebilling_xero_upload")
        with trap_jobs() as trap:
            result = action.with_context(active_model="account.move", active_ids=moves.ids).run()
            self.assertIn("queued", result["params"]["message"])
            trap.assert_jobs_count(3, only=self.backend._rebilling_push_job)
            self.assertEqual(sorted(len(job.args[1]) for job in trap.enqueued_jobs), [20, 50, 50])
            trap.perform_enqueued_jobs()
        puts = self.api_requests("PUT", "Invoices")
        self.assertEqual(len(puts), 3)
        self.assertEqual(sorted(len(r.json["Invoices"]) for r in puts), [20, 50, 50])
        for request in puts:
            self.assertEqual(request.arg("summarizeErrors"), "false")
            self.assertTrue(request.headers["Idempotency-Key"].startswith("rebilling-"))
        self.assertEqual(self.pushed_numbers(), sorted(moves.mapped("name")))

    def test_same_record_is_not_queued_twice(self):
        moves = self.make_invoices(self.make_customers(3), OCT)
        self.backend._rebilling_enqueue_push(moves[:2])
        self.backend._rebilling_enqueue_push(moves[:2])
        queued = self.backend._rebilling_enqueue_push(moves)
        self.assertEqual(queued, moves[2])
        jobs = self.env["queue.job"].search([("method_name", "=", "_rebilling_push_job")])
        self.assertEqual(len(jobs), 2)
        self.assertEqual(len(set(jobs.mapped("identity_key"))), 2)

    def test_rate_limit_storm_and_faults_push_every_invoice_once(self):
        moves = self.make_invoices(self.make_customers(60), OCT)
        self.backend.write({"batch_size": 10, "rate_limit_calls": 0, "rate_limit_concurrent": 0})
        # Contacts first, then a storm: 3 calls per 0.4 s, 5xx and a slow answer.
        self.xero.set_rate_limit(None)
        self.xero._minute.limit = 3
        self.xero._minute.window = 0.4
        self.xero._xero_retry_after = 0.2
        self.xero.fail_next(2, 503, path="/Invoices$")
        self.xero.fail_next(1, 500, path="/Invoices$")
        self.xero.timeout_next(1, seconds=2.5, path="/Invoices$", method="PUT")
        self.backend.read_timeout = 0.8
        self.backend.max_retries = 8
        with trap_jobs() as trap:
            self.backend._rebilling_enqueue_push(moves)
            trap.perform_enqueued_jobs()
        self.assertEqual(self.pushed_numbers(), sorted(moves.mapped("name")))
        self.assertEqual(len(self.xero.invoices()), 60, "every invoice exactly once")
        self.assertGreater(self.xero.request_count(status=429), 0)
        self.assertTrue(all(m.rebilling_xero_state == "done" for m in moves))
        bindings = self.env["rebilling.binding"].search(
            [("res_model", "=", "account.move"), ("res_id", "in", moves.ids)]
        )
        self.assertEqual(len(set(bindings.mapped("external_id"))), 60)

    def test_validation_errors_are_recorded_per_invoice(self):
        moves = self.make_invoices(self.make_customers(3), OCT)
        bad = moves[1]
        self.product_fee.rebilling_xero_account_code = "999"
        bad_line = bad.invoice_line_ids[0]
        bad.button_draft()
        bad_line.product_id = self.product_fee
        bad.action_post()
        self.backend._rebilling_push(moves)
        self.assertEqual(len(self.api_requests("PUT", "Invoices")), 1)
        self.assertEqual((moves - bad).mapped("rebilling_xero_state"), ["done", "done"])
        self.assertEqual(bad.rebilling_xero_state, "error")
        self.assertIn("Account code '999' is not a valid code", bad.rebilling_xero_error)
        self.assertIn("999", bad.message_ids[0].body)
        log = self.env["rebilling.sync.log"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", bad.id)]
        )
        self.assertEqual(log.state, "error")
        self.assertIn("Account code '999'", log.message)
        # Fixed in Odoo, retried from the log: pushed, once.
        self.product_fee.rebilling_xero_account_code = "260"
        log.action_retry()
        self.assertTrue(log.retried)
        self.assertEqual(bad.rebilling_xero_state, "done")
        self.assertEqual(len(self.xero.invoices()), 3)

    def test_invoice_already_in_xero_is_linked_not_duplicated(self):
        move = self.make_invoices(self.customer_a, OCT)
        move.action_rebilling_xero_upload()
        first = move.rebilling_xero_invoice_id
        # The answer was lost (binding gone): the next push must not create a second one.
        move.rebilling_binding_ids.unlink()
        self.env["rebilling.sync.log"].search([]).unlink()
        self.xero._tenant()["idempotency"].clear()
        move.action_rebilling_xero_upload()
        self.assertEqual(move.rebilling_xero_invoice_id, first)
        self.assertEqual(len(self.xero.invoices()), 1)

    def test_same_number_of_another_contact_or_total_is_a_conflict(self):
        """INV- is Xero's own prefix: a namesake invoice is linked only if it is this one."""
        move_a, move_b = self.make_invoices(self.customer_a | self.customer_b, OCT)
        stranger = self.xero.add_contact("Someone Else Pty Ltd")
        self.backend._xero_ensure_contacts(self.customer_a | self.customer_b)
        self.xero.add_invoice(
            Type="ACCREC",
            InvoiceNumber=move_a.name,
            Contact={"ContactID": stranger["ContactID"]},
            LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 10, "AccountCode": "200"}],
            Date="2026-10-01",
            DueDate="2026-10-15",
        )
        self.xero.add_invoice(
            Type="ACCREC",
            InvoiceNumber=move_b.name,
            Contact={"ContactID": self.customer_b.rebilling_xero_contact_id},
            LineItems=[{"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200"}],
            Date="2026-10-01",
            DueDate="2026-10-15",
        )
        (move_a | move_b).action_rebilling_xero_upload()
        self.assertEqual(len(self.xero.invoices()), 2, "nothing created, nothing adopted")
        for move in move_a | move_b:
            self.assertEqual(move.rebilling_xero_state, "error")
            self.assertFalse(move.rebilling_xero_invoice_id)
            log = self.env["rebilling.sync.log"].search(
                [("res_model", "=", "account.move"), ("res_id", "=", move.id)]
            )
            self.assertEqual(log.state, "error")
            self.assertIn(f"Conflict: Xero already has an invoice {move.name}", log.message)
        self.assertIn("Someone Else Pty Ltd", move_a.rebilling_xero_error)

    @freeze_time("2026-11-20 03:00:00")
    def test_manual_upload_only_for_invoices_of_a_past_month(self):
        """Seed 001: the upload icon is for invoices of a prior month; the month's own go
        to Xero when it rolls over (the billing run). Time is frozen in November: the
        test holds whatever day it runs."""
        move = self.make_invoices(self.customer_a, NOV)  # the current (frozen) month
        self.assertFalse(move.rebilling_xero_can_upload)
        with self.assertRaisesRegex(UserError, "current month go to Xero automatically"):
            move.action_rebilling_xero_upload()
        self.assertFalse(self.api_requests("PUT", "Invoices"))
        older = self.make_invoices(self.customer_b, OCT)
        self.assertTrue(older.rebilling_xero_can_upload)

    def test_daily_limit_postpones_the_job(self):
        """A 429 with X-Rate-Limit-Problem: day is not retried within minutes."""
        moves = self.make_invoices(self.make_customers(2), OCT)
        self.backend._xero_ensure_contacts(moves.partner_id)
        # Today's calls are the whole daily allowance.
        day = self.xero._day
        day.limit -= day.remaining(self.xero.default_tenant_id)
        with trap_jobs() as trap:
            self.backend._rebilling_enqueue_push(moves)
            with self.assertRaises(RetryableJobError) as caught:
                trap.perform_enqueued_jobs()
        self.assertEqual(len(self.xero.requests_matching(status=429)), 1, "one call, no retry")
        self.assertGreater(caught.exception.seconds, 3600)

    def test_worker_death_after_xero_created_the_invoice(self):
        """Xero created the invoice, the worker died before reading the answer: one invoice."""
        move = self.make_invoices(self.customer_a, OCT)
        self.backend._xero_ensure_contacts(move.partner_id)
        with self.worker_dies_after("PUT", r"/Invoices$"):
            move.action_rebilling_xero_upload()
        self.assertEqual(len(self.xero.invoices()), 1)
        self.assertEqual(move.rebilling_xero_state, "todo")
        move.action_rebilling_xero_upload()
        (invoice,) = self.xero.invoices()
        self.assertEqual(move.rebilling_xero_invoice_id, invoice["InvoiceID"])
        bindings = self.env["rebilling.binding"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", move.id)]
        )
        self.assertEqual(len(bindings), 1)

    def test_worker_death_after_xero_created_the_contact(self):
        """Xero created the contact, the worker died: the next push finds it, no twin."""
        partner = self.make_customers(1, prefix="Fresh")
        move = self.make_invoices(partner, OCT)
        with self.worker_dies_after("PUT", r"/Contacts$"):
            move.action_rebilling_xero_upload()
        named = [c for c in self.xero.contacts() if c["Name"] == partner.name]
        self.assertEqual(len(named), 1)
        move.action_rebilling_xero_upload()
        named = [c for c in self.xero.contacts() if c["Name"] == partner.name]
        self.assertEqual(len(named), 1, "matched by name, not created again")
        self.assertEqual(partner.rebilling_xero_contact_id, named[0]["ContactID"])
        self.assertEqual(move.rebilling_xero_state, "done")
        self.assertEqual(len(self.xero.invoices()), 1)

    # ------------------------------------------------------------ one total everywhere
    def make_fraction_invoice(self, move_type="out_invoice", partner=None):
        """Lines whose GST is a fraction of a cent: rounded per line (as Xero does) it
        differs from GST rounded on the total (12 x 0.004 = 0.048)."""
        lines = [(0.04, 1.0)] * 12 + [(0.25, 1.0), (0.15, 3.0), (1234.5678, 1.0)]
        return self.posted_invoice_of_lines(
            lines, move_type=move_type, partner=partner, invoice_date=OCT
        )

    def test_gst_of_fractions_of_a_cent_one_total_in_odoo_and_xero(self):
        """Xero taxes every line rounded to the cent: Odoo's total is Xero's total."""
        self.assertEqual(self.company.tax_calculation_rounding_method, "round_per_line")
        move = self.make_fraction_invoice()
        self.assertEqual(move.amount_tax, round(0.03 + 0.05 + 123.46, 2))
        move.action_rebilling_xero_upload()
        pushed = self.xero.get_invoice(move.name)
        self.assertEqual(pushed["Total"], move.amount_total)
        self.assertEqual(pushed["TotalTax"], move.amount_tax)
        self.assertEqual(pushed["SubTotal"], move.amount_untaxed)
        sent = self.api_requests("PUT", "Invoices")[-1].json["Invoices"][0]["LineItems"]
        self.assertEqual([line["TaxAmount"] for line in sent[12:]], [0.03, 0.05, 123.46])

    def test_lost_answer_of_a_rounding_invoice_is_relinked(self):
        """The adoption check compares totals: equal to the cent, the invoice is linked."""
        move = self.make_fraction_invoice()
        self.backend._xero_ensure_contacts(move.partner_id)
        with self.worker_dies_after("PUT", r"/Invoices$"):
            move.action_rebilling_xero_upload()
        self.xero._tenant()["idempotency"].clear()
        move.action_rebilling_xero_upload()
        (invoice,) = self.xero.invoices()
        self.assertEqual(move.rebilling_xero_state, "done")
        self.assertEqual(move.rebilling_xero_invoice_id, invoice["InvoiceID"])

    # ------------------------------------------------------------ credit notes
    def credit(self, invoice, reason="Service never delivered"):
        """The user's "Credit Note" button on ``invoice``, then Confirm."""
        wizard = Form(
            self.env["account.move.reversal"].with_context(
                active_model="account.move", active_ids=invoice.ids
            )
        )
        wizard.reason = reason
        action = wizard.save().refund_moves()
        credit_note = self.env["account.move"].browse(action["res_id"])
        credit_note.action_post()
        return credit_note

    def sync_log(self, move):
        return self.env["rebilling.sync.log"].search(
            [("res_model", "=", "account.move"), ("res_id", "=", move.id)], order="id desc"
        )

    def test_credit_note_goes_to_xero_allocated_to_its_invoice_once(self):
        invoice = self.make_fraction_invoice()
        invoice.action_rebilling_xero_upload()
        with trap_jobs() as trap:
            credit_note = self.credit(invoice)
            trap.assert_jobs_count(1, only=self.backend._rebilling_push_job)
            trap.perform_enqueued_jobs()
        self.assertEqual(credit_note.rebilling_xero_state, "done")
        (note,) = self.xero.credit_notes()
        self.assertEqual(note["Type"], "ACCRECCREDIT")
        self.assertEqual(note["CreditNoteNumber"], credit_note.name)
        self.assertEqual(note["CreditNoteID"], credit_note.rebilling_xero_invoice_id)
        self.assertEqual(note["Total"], credit_note.amount_total)
        self.assertEqual(note["Contact"]["ContactID"], self.customer_a.rebilling_xero_contact_id)
        self.assertEqual(note["RemainingCredit"], 0.0)
        (allocation,) = note["Allocations"]
        self.assertEqual(allocation["Amount"], invoice.amount_total)
        pushed = self.xero.get_invoice(invoice.name)
        self.assertEqual(pushed["AmountDue"], 0.0)
        self.assertEqual(pushed["AmountCredited"], invoice.amount_total)
        self.assertIn("ViewCreditNote.aspx", credit_note.rebilling_xero_url)
        log = self.sync_log(credit_note)[0]
        self.assertEqual(log.state, "done")
        self.assertIn(f"allocated to {invoice.name}", log.message)
        # Uploading again creates and allocates nothing more.
        credit_note.action_rebilling_xero_upload()
        self.backend._rebilling_push(credit_note, force=True)
        self.assertEqual(len(self.xero.credit_notes()), 1)
        self.assertEqual(len(self.xero.credit_notes()[0]["Allocations"]), 1)
        self.assertEqual(len(self.api_requests("PUT", r"CreditNotes/[^/]+/Allocations")), 1)

    def test_credit_note_lost_answers_create_and_allocate_once(self):
        invoice = self.make_invoices(self.customer_a, OCT)
        invoice.action_rebilling_xero_upload()
        self.backend.auto_push = False
        credit_note = self.credit(invoice)
        with self.worker_dies_after("PUT", r"/CreditNotes$"):
            credit_note.action_rebilling_xero_upload()
        self.assertEqual(len(self.xero.credit_notes()), 1)
        self.assertEqual(credit_note.rebilling_xero_state, "todo")
        self.xero._tenant()["idempotency"].clear()
        with self.worker_dies_after("PUT", r"/Allocations$"):
            credit_note.action_rebilling_xero_upload()
        self.assertEqual(credit_note.rebilling_xero_state, "todo")
        self.xero._tenant()["idempotency"].clear()
        credit_note.action_rebilling_xero_upload()
        (note,) = self.xero.credit_notes()
        self.assertEqual(credit_note.rebilling_xero_invoice_id, note["CreditNoteID"])
        self.assertEqual(len(note["Allocations"]), 1, "allocated once")
        self.assertEqual(self.xero.get_invoice(invoice.name)["AmountDue"], 0.0)

    def test_credit_note_of_a_paid_invoice_stays_as_credit(self):
        invoice = self.make_invoices(self.customer_b, OCT)
        invoice.action_rebilling_xero_upload()
        self.xero.pay_invoice(invoice.rebilling_xero_invoice_id)
        self.backend.auto_push = False
        credit_note = self.credit(invoice)
        credit_note.action_rebilling_xero_upload()
        (note,) = self.xero.credit_notes()
        self.assertEqual(note["Allocations"], [])
        self.assertEqual(note["RemainingCredit"], credit_note.amount_total)
        self.assertEqual(credit_note.rebilling_xero_state, "done")
        self.assertIn("nothing is due", self.sync_log(credit_note)[0].message)

    def test_credit_note_namesake_of_another_contact_is_a_conflict(self):
        invoice = self.make_invoices(self.customer_a, OCT)
        invoice.action_rebilling_xero_upload()
        self.backend.auto_push = False
        credit_note = self.credit(invoice)
        stranger = self.xero.add_contact("Someone Else Pty Ltd")
        with self.xero._state_lock:
            work = self.xero._work_copy(self.xero._tenant())
            self.xero._apply_credit_note(
                work,
                {
                    "Type": "ACCRECCREDIT",
                    "CreditNoteNumber": credit_note.name,
                    "Contact": {"ContactID": stranger["ContactID"]},
                    "Date": "2026-10-02",
                    "LineItems": [
                        {"Description": "x", "Quantity": 1, "UnitAmount": 5, "AccountCode": "200"}
                    ],
                },
                upsert=False,
            )
            self.xero._commit(self.xero._tenant(), work)
        credit_note.action_rebilling_xero_upload()
        self.assertEqual(len(self.xero.credit_notes()), 1, "nothing created, nothing linked")
        self.assertEqual(credit_note.rebilling_xero_state, "error")
        self.assertIn("Conflict: Xero already has a credit note", credit_note.rebilling_xero_error)

    # ------------------------------------------------------------ lock dates
    def test_document_before_the_lock_date_is_a_clear_error_not_retried(self):
        """Xero refuses documents dated on or before the period / end-of-year lock date."""
        invoice = self.make_invoices(self.customer_a, OCT)
        self.xero.set_lock_dates(period=date(2026, 10, 31))
        with trap_jobs() as trap:
            self.backend._rebilling_enqueue_push(invoice)
            trap.perform_enqueued_jobs()  # no RetryableJobError: not retried
        self.assertFalse(self.xero.invoices())
        self.assertEqual(invoice.rebilling_xero_state, "error")
        self.assertIn("lock date (31 Oct 2026)", invoice.rebilling_xero_error)
        log = self.sync_log(invoice)
        self.assertEqual(len(log), 1)
        self.assertEqual(log.state, "error")
        self.assertIn("lock date", log.message)
        self.assertEqual(len(self.api_requests("PUT", "Invoices")), 1, "asked once")
        # The end-of-year lock date too, for credit notes.
        self.xero.set_lock_dates(end_of_year=date(2026, 6, 30))
        self.xero._tenant()["idempotency"].clear()  # later than Xero's replay window
        invoice.action_rebilling_xero_upload()
        self.assertEqual(invoice.rebilling_xero_state, "done")
        self.backend.auto_push = False
        credit_note = self.credit(invoice)
        self.xero.set_lock_dates(end_of_year=credit_note.invoice_date)  # on the date: refused
        credit_note.action_rebilling_xero_upload()
        self.assertFalse(self.xero.credit_notes())
        self.assertEqual(credit_note.rebilling_xero_state, "error")
        self.assertIn("lock date", credit_note.rebilling_xero_error)

    def test_invoice_posted_while_rounding_globally_keeps_its_total_in_xero(self):
        """An invoice posted before the company rounded per line: each line's share of the
        GST rounded on the total is sent, so Xero's total is still the invoice's."""
        self.env.cr.execute(
            "UPDATE res_company SET tax_calculation_rounding_method = 'round_globally' "
            "WHERE id = %s",
            [self.company.id],
        )
        self.company.invalidate_recordset(["tax_calculation_rounding_method"])
        move = self.make_fraction_invoice()
        # 12 x 0.004 + 0.025 + 0.045 + 123.457 = 123.575, rounded once (per line: 123.54).
        self.assertEqual(move.amount_tax, 123.58)
        move.action_rebilling_xero_upload()
        pushed = self.xero.get_invoice(move.name)
        self.assertEqual(pushed["Total"], move.amount_total)
        self.backend.auto_push = False
        credit_note = self.credit(move)
        credit_note.action_rebilling_xero_upload()
        (note,) = self.xero.credit_notes()
        self.assertEqual(note["Total"], credit_note.amount_total)
        self.assertEqual(note["Allocations"][0]["Amount"], move.amount_total)
