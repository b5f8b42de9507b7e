"""After the run: the month in Odoo against the month in each connected system."""

from odoo import api, fields, models
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.exceptions import UserError

from ..connector.http import ConnectorError


class RebillingBillingRun(models.Model):
    _inherit = "rebilling.billing.run"  # pylint: disable=consider-merging-classes-inherited

    reconcile_line_ids = fields.One2many(
        "rebilling.reconcile.line", "run_id", "Reconciliation", readonly=True
    )
    reconcile_count = fields.Integer("Disagreements", compute="_compute_reconcile_count")
    reconciled_at = fields.Datetime("Reconciled", readonly=True, copy=False)

    @api.depends("reconcile_line_ids")
    def _compute_reconcile_count(self):
        for run in self:
            run.reconcile_count = len(run.reconcile_line_ids)

    # ------------------------------------------------------------ documents
    def _rebilling_reconcile_moves(self):
        """Override point: the month's documents in Odoo (posted customer invoices and
        credit notes dated in the run's month, ready for the external systems)."""
        self.ensure_one()
        moves = self.env["account.move"].search(
            [
                ("company_id", "=", self.company_id.id),
                ("move_type", "in", ("out_invoice", "out_refund")),
                ("state", "=", "posted"),
                ("invoice_date", ">=", self.period_start),
                ("invoice_date", "<=", self.period_end),
            ],
            order="name, id",
        )
        return moves._rebilling_external_ready()

    @api.model
    def _rebilling_runs_of(self, moves):
        """The finished billing runs of the months of ``moves``."""
        runs = self.browse()
        for company, group in moves.grouped("company_id").items():
            days = {d.replace(day=1) for d in group.mapped("invoice_date") if d}
            if days:
                runs |= self.search(
                    [
                        ("company_id", "=", company.id),
                        ("period_start", "in", list(days)),
                        ("dry_run", "=", False),
                        ("state", "=", "done"),
                    ]
                )
        return runs

    # ------------------------------------------------------------ reconcile
    def _rebilling_reconcile(self):
        """Compare each run's month with every connected system; store and post the result.

        Connector errors go up (the job retries the transient ones).
        """
        Line = self.env["rebilling.reconcile.line"].sudo()
        for run in self:
            run = run.with_company(run.company_id)
            moves = run._rebilling_reconcile_moves()
            backends = self.env["rebilling.backend"]._rebilling_reconcile_backends(run.company_id)
            vals = []
            for backend in backends.with_company(run.company_id):
                vals += backend._rebilling_reconcile_lines(run, moves)
            run.sudo().reconcile_line_ids.unlink()
            lines = Line.create(vals)
            run.sudo().reconciled_at = fields.Datetime.now()
            run._rebilling_reconcile_post(backends, moves, lines)
        return True

    def _rebilling_reconcile_post(self, backends, moves, lines):
        """Record the result in the run's chatter: counts per system and kind."""
        self.ensure_one()
        if not backends:
            body = self.env._("Reconciliation: no connected system to compare with.")
        else:
            kinds = dict(lines._fields["kind"]._description_selection(self.env))
            parts = []
            for backend in backends:
                mine = lines.filtered(lambda line, b=backend: line.backend_id == b)
                if not mine:
                    parts.append(self.env._("%s: all agree", backend.display_name))
                    continue
                counts = ", ".join(
                    f"{kinds[kind]} {len(group)}"
                    for kind, group in sorted(mine.grouped("kind").items())
                )
                parts.append(f"{backend.display_name}: {counts}")
            body = self.env._(
                "Reconciliation of %(count)s documents: %(result)s.",
                count=len(moves),
                result="; ".join(parts),
            )
        self.message_post(body=body)

    def action_reconcile(self):
        """Button: reconcile now; show what disagrees."""
        self.ensure_one()
        self.check_access("write")
        if self.dry_run or self.state != "done":
            raise UserError(self.env._("Reconcile a billing run once it is done."))
        try:
            self._rebilling_reconcile()
        except ConnectorError as exc:
            raise UserError(self.env._("Reconciliation failed: %s", exc)) from exc
        return self.action_view_reconcile()

    def action_view_reconcile(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_connector.rebilling_reconcile_line_action"
        )
        action["domain"] = [("run_id", "=", self.id)]
        action["context"] = {"default_run_id": self.id}
        return action

    # ------------------------------------------------------------ job
    def _rebilling_enqueue_reconcile(self, eta=None):
        """Queue the reconciliation of each run (``identity_key``: once while pending)."""
        for run in self:
            run.with_delay(
                eta=eta,
                description=self.env._("Reconcile %s", run.name),
                identity_key=f"rebilling.reconcile:{run.id}",
            )._rebilling_reconcile_job()

    def _rebilling_reconcile_job(self):
        """Job: reconcile; a transient connector failure retries the job."""
        try:
            self._rebilling_reconcile()
        except ConnectorError as exc:
            if exc.retryable:
                raise RetryableJobError(str(exc), seconds=exc.retry_after or None) from exc
            raise
        return self.env._("%s disagreements", sum(self.mapped("reconcile_count")))


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _rebilling_push_job(self, res_model, record_ids):
        """Once the company's last push job is done, its month is reconciled."""
        res = super()._rebilling_push_job(res_model, record_ids)
        if res_model in ("account.move", "account.move.line"):
            records = self.env[res_model].browse(record_ids).exists()
            moves = records if res_model == "account.move" else records.move_id
            if not self._rebilling_company_pushes_pending():
                runs = self.env["rebilling.billing.run"].sudo()._rebilling_runs_of(moves)
                runs._rebilling_enqueue_reconcile()
        return res

    def _rebilling_company_pushes_pending(self):
        """Whether a push job of a backend of this company is still waiting."""
        self.ensure_one()
        jobs = self._rebilling_pending_push_jobs()
        return any(job.records.company_id == self.company_id for job in jobs)
