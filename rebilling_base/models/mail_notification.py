from collections import defaultdict

from odoo import api, fields, models


class MailNotification(models.Model):
    _inherit = "mail.notification"

    rebilling_date = fields.Datetime("Date", related="mail_message_id.date")
    rebilling_subject = fields.Char("Subject", related="mail_message_id.subject")
    rebilling_move_id = fields.Many2one(
        "account.move", "Invoice", compute="_compute_rebilling_move_id"
    )
    rebilling_company_id = fields.Many2one(
        "res.company",
        compute="_compute_rebilling_company_id",
        store=True,
        index="btree_not_null",
        help="Set on the emails of rebilling: invoices to customers and the notifications "
        "of the configuration's notification email. The Email Summary lists them.",
    )

    def _compute_rebilling_move_id(self):
        for notif in self:
            message = notif.mail_message_id
            notif.rebilling_move_id = (
                message.res_id if message.model == "account.move" and message.res_id else False
            )

    @api.depends("mail_message_id")
    def _compute_rebilling_company_id(self):
        ids_by_model = defaultdict(set)
        for notif in self:
            message = notif.mail_message_id
            if message.model in self._rebilling_summary_models() and message.res_id:
                ids_by_model[message.model].add(message.res_id)
        companies = {}
        for model, ids in ids_by_model.items():
            records = self.env[model].sudo().browse(ids).exists()
            if model == "account.move":
                records = records.filtered("rebilling_period")
            companies.update({(model, rec.id): rec.company_id for rec in records})
        for notif in self:
            message = notif.mail_message_id
            notif.rebilling_company_id = companies.get((message.model, message.res_id), False)

    @api.model
    def _rebilling_summary_models(self):
        """Models whose emails the Email Summary lists (extend for other rebilling records)."""
        return ["account.move", "rebilling.billing.run"]
