from odoo import api, models
from odoo.addons.rebilling_connector.models.rebilling_external_record import psa_record_field


class RebillingCharge(models.Model):
    """A recurring or once-off charge may go to its own ConnectWise agreement and product
    (seed 002); by default those of its service."""

    _inherit = "rebilling.charge"

    connectwise_agreement_id = psa_record_field(
        "connectwise",
        "agreement",
        "ConnectWise Agreement",
        help="The charge's invoice lines become additions of this agreement "
        "(by default the service's).",
        default_compute="_compute_connectwise",
    )
    connectwise_product_id = psa_record_field(
        "connectwise", "product", "ConnectWise Product", default_compute="_compute_connectwise"
    )

    @api.depends("service_id")
    def _compute_connectwise(self):
        for charge in self:
            charge.connectwise_agreement_id = charge.service_id.connectwise_agreement_id
            charge.connectwise_product_id = charge.service_id.connectwise_product_id
