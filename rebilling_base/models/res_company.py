import base64
import io
import re

import pytz
from PIL import Image
from stdnum.au import abn as stdnum_abn

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..tools import notify

LOGO_FORMATS = {"JPEG": "JPG", "GIF": "GIF", "PNG": "PNG"}
LOGO_MAX_WIDTH = 200
LOGO_MAX_HEIGHT = 128


class ResCompany(models.Model):
    """The rebilling configuration of a company: its fields, whether it is complete, who
    edits it. Numbering, the sender email, the ABN Lookup, the notification email and the
    invoice preview extend the same model in files of their own (``res_company_*.py``)."""

    _inherit = "res.company"

    rebilling_auto_invoice = fields.Boolean(
        "Auto Invoice",
        help="Email invoices to customers automatically once they are generated.",
    )
    rebilling_company_name = fields.Char(
        "Invoice Company Name", help="Shown on the first page of every invoice."
    )
    rebilling_phone = fields.Char("Invoice Company Phone")
    rebilling_abn = fields.Char(
        "ABN",
        related="partner_id.vat",
        readonly=False,
        help="Australian Business Number, stored as the company's tax id.",
    )
    rebilling_payment_term_days = fields.Integer(
        "Payment Terms (days)",
        default=14,
        help="Days between the invoice date (the 1st) and the due date.",
    )
    rebilling_catch_up_months = fields.Integer(
        "Catch-up Limit (months)",
        default=3,
        help="How many billed months back a catch-up bills the missed days of a service "
        "or recurring charge entered late. Older missed days are not billed: the invoice "
        "names their amount (Catch-up not billed) and is flagged for review (Back-billing "
        "beyond limit), for an approver to add them by hand if they are owed. "
        "0: no limit.",
    )
    rebilling_payment_instructions = fields.Text("Payment Instructions")
    rebilling_bank_account_name = fields.Char("Bank Account Name")
    rebilling_bsb = fields.Char("BSB", help="Six digits, printed as 000-000.")
    rebilling_bank_account_number = fields.Char("Bank Account Number")
    rebilling_logo = fields.Binary(
        "Invoice Logo",
        attachment=True,
        help="JPG, GIF or PNG, at most 200 px wide and 128 px high. Printed top left.",
    )
    rebilling_xero_account_code = fields.Char(
        "Default Xero Account Code",
        default="200",
        help="Account code of the invoice lines in Xero exports and pushes; "
        "a product can override it.",
    )
    rebilling_digest_days = fields.Integer(
        "Month-end Digest (days before the run)",
        default=3,
        help="From this many days before the 1st, the notification email gets a daily list of "
        "what would block or spoil the next run (Rebilling > Month end), when there is any.",
    )
    rebilling_run_hour = fields.Integer(
        "Billing Run Hour",
        default=1,
        help="Hour of the 1st of the month (01 to 05, company time zone) when the run starts.",
    )
    rebilling_tz = fields.Selection(
        "_rebilling_tz_selection",
        "Time Zone",
        default="Australia/Sydney",
        required=True,
        help="The one time zone of rebilling: the run hour, billing periods, usage months, "
        "rate dates and the off-peak hour of reissues are read in it.",
    )
    rebilling_config_missing = fields.Text(compute="_compute_rebilling_config_missing")
    rebilling_configured = fields.Boolean(compute="_compute_rebilling_config_missing")

    _rebilling_run_hour_range = models.Constraint(
        "CHECK (rebilling_run_hour BETWEEN 1 AND 5)",
        "The billing run starts between 01:00 and 06:00: choose an hour from 1 to 5.",
    )
    _rebilling_catch_up_months_positive = models.Constraint(
        "CHECK (rebilling_catch_up_months >= 0)",
        "The catch-up limit cannot be negative.",
    )
    _rebilling_payment_term_positive = models.Constraint(
        "CHECK (rebilling_payment_term_days >= 0)",
        "Payment terms cannot be negative.",
    )

    @api.model
    def _rebilling_tz_selection(self):
        return [(tz, tz) for tz in pytz.common_timezones]

    def _rebilling_tz(self):
        """The company's rebilling time zone (a pytz zone)."""
        self.ensure_one()
        return pytz.timezone(self.rebilling_tz or "UTC")

    def _rebilling_local_now(self, now=None):
        """``now`` (naive UTC, default the current time) in the company's time zone."""
        self.ensure_one()
        return pytz.utc.localize(now or fields.Datetime.now()).astimezone(self._rebilling_tz())

    # ------------------------------------------------------------ configuration state
    def _rebilling_required_fields(self):
        """Fields that must be set before rebilling pages open.

        Extend for an addon's own required configuration fields: this list is
        the one source of the gate (``rebilling_configured``, what the gate
        says is missing) and of its ``@api.depends``, read when the registry
        is set up, so an extension is recomputed on change too.
        """
        return [
            "rebilling_company_name",
            "rebilling_phone",
            "rebilling_abn",
            "rebilling_bank_account_name",
            "rebilling_bsb",
            "rebilling_bank_account_number",
            "rebilling_sender_email",
        ]

    @api.depends(lambda self: self._rebilling_required_fields())
    def _compute_rebilling_config_missing(self):
        for company in self:
            missing = [
                company._fields[name].get_description(self.env)["string"]
                for name in company._rebilling_required_fields()
                if not company[name]
            ]
            company.rebilling_config_missing = ", ".join(missing)
            company.rebilling_configured = not missing

    def action_rebilling_open(self, xmlid):
        """Open ``xmlid`` or, while the configuration is incomplete, the configuration form
        (for who can edit it; the others are told who can)."""
        gate = self.env.company._rebilling_gate_action()
        if gate:
            return gate
        return self.env["ir.actions.act_window"]._for_xml_id(xmlid)

    def _rebilling_gate_action(self):
        """None when rebilling is configured; else the configuration form for a user who
        can edit it, or an error naming the users who can."""
        self.ensure_one()
        if self.rebilling_configured:
            return None
        if self._rebilling_can_configure():
            return self.action_rebilling_configuration()
        raise UserError(self._rebilling_gate_message())

    def _rebilling_can_configure(self, user=None):
        """Whether ``user`` (default: the current user) may edit the configuration."""
        user = user or self.env.user
        return user.has_group("rebilling_base.group_rebilling_manager")

    def _rebilling_configurators(self):
        """Active internal users of this company who can edit the configuration."""
        self.ensure_one()
        group = self.env.ref("rebilling_base.group_rebilling_manager")
        users = (
            self.env["res.users"]
            .sudo()
            .search([("all_group_ids", "in", group.ids), ("share", "=", False)])
        )
        return users.filtered(lambda u: self in u.company_ids and u.id != SUPERUSER_ID)

    def _rebilling_gate_message(self):
        self.ensure_one()
        names = ", ".join(self._rebilling_configurators().mapped("name"))
        return self.env._(
            "Rebilling is not configured yet for %(company)s (missing: %(missing)s). "
            "Only a Rebilling Manager can complete the configuration: ask %(names)s.",
            company=self.name,
            missing=self.rebilling_config_missing,
            names=names or self.env._("your administrator"),
        )

    def action_rebilling_open_summary(self):
        """The Summary: the current company's latest billing run, or its invoices before any."""
        company = self.env.company
        if not company.rebilling_configured:
            return self.action_rebilling_open("rebilling_base.action_rebilling_summary")
        run = self.env["rebilling.billing.run"].search(
            [("company_id", "=", company.id), ("dry_run", "=", False)],
            order="period_start desc",
            limit=1,
        )
        if not run:
            return self.action_rebilling_open("rebilling_base.action_rebilling_summary")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Summary"),
            "res_model": "rebilling.billing.run",
            "res_id": run.id,
            "view_mode": "form",
            "views": [
                (self.env.ref("rebilling_base.rebilling_billing_run_view_summary").id, "form")
            ],
            "target": "current",
        }

    def action_rebilling_open_email_summary(self):
        """The Email Summary of the current company: its invoice and notification emails."""
        action = self.action_rebilling_open("rebilling_base.action_rebilling_email_summary")
        if action.get("res_model") == "mail.notification":
            action["domain"] = [
                ("notification_type", "=", "email"),
                ("rebilling_company_id", "=", self.env.company.id),
            ]
        return action

    def action_rebilling_configuration(self):
        company = self or self.env.company
        company.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Rebilling Configuration"),
            "res_model": "res.company",
            "res_id": company.id,
            "view_mode": "form",
            "views": [(self.env.ref("rebilling_base.res_company_rebilling_form").id, "form")],
            "target": "current",
        }

    # ------------------------------------------------------------ validation
    @api.model
    def _rebilling_check_abn(self, abn):
        """ABN checksum (the field is related to the partner's tax id, so no constraint)."""
        if abn and not stdnum_abn.is_valid(abn):
            raise ValidationError(
                self.env._(
                    "The ABN %(abn)s is not valid: an ABN has 11 digits and a checksum.", abn=abn
                )
            )

    @api.constrains("rebilling_bsb")
    def _check_rebilling_bsb(self):
        for company in self:
            if company.rebilling_bsb and not re.fullmatch(r"\d{3}-?\d{3}", company.rebilling_bsb):
                raise ValidationError(
                    self.env._(
                        "The BSB %(bsb)s is not valid: a BSB has 6 digits, e.g. 062-000.",
                        bsb=company.rebilling_bsb,
                    )
                )

    @api.constrains("rebilling_logo")
    def _check_rebilling_logo(self):
        for company in self:
            if company.rebilling_logo:
                self._rebilling_validate_logo(base64.b64decode(company.rebilling_logo))

    @api.model
    def _rebilling_validate_logo(self, raw):
        try:
            image = Image.open(io.BytesIO(raw))
            image_format = image.format
            width, height = image.size
        except Image.DecompressionBombError as exc:
            raise ValidationError(
                self.env._(
                    "The logo is far too large: the largest accepted size is "
                    "%(mw)s px wide and %(mh)s px high.",
                    mw=LOGO_MAX_WIDTH,
                    mh=LOGO_MAX_HEIGHT,
                )
            ) from exc
        except (OSError, ValueError) as exc:
            raise ValidationError(
                self.env._("The logo is not an image: upload a JPG, GIF or PNG file.")
            ) from exc
        if image_format not in LOGO_FORMATS:
            raise ValidationError(
                self.env._(
                    "The logo is a %(fmt)s image: only JPG, GIF and PNG are accepted.",
                    fmt=image_format,
                )
            )
        if width > LOGO_MAX_WIDTH or height > LOGO_MAX_HEIGHT:
            raise ValidationError(
                self.env._(
                    "The logo is %(w)sx%(h)s px: the largest accepted size is "
                    "%(mw)s px wide and %(mh)s px high.",
                    w=width,
                    h=height,
                    mw=LOGO_MAX_WIDTH,
                    mh=LOGO_MAX_HEIGHT,
                )
            )

    def _rebilling_bsb_display(self):
        self.ensure_one()
        digits = re.sub(r"\D", "", self.rebilling_bsb or "")
        return f"{digits[:3]}-{digits[3:]}" if len(digits) == 6 else self.rebilling_bsb or ""

    # ------------------------------------------------------------ access
    @api.model
    def _rebilling_config_fields(self):
        """Fields a rebilling manager edits. Extend for an addon's own configuration fields.

        The editable ``rebilling_*`` fields; not the sender confirmation (only
        the emailed link sets it), nor technical ones (readonly, or restricted
        with ``groups``).
        """
        return {
            name
            for name, field in self._fields.items()
            if name.startswith("rebilling_") and not field.readonly and not field.groups
        }

    def _rebilling_config_write(self, fnames):
        """Whether changing ``fnames`` goes through the controlled path of rebilling managers.

        Rebilling managers have no write access on ``res.company``: they change
        the rebilling configuration fields (``_rebilling_config_fields``) of
        their own companies, and nothing else, through this path (with sudo).
        Users with write access (Odoo's "Access Rights") write as usual.
        """
        return bool(
            self
            and not self.env.su
            and not self.has_access("write")
            and self.env.user.has_group("rebilling_base.group_rebilling_manager")
            and set(fnames) <= self._rebilling_config_fields()
            and not self - self.env.user.company_ids
        )

    def onchange(self, values, field_names, fields_spec):
        # The configuration form of a rebilling manager (see _rebilling_config_write).
        if field_names and self._rebilling_config_write(field_names):
            for fname in fields_spec:
                if fname in self._fields:
                    self._check_field_access(self._fields[fname], "read")
            return super(ResCompany, self.sudo()).onchange(values, field_names, fields_spec)
        return super().onchange(values, field_names, fields_spec)

    # ------------------------------------------------------------ create and write
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._rebilling_check_abn(vals.get("rebilling_abn"))
            self._rebilling_check_logo_vals(vals)
        companies = super().create(vals_list)
        companies.filtered("rebilling_logo")._rebilling_replace_default_logo()
        companies._rebilling_round_tax_per_line()
        return companies

    @api.model
    def _rebilling_check_logo_vals(self, vals):
        """Check a new logo before Odoo stores it: the attachment of an image is decoded (and
        resized) on creation, where a decompression bomb would be a server error."""
        if vals.get("rebilling_logo"):
            self._rebilling_validate_logo(base64.b64decode(vals["rebilling_logo"]))

    def write(self, vals):
        self._rebilling_check_logo_vals(vals)
        self._rebilling_check_write(vals)
        if self._rebilling_config_write(list(vals)):
            return self.sudo().write(vals)
        self._rebilling_check_abn(vals.get("rebilling_abn"))
        res = super().write(vals)
        self._rebilling_after_write(vals)
        return res

    def _rebilling_check_write(self, vals):
        """Refuse ``vals`` before anything is written (extend for a concern's own rules)."""

    def _rebilling_after_write(self, vals):
        """What follows a write of ``vals`` (extend for a concern's own fields).

        Called once per write, after it (in sudo when a rebilling manager
        writes through ``_rebilling_config_write``).
        """
        if vals.get("rebilling_logo"):
            self._rebilling_replace_default_logo()
        if {"rebilling_company_name", "tax_calculation_rounding_method"} & set(vals):
            self._rebilling_round_tax_per_line()

    def _rebilling_round_tax_per_line(self):
        """Rebilling companies round GST per line (extend for other rebilling markers).

        Xero computes the tax of every line, rounded to the cent, and sums the
        lines (developer.xero.com "Rounding in Xero"); so do its CSV import and
        the PSAs, which receive line amounts. Rounding per line in Odoo makes the
        PDF, the Summary, the CSV and what Xero computes one and the same total.
        """
        companies = self.filtered(
            lambda c: (
                c.rebilling_company_name and c.tax_calculation_rounding_method != "round_per_line"
            )
        )
        if companies:
            companies.sudo().write({"tax_calculation_rounding_method": "round_per_line"})

    @api.model
    def _rebilling_round_tax_per_line_all(self):
        """Called on module install/update (data): existing rebilling companies round per line."""
        self.sudo().search(
            [("rebilling_company_name", "!=", False)]
        )._rebilling_round_tax_per_line()

    def _rebilling_replace_default_logo(self):
        """White label: the reseller's logo replaces Odoo's "Your logo" placeholder, the
        company logo of the portal, the emails and any report (a logo of its own stays)."""
        for company in self:
            if company.rebilling_logo and company.uses_default_logo:
                company.sudo().logo = company.rebilling_logo

    # ------------------------------------------------------------ configuration buttons
    def _rebilling_check_configure(self):
        """Raise unless the user configures rebilling in these companies (a Rebilling
        Administrator working in them). Called first by the configuration's buttons that
        send mail or query a service, before any side effect."""
        if self.env.su:
            return
        if not self._rebilling_can_configure() or self - self.env.user.company_ids:
            raise AccessError(
                self.env._("Only a Rebilling Administrator of the company can do this.")
            )

    def _rebilling_notify(self, message, kind="info"):
        return notify.notification(message, kind, sticky=kind != "success")
