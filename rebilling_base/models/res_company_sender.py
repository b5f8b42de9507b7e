import logging
import secrets
from email.utils import formataddr

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import email_split

from ..tools import spf

_logger = logging.getLogger(__name__)


class ResCompany(models.Model):
    """The invoice sender email: its confirmation by an emailed link, its SPF check."""

    _inherit = "res.company"  # pylint: disable=consider-merging-classes-inherited

    rebilling_sender_email = fields.Char(
        "Invoice Sender Email", help="Invoices are emailed from this address once it is confirmed."
    )
    rebilling_sender_confirmed = fields.Boolean("Sender Email Confirmed", readonly=True, copy=False)
    rebilling_email_from = fields.Char(
        "Invoice Email From",
        compute="_compute_rebilling_email_from",
        help="The From header of the invoice emails: the invoice company name and sender email.",
    )
    rebilling_sender_token = fields.Char(copy=False, groups="base.group_system")

    @api.constrains("rebilling_sender_email")
    def _check_rebilling_sender_email(self):
        """One plain address: the confirmation goes to it, and only to it."""
        for company in self:
            email = (company.rebilling_sender_email or "").strip()
            if email and email_split(email) != [email]:
                raise ValidationError(
                    self.env._(
                        "The invoice sender email must be one address, like "
                        "billing@example.com: %s",
                        email,
                    )
                )

    @api.depends("name", "rebilling_company_name", "rebilling_sender_email")
    def _compute_rebilling_email_from(self):
        for company in self:
            email = (company.rebilling_sender_email or "").strip()
            name = company.rebilling_company_name or company.name or ""
            # formataddr quotes a name with commas or quotes: one valid address.
            company.rebilling_email_from = formataddr((name, email)) if email else False

    def _rebilling_check_write(self, vals):
        if vals.get("rebilling_sender_confirmed") and not self.env.su:
            raise AccessError(
                self.env._("The sender email is confirmed by the link of the confirmation email.")
            )
        return super()._rebilling_check_write(vals)

    def _rebilling_after_write(self, vals):
        if "rebilling_sender_email" in vals:
            self.sudo().rebilling_sender_confirmed = False
            for company in self.filtered("rebilling_sender_email"):
                company._rebilling_send_confirmation()
        return super()._rebilling_after_write(vals)

    def _rebilling_send_confirmation(self):
        self.ensure_one()
        token = secrets.token_urlsafe(32)
        self.sudo().rebilling_sender_token = token
        template = self.env.ref("rebilling_base.mail_template_sender_confirmation")
        url = self._rebilling_confirmation_url(token)
        # To the address being confirmed, and to it only (not the company's own contacts).
        template.sudo().with_context(rebilling_confirm_url=url).send_mail(
            self.id,
            force_send=False,
            email_layout_xmlid="mail.mail_notification_light",
            email_values={
                "email_to": self.rebilling_sender_email.strip(),
                "email_cc": False,
                "recipient_ids": [],
            },
        )

    def action_rebilling_resend_confirmation(self):
        self._rebilling_check_configure()
        for company in self:
            if not company.rebilling_sender_email:
                raise UserError(self.env._("Enter the invoice sender email first."))
            if company.rebilling_sender_confirmed:
                raise UserError(
                    self.env._("%s is already confirmed.", company.rebilling_sender_email)
                )
            company._rebilling_send_confirmation()
        return self._rebilling_notify(
            self.env._("A confirmation email was sent to %s.", self.rebilling_sender_email)
        )

    def action_rebilling_check_confirmed(self):
        self.ensure_one()
        if self.rebilling_sender_confirmed:
            return self._rebilling_notify(
                self.env._(
                    "%s is confirmed: invoices are sent from it.", self.rebilling_sender_email
                ),
                "success",
            )
        return self._rebilling_notify(
            self.env._(
                "%s is not confirmed yet: open the link in the confirmation email or resend it.",
                self.rebilling_sender_email,
            ),
            "warning",
        )

    @api.model
    def _rebilling_confirm_sender(self, token):
        """Confirm the sender address that owns ``token`` (one-time)."""
        if not token:
            return self.browse()
        company = self.sudo().search([("rebilling_sender_token", "=", token)], limit=1)
        if company:
            company.write({"rebilling_sender_token": False})
            company.rebilling_sender_confirmed = True
            _logger.info("company %s: sender email confirmed", company.id)
        return company

    def _rebilling_confirmation_url(self, token):
        base = self.get_base_url()
        return f"{base}/rebilling/sender/confirm/{token}"

    # ------------------------------------------------------------ SPF
    def action_rebilling_check_spf(self):
        self.ensure_one()
        self._rebilling_check_configure()
        if not self.rebilling_sender_email or "@" not in self.rebilling_sender_email:
            raise UserError(self.env._("Enter the invoice sender email first."))
        domain = self.rebilling_sender_email.rsplit("@", 1)[1]
        mail_server = self.env["ir.mail_server"].sudo().search([], limit=1)
        nameserver = self.env["ir.config_parameter"].sudo().get_param("rebilling.dns_server")
        resolver = spf.make_resolver(nameserver or None)
        result = spf.check(domain, mail_server.smtp_host or None, resolver=resolver)
        return self._rebilling_notify(result.message, "success" if result.ok else "warning")
