from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import email_normalize


class ResPartner(models.Model):
    _inherit = "res.partner"

    rebilling_enabled = fields.Boolean(
        index=True,
        help="Invoice this customer in the monthly billing run.",
    )
    rebilling_invoice_email = fields.Char(
        "Invoice Email", help="Invoices are emailed to this address (the contact email when empty)."
    )
    rebilling_class_id = fields.Many2one(
        "rebilling.customer.class", "Customer Class", index="btree_not_null"
    )
    rebilling_service_ids = fields.One2many("rebilling.service", "partner_id", "Services")
    rebilling_charge_ids = fields.One2many("rebilling.charge", "partner_id", "Charges")
    rebilling_service_count = fields.Integer(compute="_compute_rebilling_counts")
    rebilling_invoice_count = fields.Integer(compute="_compute_rebilling_counts")

    @api.constrains("rebilling_invoice_email")
    def _check_rebilling_invoice_email(self):
        for partner in self:
            email = partner.rebilling_invoice_email
            if email and not email_normalize(email):
                raise ValidationError(self.env._("%s is not a valid email address.", email))

    def _compute_rebilling_counts(self):
        services = dict(
            self.env["rebilling.service"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        invoices = dict(
            self.env["account.move"]._read_group(
                [("partner_id", "in", self.ids), ("rebilling_period", "!=", False)],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.rebilling_service_count = services.get(partner, 0)
            partner.rebilling_invoice_count = invoices.get(partner, 0)

    def _rebilling_email(self):
        self.ensure_one()
        return self.rebilling_invoice_email or self.email

    def action_rebilling_services(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_service"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def action_rebilling_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_invoices"
        )
        action["domain"] = [("partner_id", "=", self.id), ("rebilling_period", "!=", False)]
        return action
