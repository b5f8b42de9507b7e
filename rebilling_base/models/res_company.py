import base64
import contextlib
import io
import logging
import re
import secrets
from email.utils import formataddr

import pytz
from dateutil.relativedelta import relativedelta
from PIL import Image
from stdnum.au import abn as stdnum_abn

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tools import SQL, format_date

from ..tools import notify, spf
from .account_move import NO_EMAIL_ADDRESS

_logger = logging.getLogger(__name__)

LOGO_FORMATS = {"JPEG": "JPG", "GIF": "GIF", "PNG": "PNG"}
LOGO_MAX_WIDTH = 200
LOGO_MAX_HEIGHT = 128
PATTERN_TOKENS = {"%year%": "%(year)s", "%mon%": "%(month)s", "%mday%": "%(day)s"}
PREVIEW_FILENAME = "invoice-preview.pdf"


class PreviewRollback(Exception):
    """Raised to roll back the dummy records of the invoice preview."""


class ResCompany(models.Model):
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
    rebilling_notification_email = fields.Char(
        "Notification Email", help="Receives the summary of each billing run."
    )
    rebilling_invoice_prefix = fields.Char("Invoice Prefix", default="INV-")
    rebilling_invoice_start = fields.Integer("Invoice Number Start", default=1)
    rebilling_number_pattern = fields.Char(
        "Invoice Numbering Pattern",
        help="Optional. Letters, digits and symbols plus %year%, %mon%, %mday% and %num% "
        "(the incremental number), e.g. %num%/%year%. Overrides the prefix when set.",
    )
    rebilling_sequence_id = fields.Many2one("ir.sequence", copy=False, readonly=True)
    rebilling_journal_id = fields.Many2one(
        "account.journal",
        domain="[('type', '=', 'sale'), ('company_id', '=', id)]",
        help="Sales journal of the rebilling invoices; a journal of their own (code RBL) is "
        "created by the first run when empty. Customer invoices of this journal, manual ones "
        "included, take the rebilling numbers.",
    )
    rebilling_xero_account_code = fields.Char(
        "Default Xero Account Code",
        default="200",
        help="Account code of the invoice lines in Xero exports and pushes; "
        "a product can override it.",
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
    rebilling_abr_guid = fields.Char(
        "ABN Lookup GUID",
        groups="rebilling_base.group_rebilling_manager",
        help="The authentication GUID the ABR issues for its ABN Lookup web services; "
        "used to check the ABNs of the company and its customers every night.",
    )
    rebilling_abn_status = fields.Selection(related="partner_id.rebilling_abn_status")
    rebilling_abn_gst = fields.Boolean(related="partner_id.rebilling_abn_gst")
    rebilling_abn_checked = fields.Datetime(related="partner_id.rebilling_abn_checked")
    rebilling_abn_message = fields.Char(related="partner_id.rebilling_abn_message")
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
        """Fields that must be set before rebilling pages open (override point)."""
        return [
            "rebilling_company_name",
            "rebilling_phone",
            "rebilling_abn",
            "rebilling_bank_account_name",
            "rebilling_bsb",
            "rebilling_bank_account_number",
            "rebilling_sender_email",
        ]

    @api.depends(
        "rebilling_company_name",
        "rebilling_phone",
        "rebilling_abn",
        "rebilling_bank_account_name",
        "rebilling_bsb",
        "rebilling_bank_account_number",
        "rebilling_sender_email",
    )
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

    def action_rebilling_preview(self):
        """The real invoice document (same template, taxes and totals) with dummy data.

        The dummy customer and invoice are created, rendered and rolled back:
        nothing is kept but the PDF, attached to the company and opened.
        """
        self.ensure_one()
        pdf = self._rebilling_preview_pdf()
        Attachment = self.env["ir.attachment"].sudo()
        Attachment.search(
            [
                ("res_model", "=", "res.company"),
                ("res_id", "=", self.id),
                ("name", "=", PREVIEW_FILENAME),
            ]
        ).unlink()
        attachment = Attachment.create(
            {
                "name": PREVIEW_FILENAME,
                "raw": pdf,
                "mimetype": "application/pdf",
                "res_model": "res.company",
                "res_id": self.id,
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?filename={PREVIEW_FILENAME}",
            "target": "new",
        }

    def _rebilling_preview_pdf(self, report_ref="account.account_invoices"):
        """Render ``report_ref`` for a dummy invoice inside a savepoint rolled back after."""
        self.ensure_one()
        rendered = {}
        with contextlib.suppress(PreviewRollback), self.env.cr.savepoint():
            move = self.with_context(
                tracking_disable=True, mail_notrack=True
            )._rebilling_preview_move()
            rendered["pdf"] = self.env["ir.actions.report"]._render_qweb_pdf(report_ref, move.ids)[
                0
            ]
            raise PreviewRollback
        self.env.invalidate_all()
        return rendered["pdf"]

    def _rebilling_preview_move(self):
        """A posted dummy rebilling invoice of this company (call inside a rolled-back savepoint).

        Extend for more dummy lines (e.g. usage).
        """
        self.ensure_one()
        company = self.with_company(self)
        data = self._rebilling_preview_data()
        partner = company.env["res.partner"].create(
            {
                "name": "Sample Customer Pty Ltd",
                "street": "1 Example Street",
                "city": "Sydney",
                "zip": "2000",
                "country_id": self.country_id.id,
                "lang": self.partner_id.lang or self.env.lang,
                "company_id": self.id,
            }
        )
        taxes = company.env["account.tax"].search(
            [
                ("company_id", "=", self.id),
                ("type_tax_use", "=", "sale"),
                ("amount_type", "=", "percent"),
                ("amount", "=", 10),
            ],
            limit=1,
        )
        journal = self.rebilling_journal_id or company.env["account.journal"].search(
            [("type", "=", "sale"), ("company_id", "=", self.id)], limit=1
        )
        period = data["period"]
        move = company.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "company_id": self.id,
                "journal_id": journal.id,
                "partner_id": partner.id,
                "name": self._rebilling_preview_number(),
                "invoice_date": period,
                "date": period,
                "invoice_date_due": period + relativedelta(days=self.rebilling_payment_term_days),
                "rebilling_period": period,
                "invoice_line_ids": [
                    fields.Command.create(dict(line, tax_ids=[fields.Command.set(taxes.ids)]))
                    for line in data["lines"]
                ],
            }
        )
        move._post(soft=False)
        return move

    def _rebilling_preview_number(self):
        self.ensure_one()
        vals = self._rebilling_sequence_vals()
        today = fields.Date.context_today(self)
        sequence = self.rebilling_sequence_id
        # A PostgreSQL sequence moves outside the ORM: read its current value.
        sequence.invalidate_recordset(["number_next_actual"])
        number = sequence.number_next_actual or self.rebilling_invoice_start
        interpolate = {
            "year": today.strftime("%Y"),
            "month": today.strftime("%m"),
            "day": today.strftime("%d"),
        }
        return "{}{}{}".format(
            vals["prefix"] % interpolate,
            str(number).zfill(vals["padding"]),
            vals["suffix"] % interpolate,
        )

    def _rebilling_preview_data(self):
        """Dummy invoice content for the preview: the period and the line values."""
        period = fields.Date.context_today(self).replace(day=1)
        last = period + relativedelta(months=1, days=-1)
        env = self.with_context(lang=self.partner_id.lang or self.env.lang).env
        dates = f"{format_date(env, period)} - {format_date(env, last)}"
        return {
            "period": period,
            "lines": [
                {
                    "name": f"Business NBN 100/40 ({dates})",
                    "quantity": 1,
                    "price_unit": 99.0,
                    "rebilling_line_kind": "service",
                },
                {
                    "name": f"Hosted PBX seat ({dates})",
                    "quantity": 5,
                    "price_unit": 25.0,
                    "rebilling_line_kind": "service",
                },
                {
                    "name": f"Static IP address ({dates})",
                    "quantity": 1,
                    "price_unit": 10.0,
                    "rebilling_line_kind": "recurring",
                },
                {
                    "name": "Call usage",
                    "quantity": 1,
                    "price_unit": 42.5,
                    "rebilling_line_kind": "usage",
                },
            ],
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
        except (OSError, ValueError, Image.DecompressionBombError) as exc:
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

    @api.constrains("rebilling_number_pattern", "rebilling_invoice_start")
    def _check_rebilling_numbering(self):
        for company in self:
            pattern = company.rebilling_number_pattern
            if pattern and pattern.count("%num%") != 1:
                raise ValidationError(
                    self.env._(
                        "The numbering pattern must contain %%num%% exactly once: %s", pattern
                    )
                )
            if company.rebilling_invoice_start < 1:
                raise ValidationError(self.env._("The invoice number start must be 1 or more."))

    def _rebilling_bsb_display(self):
        self.ensure_one()
        digits = re.sub(r"\D", "", self.rebilling_bsb or "")
        return f"{digits[:3]}-{digits[3:]}" if len(digits) == 6 else self.rebilling_bsb or ""

    # ------------------------------------------------------------ numbering
    def _rebilling_sequence_vals(self):
        self.ensure_one()
        pattern = self.rebilling_number_pattern or f"{self.rebilling_invoice_prefix or ''}%num%"
        prefix, suffix = pattern.split("%num%")
        for token, odoo_token in PATTERN_TOKENS.items():
            prefix = prefix.replace(token, odoo_token)
            suffix = suffix.replace(token, odoo_token)
        return {
            "prefix": prefix,
            "suffix": suffix,
            "padding": 0 if self.rebilling_number_pattern else 5,
            # A PostgreSQL sequence: taking numbers locks nothing (see _rebilling_next_numbers).
            "implementation": "standard",
        }

    def _rebilling_sync_sequence(self):
        for company in self:
            vals = company._rebilling_sequence_vals()
            seq = company.sudo().rebilling_sequence_id
            if not seq:
                seq = (
                    self.env["ir.sequence"]
                    .sudo()
                    .create(
                        {
                            **vals,
                            "name": f"Rebilling invoices ({company.name})",
                            "code": "rebilling.invoice",
                            "company_id": company.id,
                            "number_next": company.rebilling_invoice_start,
                        }
                    )
                )
                company.sudo().rebilling_sequence_id = seq
            else:
                seq.write(vals)
                # Moving the start forward is allowed; never backwards (no number reused).
                if company.rebilling_invoice_start > seq.number_next_actual:
                    seq.number_next = company.rebilling_invoice_start

    def _rebilling_next_numbers(self, count, date):
        """Take ``count`` invoice numbers of the company's prefix or pattern.

        Numbers are unique and increasing. They come from a PostgreSQL sequence,
        so taking them locks no row: billing chunks running at the same time
        never wait for each other. A number taken by a transaction that rolls
        back (a chunk retried after a transient error, a killed worker) is not
        handed out again: it leaves a gap.
        """
        self.ensure_one()
        if not self.rebilling_sequence_id:
            self.sudo()._rebilling_sync_sequence()
        seq = self.sudo().rebilling_sequence_id.with_context(
            ir_sequence_date=fields.Date.to_string(date)
        )
        if seq.implementation != "standard":
            return [seq._next() for _i in range(count)]
        rows = self.env.execute_query(
            SQL(
                "SELECT nextval(%s) FROM generate_series(1, %s)",
                f"ir_sequence_{seq.id:03d}",
                count,
            )
        )
        return [seq.get_next_char(number) for (number,) in rows]

    def _rebilling_journal(self):
        """The sales journal of the rebilling invoices; a journal of their own by default.

        Its customer invoices (manual ones included) take the rebilling numbers
        (``account.move._rebilling_numbered``), so Odoo's own numbering never
        hands out a number of the rebilling sequence.
        """
        self.ensure_one()
        if self.rebilling_journal_id:
            return self.rebilling_journal_id
        Journal = self.env["account.journal"].sudo().with_company(self)
        journals = Journal.search([("company_id", "=", self.id)])
        codes = set(journals.mapped("code"))
        code = next(c for c in ("RBL", *(f"RBL{i}" for i in range(2, 100))) if c not in codes)
        sales = journals.filtered(lambda j: j.type == "sale")[:1]
        journal = Journal.create(
            {
                "name": self.env._("Rebilling Invoices"),
                "code": code,
                "type": "sale",
                "company_id": self.id,
                "refund_sequence": True,
                "sequence": 50,
                # Lines without a product account take the income account of Odoo's sales.
                "default_account_id": sales.default_account_id.id,
            }
        )
        self.sudo().rebilling_journal_id = journal
        return journal

    @api.depends("name", "rebilling_company_name", "rebilling_sender_email")
    def _compute_rebilling_email_from(self):
        for company in self:
            email = (company.rebilling_sender_email or "").strip()
            name = company.rebilling_company_name or company.name or ""
            # formataddr quotes a name with commas or quotes: one valid address.
            company.rebilling_email_from = formataddr((name, email)) if email else False

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

    # ------------------------------------------------------------ sender email
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._rebilling_check_abn(vals.get("rebilling_abn"))
        companies = super().create(vals_list)
        companies.filtered("rebilling_logo")._rebilling_replace_default_logo()
        return companies

    def write(self, vals):
        if vals.get("rebilling_sender_confirmed") and not self.env.su:
            raise AccessError(
                self.env._("The sender email is confirmed by the link of the confirmation email.")
            )
        if self._rebilling_config_write(list(vals)):
            return self.sudo().write(vals)
        self._rebilling_check_abn(vals.get("rebilling_abn"))
        res = super().write(vals)
        if vals.get("rebilling_logo"):
            self._rebilling_replace_default_logo()
        if "rebilling_sender_email" in vals:
            self.sudo().rebilling_sender_confirmed = False
            for company in self.filtered("rebilling_sender_email"):
                company._rebilling_send_confirmation()
        if {
            "rebilling_number_pattern",
            "rebilling_invoice_prefix",
            "rebilling_invoice_start",
        } & set(vals):
            self._rebilling_sync_sequence()
        return res

    def _rebilling_replace_default_logo(self):
        """White label: the reseller's logo replaces Odoo's "Your logo" placeholder, the
        company logo of the portal, the emails and any report (a logo of its own stays)."""
        for company in self:
            if company.rebilling_logo and company.uses_default_logo:
                company.sudo().logo = company.rebilling_logo

    def _rebilling_send_confirmation(self):
        self.ensure_one()
        token = secrets.token_urlsafe(32)
        self.sudo().rebilling_sender_token = token
        template = self.env.ref("rebilling_base.mail_template_sender_confirmation")
        url = self._rebilling_confirmation_url(token)
        template.sudo().with_context(rebilling_confirm_url=url).send_mail(
            self.id, force_send=False, email_layout_xmlid="mail.mail_notification_light"
        )

    def action_rebilling_resend_confirmation(self):
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
        if not self.rebilling_sender_email or "@" not in self.rebilling_sender_email:
            raise UserError(self.env._("Enter the invoice sender email first."))
        domain = self.rebilling_sender_email.rsplit("@", 1)[1]
        mail_server = self.env["ir.mail_server"].sudo().search([], limit=1)
        nameserver = self.env["ir.config_parameter"].sudo().get_param("rebilling.dns_server")
        resolver = spf.make_resolver(nameserver or None)
        result = spf.check(domain, mail_server.smtp_host or None, resolver=resolver)
        return self._rebilling_notify(result.message, "success" if result.ok else "warning")

    def _rebilling_notify(self, message, kind="info"):
        return notify.notification(message, kind, sticky=kind != "success")

    # ------------------------------------------------------------ ABR ABN Lookup
    def action_rebilling_check_abn(self):
        """Button: check the company's ABN; GST registration follows the register."""
        self.ensure_one()
        if not self.rebilling_abn:
            raise UserError(self.env._("Enter the ABN first."))
        self._rebilling_check_abns()
        return self._rebilling_notify(
            self.partner_id._rebilling_abn_summary(),
            "success" if self.rebilling_abn_status == "active" else "warning",
        )

    def _rebilling_check_abns(self, customers=None):
        """Check the company's ABN (and ``customers``'); keep GST registration in step."""
        self.ensure_one()
        partners = self.partner_id.filtered("vat") | (customers or self.env["res.partner"])
        partners._rebilling_check_abns(self)
        if self.partner_id.rebilling_abn_status:
            gst = self.partner_id.rebilling_abn_gst
            if self.l10n_au_is_gst_registered != gst:
                self.sudo().l10n_au_is_gst_registered = gst

    @api.model
    def _cron_rebilling_check_abns(self):
        """Nightly: the ABNs of each company with a GUID and of its enabled customers."""
        companies = self.sudo().search([("rebilling_abr_guid", "!=", False)])
        for company in companies:
            customers = self.env["res.partner"].search(
                [
                    ("rebilling_enabled", "=", True),
                    ("vat", "!=", False),
                    ("company_id", "in", [company.id, False]),
                ]
            )
            try:
                company._rebilling_check_abns(customers)
            except UserError as exc:
                _logger.warning("company %s: ABN Lookup failed: %s", company.id, exc)

    # ------------------------------------------------------------ notification email
    def _rebilling_notification_partner(self):
        """The contact of the configuration's notification email (created once)."""
        self.ensure_one()
        email = self.rebilling_notification_email
        if not email:
            return self.env["res.partner"]
        Partner = self.env["res.partner"].sudo()
        partner = Partner.search(
            [("email", "=ilike", email), ("company_id", "in", [self.id, False])], limit=1
        )
        return partner or Partner.create(
            {"name": email, "email": email, "company_id": self.id, "type": "contact"}
        )

    def _rebilling_notify_email(self, record, subject, body):
        """Email the configuration's notification address about ``record``.

        The message is kept on ``record`` (an invoice or a billing run), so it
        is listed in the Email Summary with its delivery state.
        """
        self.ensure_one()
        partner = self._rebilling_notification_partner()
        if not partner:
            return self.env["mail.message"]
        return record.sudo().message_notify(
            partner_ids=partner.ids,
            subject=subject,
            body=body,
            email_from=self._rebilling_notification_from(),
            email_layout_xmlid="mail.mail_notification_light",
        )

    def _rebilling_notification_from(self):
        """Sender of the notification emails (the confirmed invoice sender when any)."""
        self.ensure_one()
        sender = self.rebilling_sender_email if self.rebilling_sender_confirmed else False
        return sender or self.email or self.env.user.email_formatted

    def _rebilling_notify_run_done(self, run):
        """Email the notification address that ``run`` finished, with its counts."""
        self.ensure_one()
        if run.dry_run:
            return self.env["mail.message"]  # a preview bills and emails nobody
        moves = run.invoice_ids
        no_address = moves.partner_id.filtered(lambda p: not p._rebilling_email())
        unwarned = moves.filtered(
            lambda m: m.partner_id in no_address and m.rebilling_send_error != NO_EMAIL_ADDRESS
        ).partner_id
        if unwarned:
            # Queuing warned about the others; these wait for a manual send or a review.
            run.message_post(body=moves._rebilling_no_address_message(unwarned))
        body = self.env._(
            "%(run)s finished: %(inv)s invoices, %(err)s errors, %(queued)s queued for email, "
            "%(failed)s failed to send.",
            run=run.name,
            inv=run.invoice_count,
            err=run.error_count,
            queued=len(moves.filtered(lambda m: m.rebilling_send_state == "queued")),
            failed=len(moves.filtered(lambda m: m.rebilling_send_state == "failed")),
        )
        if no_address:
            body += " " + moves._rebilling_no_address_message(no_address)
        return self._rebilling_notify_email(
            run, self.env._("Billing run %s finished", run.name), body
        )
