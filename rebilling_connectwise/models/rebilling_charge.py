from odoo import api, models
from odoo.addons.rebilling_base.models.rebilling_external_record import psa_record_field

# Computed from the service, and editable: the charge's own choice wins.
_FROM_SERVICE = {
    "compute": "_compute_connectwise",
    "store": True,
    "readonly": False,
    "precompute": True,
}


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
        **_FROM_SERVICE,
    )
    connectwise_product_id = psa_record_field(
        "connectwise", "product", "ConnectWise Product", **_FROM_SERVICE
    )

    @api.depends("service_id")
    def _compute_connectwise(self):
        for charge in self:
            charge.connectwise_agreement_id = charge.service_id.connectwise_agreement_id
            charge.connectwise_product_id = charge.service_id.connectwise_product_id
