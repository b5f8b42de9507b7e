from odoo import models
from odoo.addons.queue_job.exception import RetryableJobError


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _postprocess_sent_message(
        self, success_pids, success_emails, failure_reason=False, failure_type=None
    ):
        """Record the mail server's answer on rebilling invoices: accepted (Sent) or refused.

        In a send job (context ``rebilling_retry_unreachable``) a mail server that
        cannot be reached is no answer: the job is retried later.
        """
        if failure_type == "mail_smtp" and self.env.context.get("rebilling_retry_unreachable"):
            raise RetryableJobError(
                self.env._("The mail server cannot be reached: %s", failure_reason or "")
            )
        moves = self._rebilling_invoice_moves()
        if moves:
            if failure_type:
                moves._rebilling_mail_result(failure_reason or failure_type)
            elif success_pids or success_emails:
                moves._rebilling_mail_result()
        return super()._postprocess_sent_message(
            success_pids, success_emails, failure_reason=failure_reason, failure_type=failure_type
        )

    def _rebilling_invoice_moves(self):
        """Rebilling invoices whose customer email is in ``self`` (not notifications)."""
        mails = self.filtered(
            lambda m: m.model == "account.move" and m.res_id and m.message_type == "comment"
        )
        moves = self.env["account.move"].sudo().browse(mails.mapped("res_id")).exists()
        return moves.filtered("rebilling_period")
