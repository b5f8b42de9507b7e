from odoo import api, fields, models

_DOMAIN = (
    "[('backend_type', '=', 'connectwise'), ('kind', '=', '%s'), ('company_id', '=', company_id)]"
)


class RebillingCharge(models.Model):
    """A recurring or once-off charge may go to its own ConnectWise agreement and product
    (seed 002); by default those of its service."""

    _inherit = "rebilling.charge"

    connectwise_agreement_id = fields.Many2one(
        "rebilling.external.record",
        "ConnectWise Agreement",
        compute="_compute_connectwise",
        store=True,
        readonly=False,
        precompute=True,
        domain=_DOMAIN % "agreement",
        ondelete="restrict",
        tracking=True,
        help="The charge's invoice lines become additions of this agreement "
        "(by default the service's).",
    )
    connectwise_product_id = fields.Many2one(
        "rebilling.external.record",
        "ConnectWise Product",
        compute="_compute_connectwise",
        store=True,
        readonly=False,
        precompute=True,
        domain=_DOMAIN % "product",
        ondelete="restrict",
        tracking=True,
    )

    @api.depends("service_id")
    def _compute_connectwise(self):
        for charge in self:
            charge.connectwise_agreement_id = charge.service_id.connectwise_agreement_id
            charge.connectwise_product_id = charge.service_id.connectwise_product_id
