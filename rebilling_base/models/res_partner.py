import logging

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import email_normalize

from ..tools import abr, notify

_logger = logging.getLogger(__name__)

ABN_STATES = [("active", "Active"), ("cancelled", "Cancelled"), ("not_found", "Not found")]


class ResPartner(models.Model):
    _inherit = "res.partner"

    rebilling_enabled = fields.Boolean(
        index=True,
        help="Invoice this customer in the monthly billing run.",
    )
    rebilling_invoice_email = fields.Char(
        "Invoice Email", help="Invoices are emailed to this address (the contact email when empty)."
    )
    rebilling_class_id = fields.Many2one(
        "rebilling.customer.class", "Customer Class", index="btree_not_null"
    )
    rebilling_service_ids = fields.One2many("rebilling.service", "partner_id", "Services")
    rebilling_charge_ids = fields.One2many("rebilling.charge", "partner_id", "Charges")
    rebilling_service_count = fields.Integer(compute="_compute_rebilling_counts")
    rebilling_invoice_count = fields.Integer(compute="_compute_rebilling_counts")
    rebilling_config_gate = fields.Text(
        "Rebilling Configuration Gate",
        compute="_compute_rebilling_config_gate",
        help="Why the rebilling tab is closed: the company's configuration is incomplete.",
    )
    rebilling_abn_status = fields.Selection(
        ABN_STATES, "ABN Status", readonly=True, copy=False, help="As the ABR ABN Lookup says."
    )
    rebilling_abn_gst = fields.Boolean(
        "GST Registered (ABR)", readonly=True, copy=False, help="As the ABR ABN Lookup says."
    )
    rebilling_abn_entity_name = fields.Char("ABR Entity Name", readonly=True, copy=False)
    rebilling_abn_entity_type = fields.Char("ABR Entity Type", readonly=True, copy=False)
    rebilling_abn_gst_from = fields.Date("GST Registered From", readonly=True, copy=False)
    rebilling_abn_gst_to = fields.Date("GST Registered Until", readonly=True, copy=False)
    rebilling_abn_checked = fields.Datetime("ABN Checked On", readonly=True, copy=False)
    rebilling_abn_message = fields.Char("ABN Lookup Message", readonly=True, copy=False)

    @api.constrains("rebilling_invoice_email")
    def _check_rebilling_invoice_email(self):
        for partner in self:
            email = partner.rebilling_invoice_email
            if email and not email_normalize(email):
                raise ValidationError(self.env._("%s is not a valid email address.", email))

    @api.constrains("rebilling_class_id", "company_id")
    def _check_rebilling_class_company(self):
        """A customer's class is shared or of its company; a customer of every company (no
        company) takes a class of a company the user works in (constraints run with sudo:
        the user is the one writing; the superuser, e.g. a cron, may set any)."""
        for partner in self:
            owner = partner.rebilling_class_id.company_id
            if not owner or (not partner.company_id and self.env.uid == SUPERUSER_ID):
                continue
            allowed = partner.company_id or self.env.user.company_ids
            if owner not in allowed:
                raise ValidationError(
                    self.env._(
                        "The customer class %(cls)s belongs to another company than %(partner)s.",
                        cls=partner.rebilling_class_id.sudo().display_name,
                        partner=partner.display_name,
                    )
                )

    @api.depends_context("company", "uid")
    def _compute_rebilling_config_gate(self):
        company = self.env.company
        message = False
        if not company.rebilling_configured:
            message = (
                self.env._(
                    "Complete the rebilling configuration first (missing: %s).",
                    company.rebilling_config_missing,
                )
                if company._rebilling_can_configure()
                else company._rebilling_gate_message()
            )
        self.rebilling_config_gate = message

    def _compute_rebilling_counts(self):
        services = dict(
            self.env["rebilling.service"]._read_group(
                [("partner_id", "in", self.ids)], ["partner_id"], ["__count"]
            )
        )
        invoices = dict(
            self.env["account.move"]._read_group(
                [("partner_id", "in", self.ids), ("rebilling_period", "!=", False)],
                ["partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.rebilling_service_count = services.get(partner, 0)
            partner.rebilling_invoice_count = invoices.get(partner, 0)

    def _rebilling_email(self):
        self.ensure_one()
        return self.rebilling_invoice_email or self.email

    def action_rebilling_services(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_service"
        )
        action["domain"] = [("partner_id", "=", self.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def action_rebilling_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_invoices"
        )
        action["domain"] = [("partner_id", "=", self.id), ("rebilling_period", "!=", False)]
        return action

    # ------------------------------------------------------------ ABR ABN Lookup
    def action_rebilling_check_abn(self):
        """Button: check the ABN (tax id) of the customer with the ABR ABN Lookup."""
        self.ensure_one()
        self._rebilling_check_user()
        if not self.vat:
            raise UserError(self.env._("Enter the ABN of %s first.", self.display_name))
        company = self.company_id or self.env.company
        read = not isinstance(self._rebilling_check_abns(company)[self], abr.AbrAnswerError)
        return notify.notification(
            self._rebilling_abn_summary(),
            "success" if read and self.rebilling_abn_gst else "warning",
        )

    def _rebilling_check_user(self):
        """Raise unless a Rebilling User who sees these customers calls: first thing in the
        customer buttons that query a service or change what a service recorded."""
        if self.env.su:
            return
        if not self.env.user.has_group("rebilling_base.group_rebilling_user"):
            raise AccessError(self.env._("Only Rebilling Users can do this."))
        self.check_access("read")

    def _rebilling_abn_summary(self):
        self.ensure_one()
        states = dict(ABN_STATES)
        return self.env._(
            "ABN %(abn)s: %(state)s, %(gst)s. %(message)s",
            abn=self.vat,
            state=states.get(self.rebilling_abn_status, self.env._("not checked")),
            gst=self.env._("registered for GST")
            if self.rebilling_abn_gst
            else self.env._("not registered for GST"),
            message=self.rebilling_abn_message or self.rebilling_abn_entity_name or "",
        )

    def _rebilling_check_abns(self, company):
        """Look up the ABNs of ``self`` with the ABN Lookup GUID of ``company``.

        A failure to reach the service raises for a button; the nightly check
        catches it once per company (see ``res.company._cron_rebilling_check_abns``).
        """
        guid = company.sudo().rebilling_abr_guid
        if not guid:
            raise UserError(
                self.env._(
                    "Enter the ABN Lookup GUID of %s in the rebilling configuration "
                    "(register at abr.business.gov.au/Tools/WebServices).",
                    company.name,
                )
            )
        wsdl = (
            self.env["ir.config_parameter"].sudo().get_param("rebilling.abr_wsdl_url")
            or abr.DEFAULT_WSDL
        )
        today = fields.Date.context_today(self)
        results = {}
        try:
            client = abr.client(wsdl)
            for partner in self:
                try:
                    results[partner] = abr.lookup(client, guid, partner.vat, today=today)
                except abr.AbrAnswerError as exc:
                    # This ABN's answer only: kept on the partner, the others go on.
                    results[partner] = exc
        except abr.AbrError as exc:
            raise UserError(str(exc)) from exc
        now = fields.Datetime.now()
        for partner, result in results.items():
            partner.sudo().write(partner._rebilling_abn_vals(result, now))
        return results

    def _rebilling_abn_vals(self, result, now):
        """Values of an ABN Lookup answer (extend for more of the ABR's data)."""
        if isinstance(result, abr.AbrAnswerError):
            return {"rebilling_abn_checked": now, "rebilling_abn_message": str(result)[:250]}
        status = "active" if result.active else "cancelled"
        if not result.found:
            status = "not_found"
        return {
            "rebilling_abn_status": status,
            "rebilling_abn_gst": result.gst_registered,
            "rebilling_abn_entity_name": result.name,
            "rebilling_abn_entity_type": result.entity_type,
            "rebilling_abn_gst_from": result.gst_from,
            "rebilling_abn_gst_to": result.gst_to,
            "rebilling_abn_checked": now,
            "rebilling_abn_message": result.message,
        }
