"""Pushing records to a backend: queue jobs (one per batch, never twice), then the push
itself (locks, payloads, batches, bindings, sync log), record by record isolated."""

import hashlib
import time

from odoo import api, models
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.exceptions import UserError, ValidationError

from ..connector.http import ConnectorError
from .rebilling_backend import payload_hash

# Pending queue.job states: a record in such a job is not queued again.
PENDING_JOB_STATES = ("wait_dependencies", "pending", "enqueued")


def split_every(size, items):
    size = max(1, int(size or 1))
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _rebilling_push_batch_size(self, res_model):
        """Override point: records sent per request."""
        self.ensure_one()
        return max(1, self.batch_size or 1)

    @api.model
    def _rebilling_pending_push_jobs(self):
        """The push jobs (of every backend) not done yet."""
        return (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("model_name", "=", self._name),
                    ("method_name", "=", "_rebilling_push_job"),
                    ("state", "in", PENDING_JOB_STATES),
                ]
            )
        )

    def _rebilling_pending_push_ids(self, res_model):
        """Ids of ``res_model`` records already in a pending push job of this backend."""
        self.ensure_one()
        jobs = self._rebilling_pending_push_jobs()
        ids = set()
        for job in jobs:
            args = job.args or ()
            if job.records.ids == self.ids and len(args) >= 2 and args[0] == res_model:
                ids.update(args[1])
        return ids

    def _rebilling_push_identity(self, res_model, ids):
        digest = hashlib.sha1(",".join(str(i) for i in sorted(ids)).encode()).hexdigest()
        return f"rebilling.push:{self.id}:{res_model}:{digest}"

    def _rebilling_enqueue_push(self, records, eta=None):
        """Queue push jobs of ``records``, one per batch; return the records queued.

        Records already in a pending push job of this backend are left out, and
        each job has an ``identity_key``: a record is never queued twice. The
        channel and retry pattern are data (``queue.job.function`` of
        ``_rebilling_push_job``).
        """
        self.ensure_one()
        records = records.exists()
        if not records:
            return records
        pending = self._rebilling_pending_push_ids(records._name)
        todo = records.filtered(lambda r: r.id not in pending)
        for chunk in split_every(self._rebilling_push_batch_size(records._name), todo.ids):
            self.with_delay(
                eta=eta,
                description=self.env._(
                    "%(backend)s: push %(count)s %(model)s",
                    backend=self.display_name,
                    count=len(chunk),
                    model=self.env[records._name]._description,
                ),
                identity_key=self._rebilling_push_identity(records._name, chunk),
            )._rebilling_push_job(records._name, chunk)
        return todo

    def _rebilling_push_job(self, res_model, record_ids):
        """Job: push the records; a transient failure retries the job (queue_job's pattern).

        A retry pushes the records again: those already pushed are skipped
        (payload hash; the PSA bindings were committed line by line), so only
        the ones that met the failure are sent. A server asking to wait (a
        daily limit) postpones the job by that long.
        """
        self.ensure_one()
        backend = self.with_company(self.company_id)
        records = backend.env[res_model].browse(record_ids).exists()
        summary = backend._rebilling_push(records)
        message = self.env._(
            "pushed %(pushed)s, up to date %(skipped)s, failed %(failed)s, retry %(retry)s",
            pushed=len(summary["pushed"]),
            skipped=len(summary["skipped"]),
            failed=len(summary["failed"]),
            retry=len(summary["retry"]),
        )
        if summary["retry"]:
            raise RetryableJobError(message, seconds=summary.get("retry_after") or None)
        return message

    def _rebilling_push_now_or_later(self, records):
        """Push a few records now (one batch at most), queue more as jobs.

        Return a notification action for the user.
        """
        self.ensure_one()
        records = records.exists()
        if len(records) > self._rebilling_push_batch_size(records._name):
            queued = self._rebilling_enqueue_push(records)
            return self._rebilling_notify(
                self.env._("%s record(s) queued: they are pushed in the background.", len(queued)),
                "success",
            )
        summary = self._rebilling_push(records)
        if summary["failed"] or summary["retry"]:
            logs = self.env["rebilling.sync.log"].search(
                [
                    ("backend_id", "=", self.id),
                    ("res_model", "=", records._name),
                    ("res_id", "in", summary["failed"] + summary["retry"]),
                    ("state", "=", "error"),
                ],
                order="id desc",
                limit=1,
            )
            return self._rebilling_notify(
                self.env._(
                    "%(ok)s pushed, %(ko)s failed: %(error)s",
                    ok=len(summary["pushed"]) + len(summary["skipped"]),
                    ko=len(summary["failed"]) + len(summary["retry"]),
                    error=logs.message or "",
                ),
                "warning",
            )
        return self._rebilling_notify(
            self.env._("%s record(s) pushed.", len(summary["pushed"]) + len(summary["skipped"])),
            "success",
        )

    # ------------------------------------------------------------ push: work
    def _rebilling_lock_records(self, records):
        """Lock ``records`` for this backend until the transaction ends (skip locked ones).

        Transaction-level advisory locks: two jobs (or a job and an Upload click)
        never push the same record at the same time.
        """
        self.ensure_one()
        if not records:
            return records
        self.env.cr.execute(
            "SELECT r FROM unnest(%s::int[]) AS r WHERE pg_try_advisory_xact_lock(hashtext(%s), r)",
            [records.ids, f"rebilling.push:{self.id}:{records._name}"],
        )
        locked = {row[0] for row in self.env.cr.fetchall()}
        return records.filtered(lambda r: r.id in locked)

    def _rebilling_push_before(self, records):
        """Override point: prepare what the payloads need (e.g. contacts)."""
        return True

    def _rebilling_push_prepare(self, record):
        """Override point: the payload of ``record``; UserError when it cannot be pushed."""
        raise UserError(
            self.env._("%(backend)s cannot push %(model)s.", backend=self.name, model=record._name)
        )

    def _rebilling_push_send(self, res_model, items):
        """Override point: send one batch; one result dict per item (see module doc)."""
        raise NotImplementedError

    def _rebilling_push(self, records, force=False):
        """Push ``records`` now; return ``{"pushed", "skipped", "failed", "retry"}`` id lists.

        Records locked by another transaction, or hit by a transient failure, are
        listed in ``retry``. An error on one record never stops the others: it
        is recorded on its binding, on the record (``_rebilling_sync_failed``)
        and in the sync log. Unchanged records already pushed are skipped unless
        ``force`` is set (an update, never a second creation).
        """
        self.ensure_one()
        summary = {"pushed": [], "skipped": [], "failed": [], "retry": []}
        records = records.exists()
        if not records:
            return summary
        res_model = records._name
        Binding = self.env["rebilling.binding"]
        if self.state != "connected":
            message = self.env._("%s is not connected.", self.display_name)
            for record in records:
                self._rebilling_push_failed(record, Binding, message)
            self._rebilling_log("push", res_model, "error", records, message=message)
            summary["failed"] = records.ids
            return summary
        locked = self._rebilling_lock_records(records)
        summary["retry"] += (records - locked).ids
        if not locked:
            return summary
        bindings = Binding._rebilling_map(self, locked)
        failed_logs = []
        try:
            self._rebilling_push_before(locked)
        except ConnectorError as exc:
            # A failure shared by the whole push (authentication, outage...).
            for record in locked:
                self._rebilling_push_failed(record, bindings.get(record.id, Binding), str(exc))
            summary["retry" if exc.retryable else "failed"] += locked.ids
            if exc.retry_after:
                summary["retry_after"] = exc.retry_after
            self._rebilling_log("push", res_model, "error", locked, message=str(exc))
            return summary
        todo = []
        for record in locked:
            binding = bindings.get(record.id, Binding)
            try:
                with self.env.cr.savepoint():
                    payload = self._rebilling_push_prepare(record)
            except (UserError, ValidationError) as exc:
                message = exc.args[0] if exc.args else str(exc)
                self._rebilling_push_failed(record, binding, message)
                failed_logs.append((record, message))
                summary["failed"].append(record.id)
                continue
            digest = payload_hash(payload)
            if binding and binding.external_id and binding.sync_hash == digest and not force:
                summary["skipped"].append(record.id)
                continue
            todo.append((record, payload, digest, binding))
        for record, message in failed_logs:
            self._rebilling_log("push", res_model, "error", record, message=message)
        for chunk in split_every(self._rebilling_push_batch_size(res_model), todo):
            self._rebilling_push_chunk(res_model, chunk, summary)
        return summary

    def _rebilling_push_chunk(self, res_model, chunk, summary):
        started = time.monotonic()
        try:
            results = self._rebilling_push_send(
                res_model, [(record, payload, binding) for record, payload, _d, binding in chunk]
            )
        except ConnectorError as exc:
            results = [
                {"error": str(exc), "retry": exc.retryable, "retry_after": exc.retry_after}
                for _item in chunk
            ]
        duration = (time.monotonic() - started) / max(1, len(chunk))
        Binding = self.env["rebilling.binding"]
        log_vals = []
        for (record, _payload, digest, binding), result in zip(chunk, results, strict=True):
            bound = result.get("bound")
            if bound:
                # Committed by the connector in its own transaction (exactly-once creates).
                binding = Binding.browse(bound)
            if result.get("error"):
                message = result["error"]
                if result.get("retry"):
                    summary["retry"].append(record.id)
                    if result.get("retry_after"):
                        summary["retry_after"] = max(
                            summary.get("retry_after") or 0, result["retry_after"]
                        )
                else:
                    summary["failed"].append(record.id)
                if bound:
                    self._rebilling_record_failed(record, message)
                else:
                    self._rebilling_push_failed(record, binding, message)
                state = "error"
            elif bound:
                self._rebilling_push_done(record, binding, result)
                summary["pushed"].append(record.id)
                message = result.get("message") or False
                state = "done"
            else:
                binding = Binding._rebilling_bind(
                    self,
                    record,
                    result["external_id"],
                    binding=binding,
                    sync_hash=digest,
                    external_url=result.get("url"),
                    sync_data=result.get("data"),
                )
                self._rebilling_push_done(record, binding, result)
                summary["pushed"].append(record.id)
                message = result.get("message") or False
                state = "done"
            log_vals.append(
                {
                    "backend_id": self.id,
                    "direction": "push",
                    "operation": res_model,
                    "res_model": res_model,
                    "res_id": record.id,
                    "external_id": result.get("external_id")
                    or (not bound and binding.external_id)
                    or False,
                    "state": state,
                    "message": message,
                    "duration": duration,
                }
            )
        self.env["rebilling.sync.log"].sudo().create(log_vals)

    def _rebilling_push_done(self, record, binding, result):
        """Override point: after a successful push of ``record``."""
        if hasattr(record, "_rebilling_sync_done"):
            record._rebilling_sync_done(self, binding)

    def _rebilling_push_failed(self, record, binding, message):
        """Record the failure on the binding and the record (no log line here)."""
        self.env["rebilling.binding"]._rebilling_set_error(self, record, message, binding=binding)
        self._rebilling_record_failed(record, message)

    def _rebilling_record_failed(self, record, message):
        """Tell ``record`` its push failed (its binding is written elsewhere)."""
        if hasattr(record, "_rebilling_sync_failed"):
            record._rebilling_sync_failed(self, message)

    def action_retry_failed(self):
        """Push again every record whose last push failed."""
        self.ensure_one()
        failed = self.env["rebilling.binding"].search(
            [("backend_id", "=", self.id), ("sync_state", "=", "error")]
        )
        count = 0
        for res_model, bindings in failed.grouped("res_model").items():
            records = self.env[res_model].browse(bindings.mapped("res_id")).exists()
            count += len(self._rebilling_enqueue_push(records))
        return self._rebilling_notify(
            self.env._("%s record(s) queued to be pushed again.", count), "success"
        )
