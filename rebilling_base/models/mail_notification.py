from odoo import fields, models


class MailNotification(models.Model):
    _inherit = "mail.notification"

    rebilling_date = fields.Datetime("Date", related="mail_message_id.date")
    rebilling_subject = fields.Char("Subject", related="mail_message_id.subject")
    rebilling_move_id = fields.Many2one(
        "account.move", "Invoice", compute="_compute_rebilling_move_id"
    )

    def _compute_rebilling_move_id(self):
        for notif in self:
            message = notif.mail_message_id
            notif.rebilling_move_id = (
                message.res_id if message.model == "account.move" and message.res_id else False
            )
