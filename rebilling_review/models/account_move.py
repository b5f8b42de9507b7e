"""Review of rebilling invoices before they are sent.

An invoice of a customer class that reviews its invoices is created by the
billing run as usual (numbered, posted, dated the 1st), then held:

- ``under_review``: not sent, not on the portal (the portal only shows sent
  invoices), payment collection blocked (``payment_state = 'blocked'``);
- ``approved``: queued for email at once; the payment state is computed again;
- ``rejected``: marked for reissue, waiting for the recalculation (now or at
  the company's off-peak hour), after which it is under review again.

Adjust and reissue reset the invoice to draft and post it again: Odoo keeps
its number and invoice date.

Override points:

- ``_rebilling_review_flags()``: review flag codes per invoice (``rebilling_voip``
  adds the usage-related ones);
- ``_rebilling_review_reissue_lines()``: the lines a reissue replaces;
- ``_rebilling_review_reissue_prepare(run)``: the new invoice values of a reissue;
- ``_rebilling_review_render()``: the documents of the zip download.
"""

from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.addons.rebilling_base.models.account_move import REISSUE_CONTEXT
from odoo.addons.rebilling_base.tools import notify
from odoo.addons.rebilling_base.tools.transient import raise_if_transient
from odoo.exceptions import AccessError, UserError
from odoo.fields import Command, Domain
from odoo.modules import module as odoo_module
from odoo.tools import SQL, format_datetime, formatLang
from odoo.tools.mail import generate_tracking_message_id

REVIEW_STATES = [
    ("under_review", "Under review"),
    ("approved", "Approved"),
    ("rejected", "Rejected"),
]
HELD_STATES = ("under_review", "rejected")
APPROVER_GROUP = "rebilling_review.group_rebilling_approver"
# Invoice lines the billing run generates; a reissue replaces them.
GENERATED_LINE_KINDS = ("service", "recurring", "once", "usage")
CRON_BATCH = 200
# Written only by the approver actions and the crons (with sudo, after their checks).
REVIEW_FIELDS = frozenset(
    {
        "rebilling_review_state",
        "rebilling_review_deadline",
        "rebilling_review_flag_ids",
        "rebilling_approved_by_id",
        "rebilling_approved_date",
        "rebilling_reissue_at",
        "rebilling_reissue_error",
    }
)
# Invoices per off-peak reissue job (one rating and one preparation per run each).
REISSUE_JOB_SIZE = 500
# Invoice values a reissue keeps: the number, dates, due date, customer and origin.
REISSUE_KEPT_FIELDS = frozenset(
    {
        "name",
        "move_type",
        "company_id",
        "journal_id",
        "partner_id",
        "invoice_date",
        "date",
        "invoice_date_due",
        "invoice_payment_term_id",
        "invoice_origin",
        "rebilling_period",
        "rebilling_run_id",
        "invoice_line_ids",
    }
)
# Writes that change no invoice line: skip Odoo's line synchronisation and balance check.
NO_LINE_SYNC = {
    "skip_invoice_sync": True,
    "check_move_validity": False,
    "skip_is_manually_modified": True,
}


