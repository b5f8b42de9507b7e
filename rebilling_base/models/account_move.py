import io
import zipfile
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
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
# Context key of a reissue: ids of the invoices computed again, whose own billed
# items (calls) count as not billed yet (see ``_rebilling_reissue_prepare``).
REISSUE_CONTEXT = "rebilling_reissue_move_ids"


class AccountMove(models.Model):
    _inherit = "account.move"

    rebilling_period = fields.Date(copy=False, index="btree_not_null", readonly=True)
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
    rebilling_service_summary = fields.Text(
        "Services", compute="_compute_rebilling_service_summary"
    )

    _rebilling_once_per_period = models.UniqueIndex(
        "(company_id, partner_id, rebilling_period) "
        "WHERE rebilling_period IS NOT NULL AND state != 'cancel'",
        "This customer already has an invoice for this billing period.",
    )

    @api.depends(
        "state",
        "sending_data",
        "is_move_sent",
        "rebilling_period",
        "rebilling_send_error",
        "rebilling_send_cancelled",
    )
    def _compute_rebilling_send_state(self):
        for move in self:
            if not move.rebilling_period:
                move.rebilling_send_state = False
            elif move.state == "cancel" or move.rebilling_send_cancelled:
                move.rebilling_send_state = "cancelled"
            elif move.rebilling_send_error:
                move.rebilling_send_state = "failed"
            elif move.sending_data:
                move.rebilling_send_state = "queued"
            elif move.is_move_sent:
                move.rebilling_send_state = "sent"
            else:
                move.rebilling_send_state = "pending"

    def _compute_rebilling_service_summary(self):
        for move in self:
            names = move.invoice_line_ids.rebilling_service_id.mapped("name")
            move.rebilling_service_summary = ", ".join(dict.fromkeys(names))

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

    def _sequence_matches_date(self):
        # Rebilling invoices are numbered by the company's rebilling sequence,
        # whose pattern (e.g. %num%/%year%) Odoo's journal sequence cannot parse.
        if self.rebilling_period:
            return True
        return super()._sequence_matches_date()

    def _get_mail_template(self):
        if self and all(move.rebilling_period for move in self):
            return self.env.ref("rebilling_base.mail_template_rebilling_invoice")
        return super()._get_mail_template()

    # ------------------------------------------------------------ external systems
    def _rebilling_external_ready(self):
        """Override point: the invoices of ``self`` that may go to external systems now.

        Posted customer invoices. ``rebilling_review`` leaves out those held for
        review; the connectors (Xero, Autotask, ConnectWise) push only these.
        """
        return self.filtered(lambda m: m.move_type == "out_invoice" and m.state == "posted")

    def _rebilling_external_trigger_fields(self):
        """Override point: fields whose change makes invoices ready again (posted again)."""
        return {"state"}

    def _rebilling_review_flags(self):
        """Hook: review flag codes per invoice, ``{move id: set of codes}``.

        Declared here so that ``rebilling_review`` (which raises and shows the
        flags) and ``rebilling_voip`` (usage flags) both extend it with
        ``super()``, whatever their load order. The base raises none.
        """
        return {move.id: set() for move in self}

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
        """Queue the invoices for email through Odoo's asynchronous invoice sending."""
        moves = self._rebilling_sendable()
        for company, company_moves in moves.grouped("company_id").items():
            if not company.rebilling_sender_confirmed:
                company_moves.write({"rebilling_send_error": SENDER_NOT_VERIFIED})
                continue
            company_moves.write(
                {
                    "rebilling_send_error": False,
                    "sending_data": {
                        "author_user_id": self.env.user.id,
                        "author_partner_id": self.env.user.partner_id.id,
                        "sending_methods": ["email"],
                    },
                }
            )
        if moves:
            self.env.ref("account.ir_cron_account_move_send")._trigger()
        return moves

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
        moves = self.filtered("rebilling_period")
        moves.write({"rebilling_send_cancelled": True, "sending_data": False})
        return True

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
        attachment = self.env["ir.attachment"].create(
            {"name": "invoices.zip", "raw": content, "mimetype": "application/zip"}
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }

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
        self.filtered("rebilling_period").write(
            {"rebilling_send_error": self.env._("Hard bounce: %s did not accept the email", email)}
        )
        return res
