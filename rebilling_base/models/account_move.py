import io
import re
import zipfile
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.tools import format_date

from ..tools import notify
from .account_move_line import LINE_KINDS

SEND_STATES = [
    ("pending", "Pending"),
    ("queued", "Queued"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("cancelled", "Cancelled"),
]
SENDER_NOT_VERIFIED = "sender email not verified"
NO_EMAIL_ADDRESS = "no email address"
# One refused recipient of smtplib's SMTPRecipientsRefused: 'rcpt': (code, b'answer')
SMTP_REFUSED = re.compile(r"""'([^']+)': \((\d{3}), b?['"](.*?)['"]\)""")
# Context key of a reissue: ids of the invoices computed again, whose own billed
# items (calls) count as not billed yet (see ``_rebilling_reissue_prepare``).
REISSUE_CONTEXT = "rebilling_reissue_move_ids"
# What the sending recorded on a rebilling invoice: written only by the sending itself
# (Odoo's send, the mail queue's answer, bounces), with sudo after their checks.
SEND_RECORD_FIELDS = frozenset({"rebilling_mail_accepted", "is_move_sent"})


class AccountMove(models.Model):
    _inherit = "account.move"

    rebilling_period = fields.Date(copy=False, index="btree_not_null", readonly=True)
    rebilling_adjustment_reason = fields.Char(
        "Adjustment Reason",
        copy=False,
        readonly=True,
        help="Why this credit note adjusts the invoice (printed on the adjustment note).",
    )
    rebilling_run_id = fields.Many2one(
        "rebilling.billing.run", "Billing Run", copy=False, readonly=True, index="btree_not_null"
    )
    rebilling_send_state = fields.Selection(
        SEND_STATES,
        "Sending",
        compute="_compute_rebilling_send_state",
        store=True,
        index="btree_not_null",
    )
    rebilling_send_error = fields.Char("Sending Error", copy=False, tracking=True)
    rebilling_send_cancelled = fields.Boolean("Sending Cancelled", copy=False, tracking=True)
    rebilling_mail_accepted = fields.Boolean(
        "Accepted by the Mail Server",
        copy=False,
        readonly=True,
        help="The outgoing mail server accepted the invoice email (set when Odoo's mail "
        "queue hands it over; a bounce later turns the invoice Failed).",
    )
    rebilling_service_summary = fields.Char(
        "Services", compute="_compute_rebilling_service_summary"
    )

    rebilling_partner_key = fields.Integer(
        "Billed Customer Key",
        compute="_compute_rebilling_partner_key",
        store=True,
        readonly=True,
        precompute=True,
        help="The id of the customer the invoice was made for (no foreign key): once per "
        "customer and period, it keeps two invoices of one period distinct after their "
        "customers are merged (Odoo's merge moves partner_id, not this key).",
    )

    rebilling_catch_up_skipped = fields.Monetary(
        "Catch-up not billed",
        copy=False,
        readonly=True,
        help="Missed days of services or recurring charges entered late that lie beyond the "
        "company's catch-up limit: not billed on this invoice (add them by hand if owed).",
    )

    _rebilling_once_per_period = models.UniqueIndex(
        "(company_id, rebilling_partner_key, rebilling_period) "
        "WHERE rebilling_period IS NOT NULL AND state != 'cancel' AND move_type = 'out_invoice' "
        "AND rebilling_run_id IS NOT NULL",
        "This customer already has an invoice for this billing period.",
    )

    def write(self, vals):
        if not self.env.su and SEND_RECORD_FIELDS & set(vals) and self.filtered("rebilling_period"):
            raise AccessError(
                self.env._(
                    "Whether a rebilling invoice was sent is recorded by sending it: "
                    "use Send, or Cancel sending."
                )
            )
        return super().write(vals)

    @api.depends(
        "state",
        "sending_data",
        "is_move_sent",
        "rebilling_period",
        "rebilling_send_error",
        "rebilling_send_cancelled",
        "rebilling_mail_accepted",
    )
    def _compute_rebilling_send_state(self):
        for move in self:
            if not move.rebilling_period:
                move.rebilling_send_state = False
            elif move.state == "cancel" or move.rebilling_send_cancelled:
                move.rebilling_send_state = "cancelled"
            elif move.rebilling_send_error:
                move.rebilling_send_state = "failed"
            elif move.rebilling_mail_accepted:
                move.rebilling_send_state = "sent"
            elif move.sending_data or move.is_move_sent:
                # Rendered and handed to Odoo's outgoing mail queue: not sent until
                # the mail server accepts it.
                move.rebilling_send_state = "queued"
            else:
                move.rebilling_send_state = "pending"

    @api.depends("partner_id")
    def _compute_rebilling_partner_key(self):
        for move in self:
            move.rebilling_partner_key = move.partner_id.id

    def _compute_rebilling_service_summary(self):
        for move in self:
            names = move.invoice_line_ids.rebilling_service_id.mapped("name")
            move.rebilling_service_summary = move._rebilling_one_line(list(dict.fromkeys(names)))

    @api.model
    def _rebilling_one_line(self, names, shown=2):
        """``names`` on one line: the first ones, then how many more."""
        if len(names) <= shown + 1:
            return ", ".join(names)
        return self.env._(
            "%(names)s and %(count)s more", names=", ".join(names[:shown]), count=len(names) - shown
        )

    def _rebilling_white_label(self):
        """Whether the document prints in the reseller's white-label layout.

        Extend for other rebilling documents (e.g. usage invoices of a chosen period).
        """
        self.ensure_one()
        return bool(self.rebilling_period)

    def _rebilling_period_label(self):
        self.ensure_one()
        run = self.rebilling_run_id
        if not run:
            return format_date(self.env, self.rebilling_period, date_format="MMMM y")
        return self.env._(
            "%(start)s - %(end)s (usage %(ustart)s - %(uend)s)",
            start=format_date(self.env, run.period_start),
            end=format_date(self.env, run.period_end),
            ustart=format_date(self.env, run.usage_start),
            uend=format_date(self.env, run.usage_end),
        )

    def _rebilling_report_summary(self):
        """[(label, untaxed amount)] per kind of line, in the order of LINE_KINDS."""
        self.ensure_one()
        totals = defaultdict(float)
        for line in self.invoice_line_ids:
            totals[line.rebilling_line_kind or "manual"] += line.price_subtotal
        return [(label, totals[kind]) for kind, label in LINE_KINDS if kind in totals]

    def _reverse_moves(self, default_values_list=None, cancel=False):
        """A credit note of a rebilling invoice stays in rebilling (lists, Summary,
        portal, exports): it keeps the invoice's billing period."""
        default_values_list = default_values_list or [{} for _move in self]
        for move, default_values in zip(self, default_values_list, strict=True):
            if move.rebilling_period and move.move_type == "out_invoice":
                default_values.setdefault("rebilling_period", move.rebilling_period)
        return super()._reverse_moves(default_values_list=default_values_list, cancel=cancel)

    # ------------------------------------------------------------ numbering
    def _rebilling_numbered(self):
        """Extend for other moves that take the company's rebilling invoice numbers.

        Customer invoices of a journal holding rebilling invoices (the
        company's rebilling journal, or a journal that already has rebilling
        invoices), and its credit notes when the journal has no credit note
        sequence of its own: Odoo would otherwise continue the last rebilling
        number of the journal and collide with the rebilling sequence.
        """
        self.ensure_one()
        if self.rebilling_period:
            return True
        journal = self.journal_id
        if journal.type != "sale" or self.move_type not in ("out_invoice", "out_refund"):
            return False
        if self.move_type == "out_refund" and journal.refund_sequence:
            return False
        if journal == self.company_id.rebilling_journal_id:
            return True
        return bool(
            self.search_count(
                [("journal_id", "=", journal.id), ("rebilling_period", "!=", False)], limit=1
            )
        )

    def _set_next_sequence(self):
        if self._rebilling_numbered():
            date = self.invoice_date or self.date
            self.name = self.company_id._rebilling_next_numbers(1, date)[0]
            # Assigned within the name's compute: recompute what depends on it.
            self.modified(["name"])
            return
        super()._set_next_sequence()

    def _sequence_matches_date(self):
        # Rebilling numbers follow the company's pattern (e.g. %num%/%year%),
        # which Odoo's journal sequence cannot parse.
        if self._rebilling_numbered():
            return True
        return super()._sequence_matches_date()

    def _get_mail_template(self):
        if self and all(move.rebilling_period for move in self):
            return self.env.ref("rebilling_base.mail_template_rebilling_invoice")
        return super()._get_mail_template()

    # ------------------------------------------------------------ external systems
    def _rebilling_external_ready(self):
        """Override point: the invoices of ``self`` that may go to external systems now.

        Posted customer invoices and credit notes. ``rebilling_review`` leaves out
        those held for review; the connectors (Xero, Autotask, ConnectWise) push
        only these.
        """
        return self.filtered(
            lambda m: m.move_type in ("out_invoice", "out_refund") and m.state == "posted"
        )

    def _rebilling_external_trigger_fields(self):
        """Override point: fields whose change makes invoices ready again (posted again)."""
        return {"state"}

    def _rebilling_line_taxes(self):
        """``{invoice line id: its GST}`` in the document's currency and sign (a credit
        note's lines are positive), adding up to the invoice's GST.

        Rebilling companies round GST per line (as Xero): each line's own rounded GST.
        An invoice posted while the company rounded globally gets Odoo's share of the
        rounded total per line, so its lines still add up to its GST.
        """
        self.ensure_one()
        base_lines, _tax_lines = self._get_rounded_base_and_tax_lines()
        taxes = {}
        for base_line in base_lines:
            line = base_line["record"]
            if getattr(line, "display_type", None) != "product":
                continue
            details = base_line["tax_details"]["taxes_data"]
            amount = sum(tax_data["tax_amount_currency"] for tax_data in details)
            taxes[line.id] = self.currency_id.round(amount)
        return taxes

    def _rebilling_review_flags(self):
        """Hook: review flag codes per invoice, ``{move id: set of codes}``.

        Declared here so that ``rebilling_review`` (which raises and shows the
        flags) and ``rebilling_voip`` (usage flags) both extend it with
        ``super()``, whatever their load order. The base raises ``back_billing``
        (missed days beyond the catch-up limit, not billed).
        """
        return {
            move.id: {"back_billing"} if move.rebilling_catch_up_skipped else set() for move in self
        }

    # ------------------------------------------------------------ reissue
    def _rebilling_reissue_prepare(self, run):
        """Hook: before ``run`` computes these invoices again (a reissue in review).

        Extend for usage: ``rebilling_voip`` rates the calls that came in since.
        The invoice values are then prepared with the context key
        ``REISSUE_CONTEXT`` (the ids of ``self``): what these invoices billed
        counts as not billed yet.
        """
        return True

    def _rebilling_reissue_done(self, run):
        """Hook: ``run`` computed these invoices again and they are posted.

        Extend for usage: ``rebilling_voip`` links the billed calls to them and
        regenerates their call lists.
        """
        return True

    def _rebilling_released(self):
        """Hook: invoices released after being held (e.g. approved in review).

        Connectors extend it to push the invoices they left out while held.
        """
        return True

    # ------------------------------------------------------------ sending
    def _rebilling_sendable(self):
        """Invoices that may be queued now (override point for review)."""
        return self.filtered(
            lambda m: m.rebilling_period and m.state == "posted" and not m.rebilling_send_cancelled
        )

    def _rebilling_queue_send(self):
        """Queue the invoices for email: one queue job per invoice renders and sends it.

        Invoices of customers without any email address fail at once with the
        reason ``no email address`` (their runs' chatter says which customers).
        """
        moves = self._rebilling_sendable()
        moves.check_access("write")
        # The send state is written with sudo (SEND_RECORD_FIELDS), the access checked above.
        moves = moves.sudo()
        no_address = moves.filtered(lambda m: not m.partner_id._rebilling_email())
        if no_address:
            no_address.write(
                {"rebilling_send_error": NO_EMAIL_ADDRESS, "rebilling_mail_accepted": False}
            )
            no_address._rebilling_warn_no_address()
        moves -= no_address
        for company, company_moves in moves.grouped("company_id").items():
            if not company.rebilling_sender_confirmed:
                company_moves.write({"rebilling_send_error": SENDER_NOT_VERIFIED})
                continue
            company_moves.write(
                {
                    "rebilling_send_error": False,
                    "rebilling_mail_accepted": False,
                    "sending_data": {
                        "author_user_id": self.env.user.id,
                        "author_partner_id": self.env.user.partner_id.id,
                        "sending_methods": ["email"],
                    },
                }
            )
        # One send job per invoice (account_move_sending.py), not Odoo's batch cron.
        moves.filtered("sending_data")._rebilling_enqueue_send()
        return (moves | no_address).with_env(self.env)

    def _rebilling_warn_no_address(self):
        """Warn in each billing run's chatter about its customers that cannot be emailed."""
        for run, moves in self.grouped("rebilling_run_id").items():
            if run:
                run.message_post(body=self._rebilling_no_address_message(moves.partner_id))

    @api.model
    def _rebilling_no_address_message(self, partners):
        return self.env._(
            "%(n)s customer(s) have no invoice email and no contact email: their invoices "
            "are not emailed (Failed, no email address): %(names)s",
            n=len(partners),
            names=", ".join(partners.mapped("display_name")),
        )

    def action_rebilling_send(self):
        moves = self.filtered("rebilling_period")
        if not moves:
            raise UserError(self.env._("Only rebilling invoices can be sent from here."))
        moves.filtered("rebilling_send_cancelled").rebilling_send_cancelled = False
        queued = moves._rebilling_queue_send()
        failed = queued.filtered("rebilling_send_error")
        if failed:
            message = self.env._(
                "%(n)s invoice(s) not queued: %(error)s.",
                n=len(failed),
                error=failed[0].rebilling_send_error,
            )
            kind = "warning"
        else:
            message = self.env._(
                "%s invoice(s) queued: they are emailed within 5 minutes.", len(queued)
            )
            kind = "success"
        return notify.notification(message, kind, next_action=notify.CLOSE)

    def action_rebilling_cancel_send(self):
        """Take invoices not sent yet out of the sending queue; sent ones are refused."""
        self.check_access("write")
        moves = self.filtered("rebilling_period")
        sent = moves.filtered(lambda m: m.rebilling_mail_accepted or m.is_move_sent)
        if sent:
            raise UserError(
                self.env._(
                    "Sending cannot be cancelled for invoices already sent: %s. "
                    "To take back a sent invoice, credit it.",
                    ", ".join(sent.mapped("name")),
                )
            )
        moves.write({"rebilling_send_cancelled": True, "sending_data": False})
        return True

    def action_rebilling_preview(self):
        """Preview invoice, at the top of the Summary: the real document, dummy data."""
        return self.env.company.action_rebilling_preview()

    def action_rebilling_download_pdf(self):
        """One invoice: its PDF. Several: one zip of their PDFs."""
        moves = self.filtered(lambda m: m.state == "posted")
        if not moves:
            raise UserError(self.env._("Select posted invoices to download."))
        if len(moves) == 1:
            return self.env.ref("account.account_invoices").report_action(moves)
        content = self._rebilling_zip(
            {
                move: (move._get_invoice_report_filename(), move._rebilling_pdf_content())
                for move in moves
            }
        )
        return self.env["ir.attachment"]._rebilling_download(
            "invoices.zip", content, "application/zip"
        )

    @api.model
    def _rebilling_zip(self, documents):
        """A zip of ``{move: (filename, content)}``, one file per invoice.

        A file name used twice gets the invoice id in front of it.
        """
        buffer = io.BytesIO()
        used = set()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for move, (filename, raw) in documents.items():
                name = filename if filename not in used else f"{move.id}_{filename}"
                used.add(name)
                archive.writestr(name, raw)
        return buffer.getvalue()

    def _rebilling_pdf_content(self):
        """The PDF of the invoice: the one sent if any, else rendered now (one document)."""
        self.ensure_one()
        if self.invoice_pdf_report_id:
            return self.invoice_pdf_report_id.raw
        content, _type = self.env["ir.actions.report"]._render_qweb_pdf(
            "account.account_invoices", self.ids
        )
        return content

    def action_rebilling_download_xero_csv(self):
        moves = self.filtered("rebilling_period")
        if not moves:
            raise UserError(self.env._("Select rebilling invoices to export."))
        wizard = self.env["rebilling.export.wizard"].create(
            {"move_ids": [fields.Command.set(moves.ids)], "export_type": "xero_csv"}
        )
        return wizard.action_export()

    def action_rebilling_previous_invoices(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_invoices"
        )
        action["domain"] = [
            ("partner_id", "=", self.partner_id.id),
            ("rebilling_period", "!=", False),
            ("id", "!=", self.id),
        ]
        action["context"] = {}
        return action

    # ------------------------------------------------------------ mail feedback
    def _message_receive_bounce(self, email, partner):
        res = super()._message_receive_bounce(email, partner)
        moves = self.filtered("rebilling_period").sudo()
        reason = self.env._("Hard bounce: %s did not accept the email", email)
        moves.write({"rebilling_send_error": reason, "rebilling_mail_accepted": False})
        moves._rebilling_notify_failure(reason)
        return res

    def _rebilling_mail_result(self, failure_reason=False):
        """The mail server's answer on the invoice email of ``self``.

        Accepted: the invoice is Sent. Refused: Failed with the reason, and the
        notification email of the configuration is told.
        """
        moves = self.filtered("rebilling_period").sudo()
        if not failure_reason:
            moves.filtered(lambda m: not m.rebilling_send_error).write(
                {"rebilling_mail_accepted": True}
            )
            return
        reason = self._rebilling_mail_failure_text(failure_reason)
        moves.write({"rebilling_send_error": reason[:500], "rebilling_mail_accepted": False})
        moves._rebilling_notify_failure(reason)

    @api.model
    def _rebilling_mail_failure_text(self, failure_reason):
        """The mail server's refusal as finance staff read it, on one line.

        Extend for other servers' messages. Odoo reports a refused recipient as
        "Mail Delivery Failed / ... SMTPRecipientsRefused: {'a@b': (550, b'5.1.1 ...')}";
        this gives "Refused by the mail server: a@b: 550 5.1.1 ...". Anything else is
        kept, on one line.
        """
        text = " ".join(str(failure_reason).split())
        refused = SMTP_REFUSED.findall(text)
        if "SMTPRecipientsRefused" in text and refused:
            return self.env._(
                "Refused by the mail server: %s",
                "; ".join(f"{rcpt}: {code} {answer}" for rcpt, code, answer in refused),
            )
        return text

    def _rebilling_notify_failure(self, reason):
        """Tell the configuration's notification email about each failed invoice email."""
        for move in self:
            move.company_id._rebilling_notify_email(
                move,
                self.env._(
                    "Invoice %(name)s to %(partner)s not delivered",
                    name=move.name,
                    partner=move.partner_id.display_name,
                ),
                self.env._(
                    "The email of invoice %(name)s to %(partner)s failed: %(reason)s",
                    name=move.name,
                    partner=move.partner_id.display_name,
                    reason=reason,
                ),
            )
