from odoo import api, models
from odoo.addons.rebilling_connector.models.rebilling_external_record import psa_record_field


class RebillingCharge(models.Model):
    """A recurring or once-off charge may go to its own Autotask contract and product
    (seed 002); by default those of its service."""

    _inherit = "rebilling.charge"

    autotask_contract_id = psa_record_field(
        "autotask",
        "contract",
        "Autotask Contract",
        help="The charge's invoice items become contract charges of this contract "
        "(by default the service's).",
        default_compute="_compute_autotask",
    )
    autotask_product_id = psa_record_field(
        "autotask", "product", "Autotask Product", default_compute="_compute_autotask"
    )
    autotask_billing_code_id = psa_record_field(
        "autotask",
        "billing_code",
        "Autotask Material Code",
        help="Used when no product is chosen.",
        default_compute="_compute_autotask",
    )

    @api.depends("service_id")
    def _compute_autotask(self):
        for charge in self:
            service = charge.service_id
            charge.autotask_contract_id = service.autotask_contract_id
            charge.autotask_product_id = service.autotask_product_id
            charge.autotask_billing_code_id = service.autotask_billing_code_id
