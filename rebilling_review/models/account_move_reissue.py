"""Reissue of invoices under review or rejected: recalculated from their source data.

Now, or at the company's off-peak hour (a cron queues one job per batch of
invoices); set-based per billing run. The invoice keeps its number and dates;
a total that changes sign replaces it by a document of the other type.

Override points:

- ``_rebilling_review_reissue_lines()``: the lines a reissue replaces;
- ``_rebilling_review_reissue_prepare(run)``: the new invoice values of a reissue.
"""

from collections import defaultdict

from markupsafe import Markup

from odoo import api, fields, models
from odoo.addons.rebilling_base.models.account_move import REISSUE_CONTEXT
from odoo.addons.rebilling_base.tools.transient import raise_if_transient
from odoo.exceptions import UserError
from odoo.fields import Command
from odoo.tools import format_datetime, formatLang

from .account_move_review import NO_LINE_SYNC

# Invoice lines the billing run generates; a reissue replaces them.
GENERATED_LINE_KINDS = ("service", "recurring", "once", "usage")
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


class AccountMove(models.Model):
    _inherit = "account.move"  # pylint: disable=consider-merging-classes-inherited

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

    # ------------------------------------------------------------ off-peak
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