class AccountMove(models.Model):
    _inherit = "account.move"

    rebilling_review_state = fields.Selection(
        REVIEW_STATES,
        "Review",
        copy=False,
        readonly=True,
        tracking=True,
        index="btree_not_null",
        help="Under review: created and numbered, not sent, no payment collection yet. "
        "Approved: on its way to the customer. Rejected: waiting to be reissued.",
    )
    rebilling_review_deadline = fields.Datetime(
        "Auto-approval",
        copy=False,
        readonly=True,
        help="End of the hold for review: the invoice is approved and sent automatically "
        "when nobody approved it by then.",
    )
    rebilling_review_flag_ids = fields.Many2many(
        "rebilling.review.flag",
        "rebilling_review_flag_account_move_rel",
        "move_id",
        "flag_id",
        "Review flags",
        copy=False,
        readonly=True,
    )
    rebilling_approved_by_id = fields.Many2one(
        "res.users", "Approved by", copy=False, readonly=True
    )
    rebilling_approved_date = fields.Datetime("Approved on", copy=False, readonly=True)
    rebilling_reissue_at = fields.Datetime(
        "Reissue scheduled",
        copy=False,
        readonly=True,
        help="When the rejected invoice is recalculated from its source data.",
    )
    rebilling_reissue_error = fields.Char(
        "Reissue error",
        copy=False,
        readonly=True,
        help="Why the last reissue failed; the invoice stays rejected and is retried at the "
        "next off-peak hour.",
    )

    # ------------------------------------------------------------ guards
    def write(self, vals):
        if not self.env.su and REVIEW_FIELDS & set(vals):
            raise AccessError(
                self.env._(
                    "The review of an invoice changes only through Approve, Adjust and "
                    "Reissue, by a rebilling approver."
                )
            )
        return super().write(vals)

    def button_draft(self):
        """An invoice held for review is reset to draft only by an approver (adjust, reissue)."""
        if self.filtered(lambda m: m.rebilling_review_state in HELD_STATES):
            self._rebilling_review_check_approver()
        return super().button_draft()

    def _post(self, soft=True):
        """A held invoice posted again (reset to draft by an approver): the hold starts again
        and its flags are computed again (adjust and reissue do it too)."""
        reposted = self.filtered(
            lambda m: m.posted_before and m.rebilling_review_state in HELD_STATES
        )
        posted = super()._post(soft=soft)
        reposted &= posted
        if reposted:
            reposted._rebilling_review_restart_hold()
            reposted._rebilling_review_start()
        return posted

    def _rebilling_review_check_approver(self):
        if not self.env.su and not self.env.user.has_group(APPROVER_GROUP):
            raise AccessError(
                self.env._(
                    "Only rebilling approvers can approve, adjust or reissue invoices under review."
                )
            )

    def _rebilling_review_check_state(self, action):
        """Raise unless every invoice is posted and in a review state that allows ``action``."""
        states = HELD_STATES if action == "reissue" else ("under_review",)
        wrong = self.filtered(
            lambda m: m.state != "posted" or m.rebilling_review_state not in states
        )
        if not wrong:
            return
        names = ", ".join(wrong.mapped("display_name"))
        if action == "approve":
            message = self.env._("Only invoices under review can be approved: %s.", names)
        elif action == "adjust":
            message = self.env._("Only invoices under review can be adjusted: %s.", names)
        else:
            message = self.env._(
                "Only invoices under review or rejected can be reissued: %s.", names
            )
        raise UserError(message)

    @api.model
    def _rebilling_review_domain(self):
        """Invoices under review of the companies the approver works in.

        The companies selected in the web client (``allowed_company_ids``), else
        the current company: never every company of the user by default.
        """
        companies = (
            self.env.companies if self.env.context.get("allowed_company_ids") else self.env.company
        )
        return [
            ("rebilling_review_state", "=", "under_review"),
            ("state", "=", "posted"),
            ("company_id", "in", companies.ids),
        ]

    # ------------------------------------------------------------ rebilling_base hooks
    def _rebilling_external_ready(self):
        """Held invoices go to Xero, Autotask or ConnectWise only once approved."""
        return (
            super()
            ._rebilling_external_ready()
            .filtered(lambda m: m.rebilling_review_state not in HELD_STATES)
        )

    def _rebilling_external_trigger_fields(self):
        return super()._rebilling_external_trigger_fields() | {"rebilling_review_state"}

    def _rebilling_sendable(self):
        """Invoices under review or waiting for reissue are never queued."""
        return (
            super()
            ._rebilling_sendable()
            .filtered(lambda m: m.rebilling_review_state not in HELD_STATES)
        )

    def action_rebilling_send(self):
        held = self.filtered(lambda m: m.rebilling_review_state in HELD_STATES)
        if held:
            raise UserError(
                self.env._(
                    "%s is under review: approve it and it is sent to the customer.",
                    ", ".join(held.mapped("display_name")),
                )
            )
        return super().action_rebilling_send()

    def action_register_payment(self):
        held = self.filtered(lambda m: m.rebilling_review_state in HELD_STATES)
        if held:
            raise UserError(
                self.env._(
                    "%s is under review: payments are collected once it is approved.",
                    ", ".join(held.mapped("display_name")),
                )
            )
        return super().action_register_payment()

    # ------------------------------------------------------------ generation
    def _rebilling_review_start(self):
        """New invoices under review: block payment collection and compute their flags."""
        if not self:
            return
        self.with_context(**NO_LINE_SYNC).write({"payment_state": "blocked"})
        self._rebilling_review_update_flags()

    # ------------------------------------------------------------ approve
    def action_rebilling_review_approve(self):
        """Approve the invoices under review: they are queued for email at once."""
        self._rebilling_review_check_approver()
        if not self:
            raise UserError(self.env._("Select the invoices to approve."))
        self._rebilling_review_check_state("approve")
        self._rebilling_review_approve()
        return self._rebilling_review_approved_notification(self)

    def action_rebilling_review_approve_unflagged(self):
        """Approve the invoices under review without review flag that the approver sees.

        Those of the current companies and, from the list, of its filter (the
        ``active_domain`` the list's header button passes).
        """
        self._rebilling_review_check_approver()
        domain = Domain(self._rebilling_review_domain()) & Domain(
            "rebilling_review_flag_ids", "=", False
        )
        if self.env.context.get("active_domain"):
            domain &= Domain(self.env.context["active_domain"])
        moves = self.search(domain)
        if not moves:
            return self._rebilling_review_notification(
                self.env._("No invoice without flags is under review."), "info"
            )
        moves._rebilling_review_approve()
        return self._rebilling_review_approved_notification(moves, unflagged=True)

    def _rebilling_review_approved_notification(self, moves, unflagged=False):
        failed = moves.filtered("rebilling_send_error")
        if failed:
            return self._rebilling_review_notification(
                self.env._(
                    "%(n)s invoice(s) approved, %(failed)s not queued for email: %(error)s.",
                    n=len(moves),
                    failed=len(failed),
                    error=failed[0].rebilling_send_error,
                ),
                "warning",
            )
        if unflagged:
            message = self.env._(
                "%s invoice(s) without flags approved: they are emailed within minutes.",
                len(moves),
            )
        else:
            message = self.env._(
                "%s invoice(s) approved: they are emailed to the customers within minutes.",
                len(moves),
            )
        return self._rebilling_review_notification(message)

    def _rebilling_review_approve(self, auto=False):
        """Approve (no check): collect payment again and queue the email."""
        if not self:
            return
        body = (
            self.env._(
                "Approved automatically: nobody approved the invoice within its hold for review."
            )
            if auto
            else ""
        )
        self._rebilling_review_write(
            {
                "rebilling_review_state": "approved",
                "rebilling_approved_by_id": self.env.uid,
                "rebilling_approved_date": fields.Datetime.now(),
                "rebilling_review_deadline": False,
                "rebilling_reissue_at": False,
                # Unblocked; the real payment state is computed again below.
                "payment_state": "not_paid",
            },
            body,
        )
        self.env.add_to_compute(self._fields["payment_state"], self)
        self.with_context(**NO_LINE_SYNC)._rebilling_queue_send()
        self._rebilling_released()

    def _rebilling_review_write(self, vals, body=""):
        """Write review fields on many invoices at once, with one chatter entry each.

        The invoice lines are not touched, so Odoo's line synchronisation is skipped.
        Odoo tracks fields record by record when the transaction commits; here the
        change of review state is logged in one batch instead: one note per invoice
        with its author, date, the old and new state and ``body``.
        """
        new_state = vals.get("rebilling_review_state")
        old_states = self.grouped("rebilling_review_state") if new_state else {}
        # The callers checked the approver (or are the crons): the review fields are
        # written with sudo, a direct write is refused (see ``write``).
        self.sudo().with_context(tracking_disable=True, **NO_LINE_SYNC).write(vals)
        changed = {old: moves for old, moves in old_states.items() if old != new_state}
        if not changed:
            return
        # The values of Odoo's batch log (_message_log_batch), plus tracking values.
        author_id, email_from = self._message_compute_author()
        base_values = {
            "author_id": author_id,
            "email_from": email_from,
            "model": self._name,
            "record_alias_domain_id": False,
            "record_company_id": False,
            "message_type": "notification",
            "is_internal": True,
            "subtype_id": self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note"),
            "body": escape(body),
            "email_add_signature": False,
            "message_id": generate_tracking_message_id("message-notify"),
            "reply_to": self.env["mail.thread"]._notify_get_reply_to(
                default=email_from, author_id=author_id
            )[False],
        }
        col_info = self.fields_get(["rebilling_review_state"])["rebilling_review_state"]
        Tracking = self.env["mail.tracking.value"].sudo()
        tracking_list = []
        for old_state, moves in changed.items():
            tracking = Tracking._create_tracking_values(
                old_state, new_state, "rebilling_review_state", col_info, moves[:1]
            )
            messages = moves.sudo()._message_create(
                [dict(base_values, res_id=move.id) for move in moves]
            )
            tracking_list += [dict(tracking, mail_message_id=message.id) for message in messages]
        Tracking.create(tracking_list)

    # ------------------------------------------------------------ adjust
    def action_rebilling_review_adjust(self):
        self._rebilling_review_check_approver()
        if len(self) != 1:
            raise UserError(self.env._("Adjust one invoice at a time."))
        self._rebilling_review_check_state("adjust")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Adjust invoice %s", self.name),
            "res_model": "rebilling.review.adjust.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_id": self.id},
        }

    def _rebilling_review_adjust(self, kind, name, amount, taxes):
        """Add one manual credit (``kind='credit'``) or charge to the invoice under review.

        On a credit note (a month whose credits outweigh its charges) a credit adds to
        what is credited and a charge takes from it. Refused when the document would
        change sign: an invoice stays an invoice, a credit note a credit note.
        """
        self.ensure_one()
        self._rebilling_review_check_approver()
        self._rebilling_review_check_state("adjust")
        old_total = self.amount_total
        refund = self.move_type == "out_refund"
        price = -amount if kind == "credit" else amount
        delta = (
            taxes.compute_all(price, currency=self.currency_id, partner=self.partner_id)[
                "total_included"
            ]
            if taxes
            else price
        )
        # The change of the document's own total: a credit enlarges a credit note.
        delta = -delta if refund else delta
        if self.currency_id.compare_amounts(old_total + delta, 0.0) < 0:
            if refund:
                message = self.env._(
                    "This charge makes %(name)s charge the customer (%(total)s): "
                    "charge at most the credit note total.",
                    name=self.name,
                    total=formatLang(self.env, old_total + delta, currency_obj=self.currency_id),
                )
            else:
                message = self.env._(
                    "This credit makes the total of %(name)s negative (%(total)s): "
                    "credit at most the invoice total.",
                    name=self.name,
                    total=formatLang(self.env, old_total + delta, currency_obj=self.currency_id),
                )
            raise UserError(message)
        # In a credit note a positive line credits the customer.
        line_price = -price if refund else price
        self.button_draft()
        self.write(
            {
                "invoice_line_ids": [
                    Command.create(
                        {
                            "name": name,
                            "quantity": 1.0,
                            "price_unit": line_price,
                            "tax_ids": [Command.set(taxes.ids)],
                            "rebilling_line_kind": "manual",
                        }
                    )
                ]
            }
        )
        self.action_post()
        self._rebilling_review_restart_hold()
        label = self.env._("Manual credit") if kind == "credit" else self.env._("Manual charge")
        body = Markup("<p>%s</p><ul><li>%s</li><li>%s</li><li>%s</li></ul><p>%s</p>") % (
            self.env._("%s added; the invoice is under review again.", label),
            self.env._("Description: %s", name),
            self.env._(
                "Amount: %(amount)s excluding tax (%(taxes)s)",
                amount=formatLang(self.env, price, currency_obj=self.currency_id),
                taxes=", ".join(taxes.mapped("name")) or self.env._("no tax"),
            ),
            self.env._(
                "Total: %(old)s → %(new)s",
                old=formatLang(self.env, old_total, currency_obj=self.currency_id),
                new=formatLang(self.env, self.amount_total, currency_obj=self.currency_id),
            ),
            self.env._("The regenerated invoice is attached."),
        )
        self._rebilling_review_changed({self.id: body})

    # ------------------------------------------------------------ reissue
    def action_rebilling_review_reissue(self):
        self._rebilling_review_check_approver()
        if not self:
            raise UserError(self.env._("Select the invoices to reissue."))
        self._rebilling_review_check_state("reissue")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reissue invoices"),
            "res_model": "rebilling.review.reissue.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_move_ids": [Command.set(self.ids)]},
        }

    def _rebilling_review_reject(self, when="off_peak"):
        """Mark for reissue; ``when='now'`` recalculates at once, else at the off-peak hour."""
        self._rebilling_review_check_approver()
        self._rebilling_review_check_state("reissue")
        for company, moves in self.grouped("company_id").items():
            if when == "now":
                at = fields.Datetime.now()
                body = self.env._("Reissue requested: the invoice is recalculated now.")
            else:
                at = company._rebilling_next_off_peak()
                body = self.env._(
                    "Reissue requested: the invoice is recalculated at the off-peak hour, %s.",
                    format_datetime(self.env, at, tz=company.rebilling_tz),
                )
            moves._rebilling_review_write(
                {"rebilling_review_state": "rejected", "rebilling_reissue_at": at}, body
            )
        if when == "now":
            self._rebilling_review_reissue()

    def _rebilling_review_reissue_lines(self):
        """Hook: the invoice lines a reissue replaces (those the billing run generated).

        Lines added by hand or by Adjust are kept.
        """
        self.ensure_one()
        return self.invoice_line_ids.filtered(
            lambda line: line.rebilling_line_kind in GENERATED_LINE_KINDS
        )

    def _rebilling_review_reissue(self, raise_errors=True, attach=True):
        """Recalculate the rejected invoices from their source data as it is now.

        Set-based per billing run: the new calls are rated and the invoice values
        prepared once for all the invoices of the run; then their lines are
        replaced and they are posted again, all at once in a savepoint or, should
        that fail, invoice by invoice: an invoice is reissued whole or not at all.
        ``raise_errors``: the first failure raises (Reissue > Now); otherwise a
        failing invoice stays rejected with the reason and the others go on
        (transient database errors are raised, for the job to be retried).
        ``attach``: the regenerated invoice document goes with the chatter note;
        else (off-peak, many invoices) it is generated when downloaded or sent.
        Returns the invoices reissued.
        """
        bodies, failed = {}, {}
        groups = self.grouped(lambda m: (m.company_id, m.rebilling_run_id))
        for (company, run), moves in groups.items():
            moves = moves.with_company(company)
            if not run:
                for move in moves:
                    failed[move] = UserError(
                        self.env._(
                            "%s was not created by a billing run: it cannot be reissued.",
                            move.name,
                        )
                    )
                continue
            prepared = moves._rebilling_review_reissue_isolated(
                lambda records, run=run: records._rebilling_review_reissue_prepare(run),
                failed,
                raise_errors,
            )
            todo = moves - self.browse([m.id for m in failed])
            written = todo._rebilling_review_reissue_isolated(
                lambda records, p=prepared: records._rebilling_review_reissue_write(p, attach),
                failed,
                raise_errors,
            )
            bodies.update(written)
            self.browse(list(written)).with_company(company)._rebilling_reissue_done(run)
        if failed and raise_errors:
            raise next(iter(failed.values()))
        for move, exc in failed.items():
            move._rebilling_review_reissue_failed(exc)
        reissued = self.browse(list(bodies))
        reissued._rebilling_review_changed(bodies, attach=attach)
        return reissued

    def _rebilling_review_reissue_isolated(self, func, failed, raise_errors):
        """``func(self)`` (a dict) at once; when it fails, invoice by invoice, the
        failures in ``failed``. Returns the union of the dicts."""
        if not self:
            return {}
        try:
            with self.env.cr.savepoint():
                return func(self)
        except Exception as exc:
            if raise_errors:
                raise
            raise_if_transient(exc)
            if len(self) == 1:
                failed[self] = exc
                return {}
        prepared = {}
        for move in self:
            try:
                with self.env.cr.savepoint():
                    prepared.update(func(move))
            except Exception as exc:
                raise_if_transient(exc)
                failed[move] = exc
        return prepared

    def _rebilling_review_reissue_prepare(self, run):
        """Extend for other sources: the new invoice values of these invoices, ``{pid: vals}``.

        What they billed counts as not billed yet: their calls (``REISSUE_CONTEXT``)
        and their once-off charges. The new calls are rated first (one rating for all).
        """
        self._rebilling_reissue_prepare(run)
        prepared = run.with_context(**{REISSUE_CONTEXT: self.ids})._prepare_invoices(
            self.partner_id
        )
        return prepared

    def _rebilling_review_reissue_plan(self, prepared):
        """``{move id: (move type, line values)}`` of a reissue: the new lines of each
        invoice in the sign of its type. A total below zero, kept lines (Adjust)
        included, makes a credit note, above zero an invoice, whichever the document
        was (``_credit_note_if_negative`` of the billing run)."""
        plan = {}
        for move in self:
            vals = prepared.get(move.partner_id.id, {})
            lines = [dict(cmd[2]) for cmd in vals.get("invoice_line_ids", []) if cmd[0] == 0]
            if vals.get("move_type") == "out_refund":
                for line in lines:  # back in the sign of an invoice
                    line["price_unit"] = -line.get("price_unit", 0.0)
            kept = move.invoice_line_ids - move._rebilling_review_reissue_lines()
            sign = -1.0 if move.move_type == "out_refund" else 1.0
            total = sign * sum(kept.mapped("price_subtotal")) + sum(
                line.get("quantity", 1.0) * line.get("price_unit", 0.0) for line in lines
            )
            move_type = "out_refund" if move.currency_id.round(total) < 0 else "out_invoice"
            if move_type == "out_refund":
                for line in lines:
                    line["price_unit"] = -line.get("price_unit", 0.0)
            plan[move.id] = (move_type, lines)
        return plan

    def _rebilling_review_reissue_write(self, prepared, attach=True):
        """Replace the generated lines by those of ``prepared`` (``{pid: vals}``) and post.

        All the invoices at once (Odoo's tracking off: each gets one chatter note);
        the numbers, invoice dates and due dates are kept. An invoice whose total turns
        negative (or a credit note whose total turns positive) cannot change its type
        once posted (Odoo): it is cancelled (it was never sent, being held) and replaced
        by a credit note (an invoice) under review, with its Adjust lines.
        Returns ``{move id: note}`` (the replacing documents' ids for those).
        """
        replaced = {move.id: move._rebilling_review_reissue_lines() for move in self}
        old_totals = {move.id: move.amount_total for move in self}
        for move in self:
            new_lines = prepared.get(move.partner_id.id, {}).get("invoice_line_ids")
            if not new_lines and not move.invoice_line_ids - replaced[move.id]:
                raise UserError(
                    self.env._(
                        "%(name)s: %(partner)s has nothing to bill for this period any more. "
                        "Cancel the invoice instead.",
                        name=move.name,
                        partner=move.partner_id.display_name,
                    )
                )
        plan = self._rebilling_review_reissue_plan(prepared)
        switched = self.filtered(lambda m: plan[m.id][0] != m.move_type)
        moves = (self - switched).with_context(tracking_disable=True)
        self.with_context(tracking_disable=True).button_draft()
        # The lines of all the invoices in two batches: Odoo balances each invoice once.
        Line = self.env["account.move.line"].with_context(tracking_disable=True)
        Line.union(*(replaced[move.id] for move in moves)).unlink()
        Line.create([dict(vals, move_id=move.id) for move in moves for vals in plan[move.id][1]])
        # Other values of the run (usage period, review state), alike for most invoices.
        by_values = defaultdict(list)
        for move in moves:
            vals = prepared.get(move.partner_id.id, {})
            values = {
                **{key: value for key, value in vals.items() if key not in REISSUE_KEPT_FIELDS},
                "rebilling_review_state": "under_review",
                "rebilling_reissue_at": False,
                "rebilling_reissue_error": False,
            }
            by_values[repr(sorted(values.items()))].append((move.id, values))
        # Review fields: written as the crons and approver actions do (sudo), the
        # callers checked the approver.
        for group in by_values.values():
            moves.browse([move_id for move_id, _values in group]).sudo().with_context(
                **NO_LINE_SYNC
            ).write(group[0][1])
        moves.action_post()
        replacements, pairs = switched._rebilling_review_reissue_replace(prepared, plan, replaced)
        done = moves | replacements
        done._rebilling_review_restart_hold()
        for line in done.invoice_line_ids.filtered("rebilling_charge_id"):
            if line.rebilling_charge_id.charge_type == "once":
                line.rebilling_charge_id.invoice_line_id = line
        document = (
            self.env._("The regenerated invoice is attached.")
            if attach
            else self.env._("Download it to see the regenerated invoice.")
        )
        replaced_by = {new.id: old for old, new in pairs}
        bodies = {}
        for move in done:
            old = replaced_by.get(move.id, move)
            text = self.env._(
                "Reissued from the current services, charges and usage: "
                "%(lines)s line(s), total %(old)s → %(new)s. "
                "The invoice is under review again.",
                lines=len(move.invoice_line_ids),
                old=formatLang(self.env, old_totals[old.id], currency_obj=move.currency_id),
                new=formatLang(self.env, move.amount_total, currency_obj=move.currency_id),
            )
            if old != move:
                text = self.env._(
                    "%(text)s It replaces %(old)s (cancelled): its total changed sign.",
                    text=text,
                    old=old.name,
                )
            bodies[move.id] = Markup("<p>%s</p><p>%s</p>") % (text, document)
        return bodies

    def _rebilling_review_reissue_replace(self, prepared, plan, replaced):
        """Cancel these (draft) documents and create their replacements of the other
        type from ``plan``, with their kept lines (Adjust) in the new sign; posted,
        under review, in the billing run's log instead of them.
        Returns ``(new documents, [(old, new)])``."""
        new_moves = self.browse()
        pairs = []
        for move in self:
            move_type, lines = plan[move.id]
            kept = move.invoice_line_ids - replaced[move.id]
            kept_vals = [
                {
                    "name": line.name,
                    "product_id": line.product_id.id,
                    "account_id": line.account_id.id,
                    "quantity": line.quantity,
                    "price_unit": -line.price_unit,
                    "tax_ids": [Command.set(line.tax_ids.ids)],
                    "rebilling_line_kind": line.rebilling_line_kind,
                }
                for line in kept
            ]
            vals = dict(prepared.get(move.partner_id.id) or {})
            if not vals:
                run = move.rebilling_run_id
                vals = run._rebilling_prepare_invoice_vals(move.partner_id, [])
            vals.update(
                move_type=move_type,
                invoice_line_ids=[Command.create(v) for v in [*lines, *kept_vals]],
                rebilling_review_state="under_review",
                rebilling_reissue_at=False,
                rebilling_reissue_error=False,
                ref=move.name,
            )
            vals.pop("name", None)
            move.with_context(tracking_disable=True).button_cancel()
            move.sudo().with_context(**NO_LINE_SYNC).write(
                {"rebilling_review_state": False, "rebilling_reissue_at": False}
            )
            new = self.sudo().with_context(tracking_disable=True).create(vals).sudo(False)
            new.action_post()
            new._rebilling_review_start()
            self.env["rebilling.billing.run.line"].search([("invoice_id", "=", move.id)]).write(
                {"invoice_id": new.id}
            )
            move._message_log(
                body=self.env._(
                    "Cancelled by its reissue: its total changed sign; replaced by %s.",
                    new.name,
                )
            )
            new_moves |= new
            pairs.append((move, new))
        return new_moves.with_env(self.env), pairs

    def _rebilling_review_restart_hold(self):
        """The hold for review starts again (after an adjust or a reissue).

        A corrected invoice is not approved automatically before an approver had
        the customer class's hold to look at it (one day when the class no longer
        reviews).
        """
        now = fields.Datetime.now()
        for days, moves in self.grouped(
            lambda m: m.partner_id.rebilling_class_id._rebilling_review_hold_days() or 1
        ).items():
            moves.sudo().with_context(**NO_LINE_SYNC).write(
                {"rebilling_review_deadline": now + timedelta(days=days)}
            )

    # ------------------------------------------------------------ after a change
    def _rebilling_review_changed(self, bodies, attach=True):
        """After adjust or reissue: flags, the run's log, and a chatter note with the new PDF.

        ``attach=False``: the note without the document (see ``_rebilling_review_reissue``).
        """
        self._rebilling_review_update_flags()
        self._rebilling_review_sync_run_lines()
        documents = self._rebilling_review_render() if attach else {}
        for move in self:
            move.message_post(
                body=bodies[move.id],
                attachments=[documents[move]] if move in documents else [],
                message_type="comment",
                subtype_xmlid="mail.mt_note",
            )

    def _rebilling_review_sync_run_lines(self):
        lines = self.env["rebilling.billing.run.line"].search([("invoice_id", "in", self.ids)])
        for line in lines:
            move = line.invoice_id
            line.write(
                {
                    "amount_untaxed": move.amount_untaxed_signed,
                    "amount_total": move.amount_total_signed,
                    "invoice_line_count": len(move.invoice_line_ids),
                }
            )

    # ------------------------------------------------------------ flags
    def _rebilling_review_flags(self):
        """Hook: review flag codes per invoice, ``{move id: set of codes}``.

        This module raises ``first_invoice`` (no earlier invoice of the customer) and
        ``bill_shock`` (the total differs from the average of the customer's last 3
        invoices by more than the company's threshold).

        Usage-related flags need rated usage and CDRs, which ``rebilling_voip``
        provides: ``zero_usage`` (a service billed with zero usage),
        ``negative_margin`` (usage billed below wholesale cost) and
        ``unmatched_cdr`` (CDRs of the customer in the period that matched no
        service). Without an override they are never raised. A new code needs a
        ``rebilling.review.flag`` record; unknown codes are ignored.

        The hook is declared in ``rebilling_base``, so modules that do not depend
        on this one extend it with ``super()`` too.
        """
        result = super()._rebilling_review_flags()
        for (company, period), moves in (
            self.filtered("rebilling_period")
            .grouped(lambda m: (m.company_id, m.rebilling_period))
            .items()
        ):
            history = moves._rebilling_review_history(company, period)
            threshold = company.rebilling_review_shock_percent
            for move in moves:
                previous = history.get(move.partner_id.id)
                if not previous:
                    result[move.id].add("first_invoice")
                    continue
                average = sum(previous) / len(previous)
                if threshold and move._rebilling_review_is_shock(average, threshold):
                    result[move.id].add("bill_shock")
        return result

    def _rebilling_review_is_shock(self, average, threshold):
        self.ensure_one()
        if self.currency_id.is_zero(average):
            return not self.currency_id.is_zero(self.amount_total)
        return abs(self.amount_total - average) * 100.0 / abs(average) > threshold

    def _rebilling_review_history(self, company, period, count=3):
        """Totals of the last ``count`` posted invoices before ``period``, per partner id."""
        self.env["account.move"].flush_model(
            ["partner_id", "rebilling_period", "amount_total", "state", "move_type", "company_id"]
        )
        rows = self.env.execute_query(
            SQL(
                """
                SELECT partner_id, amount_total
                  FROM (
                    SELECT partner_id, amount_total,
                           row_number() OVER (
                               PARTITION BY partner_id ORDER BY rebilling_period DESC, id DESC
                           ) AS rank
                      FROM account_move
                     WHERE partner_id = ANY(%(partners)s)
                       AND company_id = %(company)s
                       AND move_type = 'out_invoice'
                       AND state = 'posted'
                       AND rebilling_period < %(period)s
                       AND id != ALL(%(ids)s)
                  ) AS previous
                 WHERE rank <= %(count)s
                """,
                partners=self.partner_id.ids,
                company=company.id,
                period=period,
                ids=self.ids,
                count=count,
            )
        )
        history = defaultdict(list)
        for partner_id, total in rows:
            history[partner_id].append(total)
        return history

    def _rebilling_review_update_flags(self):
        """Store the flags of ``_rebilling_review_flags()`` on the invoices."""
        if not self:
            return
        codes = self._rebilling_review_flags()
        flags = self.env["rebilling.review.flag"].sudo()._by_code(set().union(*codes.values()))
        by_set = defaultdict(list)
        for move in self:
            key = frozenset(code for code in codes.get(move.id, ()) if code in flags)
            by_set[key].append(move.id)
        for key, ids in by_set.items():
            self.browse(ids).sudo().with_context(**NO_LINE_SYNC).write(
                {"rebilling_review_flag_ids": [Command.set([flags[code].id for code in key])]}
            )

    # ------------------------------------------------------------ documents
    def _rebilling_review_render(self):
        """``{move: (file name, content)}``: each invoice as its customer would get it now.

        The PDF sent to the customer is used when there is one; the others are
        rendered in one batch per company and report (HTML in test mode).
        """
        documents = {}
        for move in self.filtered("invoice_pdf_report_id"):
            documents[move] = (move.invoice_pdf_report_id.name, move.invoice_pdf_report_id.raw)
        todo = self - self.filtered("invoice_pdf_report_id")
        Sender = self.env["account.move.send"]
        Report = self.env["ir.actions.report"]
        groups = todo.grouped(lambda m: (m.company_id, Sender._get_default_pdf_report_id(m)))
        for (company, report), moves in groups.items():
            try:
                content, report_type = Report.with_company(company)._pre_render_qweb_pdf(
                    report.report_name, res_ids=moves.ids
                )
                by_id = Report._get_splitted_report(report.report_name, content, report_type)
            except UserError:
                # wkhtmltopdf without its patched Qt converts one document at a time.
                if len(moves) == 1:
                    raise
                report_type, by_id = "pdf", {}
            extension = "pdf" if report_type == "pdf" else report_type
            for move in moves:
                raw = by_id.get(move.id)
                if raw is None:  # not split: render it on its own
                    content, report_type = Report.with_company(company)._pre_render_qweb_pdf(
                        report.report_name, res_ids=move.ids
                    )
                    raw = Report._get_splitted_report(report.report_name, content, report_type)
                    raw = next(iter(raw.values()))
                    extension = "pdf" if report_type == "pdf" else report_type
                filename = move._get_invoice_report_filename(extension=extension, report=report)
                documents[move] = (filename, raw)
        return documents

    def _rebilling_review_zip(self):
        """A zip of the invoice documents, one file per invoice."""
        return self._rebilling_zip(self._rebilling_review_render())

    def action_rebilling_review_download(self):
        """Download the selected invoices as one zip."""
        self._rebilling_review_check_approver()
        if not self:
            raise UserError(self.env._("Select the invoices to download."))
        return {
            "type": "ir.actions.act_url",
            "url": "/rebilling/review/invoices.zip?ids=" + ",".join(map(str, self.ids)),
            "target": "download",
        }

    # ------------------------------------------------------------ crons
    @api.model
    def _cron_rebilling_review_auto_approve(self):
        """Approve the invoices whose hold for review ended without approval."""
        domain = [
            ("rebilling_review_state", "=", "under_review"),
            ("state", "=", "posted"),
            ("rebilling_review_deadline", "<=", fields.Datetime.now()),
        ]
        Move = self.sudo()
        while moves := Move.search(domain, limit=CRON_BATCH):
            for company, company_moves in moves.grouped("company_id").items():
                company_moves.with_company(company)._rebilling_review_approve(auto=True)
            if not odoo_module.current_test:
                remaining = Move.search_count(domain)
                if not self.env["ir.cron"]._commit_progress(len(moves), remaining=remaining):
                    break

    @api.model
    def _rebilling_review_reissue_due_domain(self):
        return [
            ("rebilling_review_state", "=", "rejected"),
            ("state", "=", "posted"),
            ("rebilling_reissue_at", "<=", fields.Datetime.now()),
        ]

    @api.model
    def _cron_rebilling_review_reissue(self):
        """Queue the reissue of the rejected invoices whose off-peak hour has come.

        One job per company and batch of ``REISSUE_JOB_SIZE`` invoices (channel
        ``root.rebilling.review``): each job reissues its invoices set-based.
        """
        moves = self.sudo().search(self._rebilling_review_reissue_due_domain(), order="id")
        for company, company_moves in moves.grouped("company_id").items():
            for start in range(0, len(company_moves), REISSUE_JOB_SIZE):
                batch = company_moves[start : start + REISSUE_JOB_SIZE]
                batch.with_company(company).with_delay(
                    description=self.env._(
                        "Reissue %(count)s invoice(s) of %(company)s",
                        count=len(batch),
                        company=company.name,
                    ),
                    identity_key=f"rebilling_reissue:{company.id}:{batch[0].id}:{len(batch)}",
                )._rebilling_review_reissue_job()

    def _rebilling_review_reissue_job(self):
        """Job: reissue those of these invoices still rejected and due.

        A failing invoice stays rejected with the reason; a transient database
        error retries the whole job (nothing of it is kept).
        """
        due = self.filtered_domain(self._rebilling_review_reissue_due_domain())
        reissued = due._rebilling_review_reissue(raise_errors=False, attach=False)
        return self.env._(
            "%(done)s invoice(s) reissued, %(failed)s failed",
            done=len(reissued),
            failed=len(due) - len(reissued),
        )

    def _rebilling_review_reissue_failed(self, exc):
        """Keep the invoice rejected, say why, and try again at the next off-peak hour."""
        self.ensure_one()
        at = self.company_id._rebilling_next_off_peak()
        reason = exc.args[0] if getattr(exc, "args", None) else repr(exc)
        self.sudo().with_context(**NO_LINE_SYNC).write(
            {"rebilling_reissue_at": at, "rebilling_reissue_error": str(reason)}
        )
        self._message_log(
            body=self.env._("The reissue failed, retried at the next off-peak hour: %s", reason)
        )

    # ------------------------------------------------------------ helpers
    def _rebilling_review_notification(self, message, kind="success"):
        return notify.notification(message, kind, next_action=notify.SOFT_RELOAD)
