from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    rebilling_auto_invoice = fields.Boolean(
        related="company_id.rebilling_auto_invoice", readonly=False
    )
    rebilling_catch_up_months = fields.Integer(
        related="company_id.rebilling_catch_up_months", readonly=False
    )
    rebilling_payment_term_days = fields.Integer(
        related="company_id.rebilling_payment_term_days", readonly=False
    )
    rebilling_sender_email = fields.Char(
        related="company_id.rebilling_sender_email", readonly=False
    )
    rebilling_sender_confirmed = fields.Boolean(related="company_id.rebilling_sender_confirmed")
    rebilling_run_hour = fields.Integer(related="company_id.rebilling_run_hour", readonly=False)
    rebilling_tz = fields.Selection(related="company_id.rebilling_tz", readonly=False)
    rebilling_configured = fields.Boolean(related="company_id.rebilling_configured")
    rebilling_config_missing = fields.Text(related="company_id.rebilling_config_missing")

    def action_rebilling_configuration(self):
        return self.company_id.action_rebilling_configuration()
