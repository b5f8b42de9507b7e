from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    rebilling_rate_plan_id = fields.Many2one(
        "rebilling.rate.plan",
        "Rate Plan",
        company_dependent=True,
        check_company=True,
        domain="[('company_id', '=', current_company_id)]",
        help="Rates this customer's calls in the current company (each company has its own "
        "plans); the company's default rate plan when empty.",
    )
    rebilling_customer_invoice_ids = fields.One2many(
        "account.move",
        "partner_id",
        "Customer Invoices",
        domain=[("move_type", "in", ("out_invoice", "out_refund"))],
        readonly=True,
    )

    def _rebilling_voice_trunk(self, company):
        """The trunk of the calls of this customer's PBX: the first identifier of their
        latest voice service in ``company`` (``False`` without one).

        What a CDR file of one customer (a format's or an upload's) gives its calls
        without a trunk. Extend for another choice of the identifier.
        """
        self.ensure_one()
        service = self.env["rebilling.service"].search(
            [
                ("partner_id", "child_of", self.commercial_partner_id.id),
                ("service_type", "=", "voice"),
                ("identifiers", "!=", False),
                ("company_id", "=", company.id),
            ],
            order="date_start desc, id desc",
            limit=1,
        )
        identifiers = service._identifier_list() if service else []
        return identifiers[0] if identifiers else False

    @api.ondelete(at_uninstall=False)
    def _rebilling_cdr_detach(self):
        self.env["rebilling.cdr"]._detach("partner_id", self.ids)

    def action_rebilling_reseller_invoice(self):
        """Open the "Create invoice" wizard: usage of a chosen period on one invoice."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Create Invoice"),
            "res_model": "rebilling.reseller.invoice.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_partner_id": self.id},
        }

    def action_rebilling_search_invoices(self):
        """All customer invoices of the partner, with the search bar."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_invoices"
        )
        action["domain"] = [
            ("partner_id", "=", self.id),
            ("move_type", "in", ("out_invoice", "out_refund")),
        ]
        action["context"] = {}
        return action

    def action_rebilling_calls(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_voip.action_rebilling_cdr"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {}
        return action
