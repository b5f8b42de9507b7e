"""Sending at scale: one queue job per invoice, one commit per email, the same
Message-ID on a resend after a crash, progress on the Summary."""

from datetime import date

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.tests import Form, new_test_user, tagged

from ..fakes.fake_smtp import FakeSMTP
from .common import RebillingCase, perform_jobs, send_jobs, smtp_really_sends

NOV = date(2026, 11, 1)


class KilledWorker(Exception):
    """The worker dies here: nothing after this point is committed."""


@tagged("post_install", "-at_install")
class TestSendingJobs(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.clerk = new_test_user(
            cls.env,
            login="fiona_finance",
            name="Fiona Finance",
            groups="base.group_user,rebilling_base.group_rebilling_user",
        )

    def setUp(self):
        super().setUp()
        self.run = self.run_billing(NOV)
        self.a = self.invoices_of(self.customer_a)
        self.b = self.invoices_of(self.customer_b)
        self.invoices = self.a | self.b

    def send_from_the_list(self, invoices, user=None):
        """Finance staff select invoices in Rebilling > Invoices and click Send."""
        action = self.env.ref("rebilling_base.action_server_rebilling_send")
        if user:
            action = action.with_user(user)
        return action.with_context(active_model="account.move", active_ids=invoices.ids).run()

    def message_ids(self, smtp, invoice):
        return [
            msg["Message-Id"]
            for _sender, _rcpts, msg in smtp.messages
            if invoice.name in (msg["Subject"] or "")
        ]

    def test_each_invoice_is_a_job_of_the_send_channel(self):
        result = self.send_from_the_list(self.invoices, user=self.clerk)
        self.assertEqual(result["params"]["type"], "success")
        jobs = send_jobs(self.env)
        self.assertEqual(len(jobs), 2, "one job per invoice")
        self.assertEqual(set(jobs.mapped("channel")), {"root.rebilling.send"})
        self.assertEqual(sum(jobs.mapped("records"), self.env["account.move"]), self.invoices)
        self.assertEqual({len(job.records) for job in jobs}, {1})
        self.assertEqual(set(jobs.mapped("user_id")), {self.clerk})
        function = jobs[0].job_function_id
        self.assertEqual(function.channel_id.complete_name, "root.rebilling.send")
        self.assertTrue(function.retry_pattern, "declared with its retry pattern")
        # Not Odoo's batch cron: its trigger is not used.
        self.assertFalse(
            self.env["ir.cron.trigger"].search(
                [("cron_id", "=", self.env.ref("account.ir_cron_account_move_send").id)]
            )
        )
        self.assertEqual(set(self.invoices.mapped("rebilling_send_state")), {"queued"})

    def test_the_job_emails_its_invoice_itself(self):
        """The job renders, emails and records its invoice: nothing is left to the mail queue."""
        self.send_from_the_list(self.invoices)
        with FakeSMTP() as smtp, smtp_really_sends(self.env, smtp):
            perform_jobs(self.env, send_jobs(self.env, self.a))
            self.assertEqual(self.a.rebilling_send_state, "sent")
            self.assertEqual(self.b.rebilling_send_state, "queued")
            self.assertEqual(len(smtp.messages), 1)
            self.assertEqual(self.message_ids(smtp, self.a), [self.a._rebilling_message_id()])
            self.assertFalse(
                self.env["mail.mail"].search(
                    [("state", "=", "outgoing"), ("model", "=", "account.move")]
                ),
                "no email waits for Odoo's mail queue",
            )
            attachments = smtp.messages[0][2].get_payload()[1:]
            self.assertIn("application/pdf", [part.get_content_type() for part in attachments])
            perform_jobs(self.env, send_jobs(self.env))
        self.assertEqual(set(self.invoices.mapped("rebilling_send_state")), {"sent"})
        self.assertEqual(len(smtp.messages), 2)
        self.assertFalse(send_jobs(self.env))

    def test_a_resend_after_a_crash_carries_the_same_message_id(self):
        """Killed after the mail server's 250 OK, before the commit: the job runs again."""
        self.send_from_the_list(self.a)
        job = send_jobs(self.env)
        with FakeSMTP() as smtp, smtp_really_sends(self.env, smtp):
            with self.assertRaises(KilledWorker), self.env.cr.savepoint():
                perform_jobs(self.env, job)
                self.assertEqual(len(smtp.messages), 1, "the mail server accepted it")
                raise KilledWorker()
            self.env.invalidate_all()
            # Rolled back: the invoice is still queued and its job still waits.
            self.assertEqual(self.a.rebilling_send_state, "queued")
            self.assertEqual(send_jobs(self.env), job)
            perform_jobs(self.env, send_jobs(self.env))
        self.assertEqual(self.a.rebilling_send_state, "sent")
        first, second = self.message_ids(smtp, self.a)
        self.assertEqual(first, second, "the resend carries the same Message-ID")
        mails = self.env["mail.mail"].search(
            [("model", "=", "account.move"), ("res_id", "=", self.a.id)]
        )
        self.assertEqual(len(mails), 1, "one email recorded")

    def test_a_new_send_request_gets_a_new_message_id(self):
        with FakeSMTP(reject=["invoices@harbour.example.com"]) as smtp:
            with smtp_really_sends(self.env, smtp):
                self.send_from_the_list(self.a)
                perform_jobs(self.env, send_jobs(self.env))
        self.assertEqual(self.a.rebilling_send_state, "failed")
        first = self.a._rebilling_message_id()
        with FakeSMTP() as smtp, smtp_really_sends(self.env, smtp):
            self.send_from_the_list(self.a)
            self.assertEqual(self.a.rebilling_send_state, "queued")
            perform_jobs(self.env, send_jobs(self.env))
        self.assertEqual(self.a.rebilling_send_state, "sent")
        self.assertEqual(self.message_ids(smtp, self.a), [self.a._rebilling_message_id()])
        self.assertNotEqual(self.a._rebilling_message_id(), first)

    def test_an_unreachable_mail_server_retries_the_job(self):
        self.send_from_the_list(self.a)
        with FakeSMTP() as smtp:
            pass  # stopped: nothing listens on its port any more
        with smtp_really_sends(self.env, smtp):
            with self.assertRaises(RetryableJobError), self.env.cr.savepoint():
                perform_jobs(self.env, send_jobs(self.env))
        self.env.invalidate_all()
        self.assertEqual(self.a.rebilling_send_state, "queued", "not Failed: tried again")
        self.assertFalse(self.a.rebilling_send_error)

    def test_a_job_of_a_cancelled_invoice_sends_nothing(self):
        self.send_from_the_list(self.invoices)
        self.a.action_rebilling_cancel_send()
        with FakeSMTP() as smtp, smtp_really_sends(self.env, smtp):
            perform_jobs(self.env, send_jobs(self.env))
        self.assertEqual(self.a.rebilling_send_state, "cancelled")
        self.assertEqual(len(smtp.messages), 1)
        self.assertFalse(self.message_ids(smtp, self.a))

    def test_summary_shows_the_sending_progress(self):
        summary = "rebilling_base.rebilling_billing_run_view_summary"
        self.send_from_the_list(self.invoices)
        form = Form(self.run, view=summary)
        self.assertEqual(form.send_queued_count, 2)
        self.assertEqual(form.send_progress, 0)
        with FakeSMTP() as smtp, smtp_really_sends(self.env, smtp):
            perform_jobs(self.env, send_jobs(self.env, self.a))
            self.run.invalidate_recordset()
            form = Form(self.run, view=summary)
            self.assertEqual((form.send_queued_count, form.send_sent_count), (1, 1))
            self.assertEqual(form.send_progress, 50)
            perform_jobs(self.env, send_jobs(self.env))
        self.run.invalidate_recordset()
        form = Form(self.run, view=summary)
        self.assertEqual((form.send_queued_count, form.send_sent_count), (0, 2))
        self.assertEqual(form.send_progress, 100)

    def test_odoos_batch_sending_cron_leaves_rebilling_invoices_to_their_jobs(self):
        self.send_from_the_list(self.invoices)
        with FakeSMTP() as smtp, smtp_really_sends(self.env, smtp):
            # What Odoo's "Send invoices automatically" cron runs.
            self.env["account.move"]._cron_account_move_send(job_count=20)
            self.assertFalse(smtp.messages)
            self.assertEqual(set(self.invoices.mapped("rebilling_send_state")), {"queued"})
            perform_jobs(self.env, send_jobs(self.env))
        self.assertEqual(set(self.invoices.mapped("rebilling_send_state")), {"sent"})
