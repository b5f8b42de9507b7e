from odoo import fields, models


class RebillingService(models.Model):
    _inherit = "rebilling.service"

    connectwise_agreement_id = fields.Many2one(
        "rebilling.external.record",
        "ConnectWise Agreement",
        domain="[('backend_type', '=', 'connectwise'), ('kind', '=', 'agreement'), "
        "('company_id', '=', company_id)]",
        check_company=True,
        ondelete="restrict",
        tracking=True,
        help="Invoice lines of this service become additions of this agreement.",
    )
    connectwise_product_id = fields.Many2one(
        "rebilling.external.record",
        "ConnectWise Product",
        domain="[('backend_type', '=', 'connectwise'), ('kind', '=', 'product'), "
        "('company_id', '=', company_id)]",
        check_company=True,
        ondelete="restrict",
        tracking=True,
    )

    def action_connectwise_create_product(self):
        """Open the small form creating a catalog product in ConnectWise."""
        return self._rebilling_psa_wizard("connectwise", "rebilling.connectwise.product.wizard")
