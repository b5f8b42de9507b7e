from odoo import api, fields, models

_DOMAIN = (
    "[('backend_type', '=', 'autotask'), ('kind', '=', '%s'), ('company_id', '=', company_id)]"
)


class RebillingCharge(models.Model):
    """A recurring or once-off charge may go to its own Autotask contract and product
    (seed 002); by default those of its service."""

    _inherit = "rebilling.charge"

    autotask_contract_id = fields.Many2one(
        "rebilling.external.record",
        compute="_compute_autotask",
        store=True,
        readonly=False,
        precompute=True,
        domain=_DOMAIN % "contract",
        ondelete="restrict",
        tracking=True,
        help="The charge's invoice items become contract charges of this contract "
        "(by default the service's).",
    )
    autotask_product_id = fields.Many2one(
        "rebilling.external.record",
        compute="_compute_autotask",
        store=True,
        readonly=False,
        precompute=True,
        domain=_DOMAIN % "product",
        ondelete="restrict",
        tracking=True,
    )
    autotask_billing_code_id = fields.Many2one(
        "rebilling.external.record",
        "Autotask Material Code",
        compute="_compute_autotask",
        store=True,
        readonly=False,
        precompute=True,
        domain=_DOMAIN % "billing_code",
        ondelete="restrict",
        tracking=True,
        help="Used when no product is chosen.",
    )

    @api.depends("service_id")
    def _compute_autotask(self):
        for charge in self:
            service = charge.service_id
            charge.autotask_contract_id = service.autotask_contract_id
            charge.autotask_product_id = service.autotask_product_id
            charge.autotask_billing_code_id = service.autotask_billing_code_id
