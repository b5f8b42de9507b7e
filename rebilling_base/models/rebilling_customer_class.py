from odoo import fields, models


class RebillingCustomerClass(models.Model):
    """A group of customers that share invoicing rules.

    This module only names the classes; ``rebilling_review`` adds the send
    policy, hold-for-review days and payment terms.
    """

    _name = "rebilling.customer.class"
    _description = "Rebilling Customer Class"
    _inherit = ["rebilling.company.mixin"]
    _order = "sequence, name"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)
    description = fields.Text()
    partner_ids = fields.One2many("res.partner", "rebilling_class_id", "Customers")
    partner_count = fields.Integer(compute="_compute_partner_count")

    _name_company_uniq = models.Constraint(
        "UNIQUE (name, company_id)", "A customer class with this name already exists."
    )

    def _compute_partner_count(self):
        counts = dict(
            self.env["res.partner"]._read_group(
                [("rebilling_class_id", "in", self.ids)], ["rebilling_class_id"], ["__count"]
            )
        )
        for cls in self:
            cls.partner_count = counts.get(cls, 0)
