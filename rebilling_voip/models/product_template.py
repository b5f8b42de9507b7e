from odoo import api, fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    rebilling_voice_usage = fields.Boolean(
        "Voice Usage Product",
        compute="_compute_rebilling_voice_usage",
        store=True,
        readonly=False,
        help="Invoice lines of rated calls (usage by destination group) use this product.",
    )

    @api.depends("rebilling_service_type")
    def _compute_rebilling_voice_usage(self):
        for template in self:
            if template.rebilling_service_type == "voice":
                template.rebilling_voice_usage = True
