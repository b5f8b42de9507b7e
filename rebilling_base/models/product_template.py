from odoo import fields, models

SERVICE_TYPES = [
    ("voice", "Voice Usage"),
    ("wholesale", "Wholesale Service Provider"),
    ("voip_bundle", "VoIP Bundle"),
    ("sip_trunk", "SIP Trunk"),
    ("other", "Other"),
]


class ProductTemplate(models.Model):
    _inherit = "product.template"

    rebilling_service_type = fields.Selection(
        SERVICE_TYPES,
        help="Default type of rebilling services that use this product.",
    )
    rebilling_xero_account_code = fields.Char(
        "Xero Account Code", help="Overrides the company's default Xero account code."
    )
