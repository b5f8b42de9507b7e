from odoo import api, fields, models
from odoo.exceptions import ValidationError


class RebillingDestinationPrefix(models.Model):
    _name = "rebilling.destination.prefix"
    _description = "Call Destination Prefix"
    _inherit = ["rebilling.company.mixin"]
    _order = "prefix, id"
    _rec_name = "prefix"

    group_id = fields.Many2one(
        "rebilling.destination.group", "Destination Group", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="group_id.company_id", store=True, index=True)
    prefix = fields.Char(
        required=True,
        index=True,
        help="Start of the called number in E.164, with the plus: +61 4, +44, +1 800.",
    )
    same_area = fields.Boolean(
        "Same Area as Caller",
        help="Matches only when the caller's number starts with this prefix too "
        "(local calls within an area code).",
    )

    _prefix_uniq = models.UniqueIndex(
        "(COALESCE(company_id, 0), prefix, COALESCE(same_area, false))",
        "This prefix already belongs to a destination group.",
    )

    @api.model
    def _clean_prefix(self, prefix):
        digits = "".join(ch for ch in prefix or "" if ch.isdigit())
        return f"+{digits}" if digits else prefix

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("prefix"):
                vals["prefix"] = self._clean_prefix(vals["prefix"])
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("prefix"):
            vals["prefix"] = self._clean_prefix(vals["prefix"])
        return super().write(vals)

    @api.constrains("prefix")
    def _check_prefix(self):
        for rec in self:
            if not rec.prefix or not rec.prefix.startswith("+") or len(rec.prefix) < 2:
                raise ValidationError(
                    self.env._(
                        "The prefix %(prefix)s is not an E.164 prefix: a plus and digits, "
                        "e.g. +614.",
                        prefix=rec.prefix,
                    )
                )
