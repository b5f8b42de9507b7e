from odoo import fields, models


class RebillingService(models.Model):
    _inherit = "rebilling.service"

    autotask_contract_id = fields.Many2one(
        "rebilling.external.record",
        domain="[('backend_type', '=', 'autotask'), ('kind', '=', 'contract'), "
        "('company_id', '=', company_id)]",
        check_company=True,
        ondelete="restrict",
        tracking=True,
        help="Invoice items of this service become contract charges of this contract.",
    )
    autotask_product_id = fields.Many2one(
        "rebilling.external.record",
        domain="[('backend_type', '=', 'autotask'), ('kind', '=', 'product'), "
        "('company_id', '=', company_id)]",
        check_company=True,
        ondelete="restrict",
        tracking=True,
    )
    autotask_billing_code_id = fields.Many2one(
        "rebilling.external.record",
        "Autotask Material Code",
        domain="[('backend_type', '=', 'autotask'), ('kind', '=', 'billing_code'), "
        "('company_id', '=', company_id)]",
        check_company=True,
        ondelete="restrict",
        tracking=True,
        help="Used when no product is chosen.",
    )

    def action_autotask_create_contract(self):
        """Open the small form creating a contract in Autotask."""
        return self._rebilling_psa_wizard("autotask", "rebilling.autotask.contract.wizard")

    def action_autotask_create_product(self):
        """Open the small form creating a product in Autotask."""
        return self._rebilling_psa_wizard("autotask", "rebilling.autotask.product.wizard")
