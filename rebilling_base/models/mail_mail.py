from odoo import models


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _postprocess_sent_message(
        self, success_pids, success_emails, failure_reason=False, failure_type=None
    ):
        """Record delivery failures of rebilling invoice emails on the invoice."""
        if failure_type:
            move_ids = [
                mail.res_id for mail in self if mail.model == "account.move" and mail.res_id
            ]
            moves = self.env["account.move"].sudo().browse(move_ids).exists()
            moves.filtered("rebilling_period").write(
                {"rebilling_send_error": (failure_reason or failure_type)[:500]}
            )
        return super()._postprocess_sent_message(
            success_pids, success_emails, failure_reason=failure_reason, failure_type=failure_type
        )
