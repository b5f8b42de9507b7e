"""Connector core: one ``rebilling.backend`` per external system and company.

Xero, Autotask and ConnectWise share this machinery; a connector module adds
its system with ``backend_type = fields.Selection(selection_add=[...])`` and
implements a few small methods. Everything else (HTTP client, rate limit,
bindings, sync log, queue jobs, locking, error isolation) lives here.

Override points (all called on one backend, ``self.ensure_one()``):

``_rebilling_type_defaults(backend_type)``
    Field values a new backend of this type starts with (URLs, rate limits,
    batch size). Applied on create and on the form's onchange.
``_rebilling_client_kwargs()``
    Keyword arguments of :class:`~..connector.http.HttpClient`: extend the
    returned dict (``headers``, ``auth``, ``base_url``...). Secrets are read
    with ``sudo()`` here and never put in a log line or an error message.
``_rebilling_rate_limits()``
    ``(max_calls, window_seconds, max_concurrent)`` of the client-side limiter,
    shared by every call of the backend in this process.
``_rebilling_check_connection()``
    One cheap authenticated call; raise :class:`UserError` when it fails.
``_rebilling_disconnect()``
    Forget the session on the external side (best effort). Bindings are kept.
``_rebilling_push_before(records)``
    Called once per push with the locked records (e.g. create the contacts
    an invoice needs). Per-record problems are reported by the next hook.
``_rebilling_push_prepare(record)``
    The payload (JSON-able dict) of one record. Raise :class:`UserError` when
    the record cannot be pushed as it is: it is logged and the others go on.
    The payload's hash is stored on the binding: an unchanged record is not
    pushed again.
``_rebilling_push_send(res_model, items)``
    Send one batch (at most ``_rebilling_push_batch_size()`` items). ``items``
    is a list of ``(record, payload, binding)``; return one result dict per
    item, in the same order: ``{"external_id", "url", "data"}`` on success or
    ``{"error": "...", "retry": bool}`` on failure. Raise
    :class:`~..connector.http.RetryableError` for a batch-wide transient failure.
``_rebilling_push_batch_size(res_model)``
    Records per request (``batch_size``).
``_rebilling_pull_<what>()``
    One pull (``contacts``, ``accounts``...), run by :meth:`_rebilling_pull`;
    returns a short text for the sync log.

Entry points for the connector modules and the UI:
:meth:`_rebilling_enqueue_push` (queue jobs, identity keys), :meth:`_rebilling_push`
(push now), :meth:`_rebilling_push_now_or_later`, :meth:`_rebilling_enqueue_pull`,
:meth:`_rebilling_pull`, :meth:`_rebilling_client`, :meth:`_rebilling_log`.
"""

import hashlib
import json
import logging
import threading
import time
from urllib.parse import urlsplit

from odoo import api, fields, models
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.exceptions import AccessError, UserError, ValidationError

from ..connector.http import (
    ConnectorError,
    HttpClient,
    RateLimiter,
    RetryableError,
    SharedRateLimiter,
)
from ..tools import notify

_logger = logging.getLogger(__name__)

# Pending queue.job states: a record in such a job is not queued again.
PENDING_JOB_STATES = ("wait_dependencies", "pending", "enqueued")

# Hosts an endpoint may be reached on in plain http (fake servers of the tests, local proxies).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

_LIMITERS = {}
_LIMITERS_LOCK = threading.Lock()


def payload_hash(payload):
    """A stable hash of a JSON-able payload."""
    text = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def endpoint_url_allowed(url):
    """Whether ``url`` may receive credentials: https, or http(s) on the local host."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    return parts.scheme == "https" or parts.hostname in LOCAL_HOSTS


def split_every(size, items):
    size = max(1, int(size or 1))
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RebillingBackend(models.Model):
    _name = "rebilling.backend"
    _description = "Rebilling Connector Backend"
    _inherit = ["mail.thread", "rebilling.company.mixin"]
    _order = "company_id, backend_type, name"
    _check_company_auto = True

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True, tracking=True)
    backend_type = fields.Selection(
        [], "System", required=True, tracking=True, help="The external system of this backend."
    )
    company_id = fields.Many2one(
        "res.company", required=True, index=True, default=lambda self: self.env.company
    )
    state = fields.Selection(
        [("draft", "Not connected"), ("connected", "Connected"), ("error", "Error")],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
    )
    state_message = fields.Char("Connection Problem", readonly=True, copy=False)
    connected_since = fields.Datetime(readonly=True, copy=False)
    # -- connection
    api_url = fields.Char("API URL", help="Base URL of the external system's API.")
    connect_timeout = fields.Float("Connect Timeout (s)", default=5.0)
    read_timeout = fields.Float("Read Timeout (s)", default=30.0)
    max_retries = fields.Integer(
        default=5, help="Retries of a call after a 429, a 5xx, a timeout or a connection error."
    )
    retry_backoff = fields.Float(
        "First Retry Delay (s)", default=0.5, help="Doubled on each retry."
    )
    max_retry_after = fields.Float(
        "Longest Retry-After (s)", default=60.0, help="Longest wait accepted from Retry-After."
    )
    rate_limit_calls = fields.Integer(
        "Calls per Window", help="Client-side limit of calls per window (0: no limit)."
    )
    rate_limit_window = fields.Float("Window (s)", default=60.0)
    rate_limit_concurrent = fields.Integer(
        "Concurrent Calls", help="Calls in progress at the same time (0: no limit)."
    )
    time_factor = fields.Float(
        default=1.0,
        help="Scales the rate-limit window (e.g. 0.01 in benchmarks against a fake server).",
    )
    batch_size = fields.Integer(default=50, help="Records sent in one request.")
    auto_push = fields.Boolean(
        "Push New Invoices",
        default=True,
        help="Push the invoices of each billing run automatically once connected.",
    )
    # -- credentials: readable by system administrators only, never logged
    username = fields.Char()
    password = fields.Char(groups="base.group_system", copy=False)
    client_id = fields.Char("Client ID")
    client_secret = fields.Char(groups="base.group_system", copy=False)
    access_token = fields.Char(groups="base.group_system", copy=False)
    refresh_token = fields.Char(groups="base.group_system", copy=False)
    token_expires_at = fields.Datetime("Access Token Expiry", readonly=True, copy=False)
    # -- synchronisation
    binding_ids = fields.One2many("rebilling.binding", "backend_id", "Bindings")
    binding_count = fields.Integer(compute="_compute_counts")
    log_count = fields.Integer(compute="_compute_counts")
    error_count = fields.Integer("Failed Records", compute="_compute_counts")

    _company_type_uniq = models.UniqueIndex(
        "(company_id, backend_type) WHERE active",
        "A company has one active backend per external system.",
    )

    # ------------------------------------------------------------ computes
    def _compute_counts(self):
        Binding = self.env["rebilling.binding"]
        bindings = dict(
            Binding._read_group([("backend_id", "in", self.ids)], ["backend_id"], ["__count"])
        )
        errors = dict(
            Binding._read_group(
                [("backend_id", "in", self.ids), ("sync_state", "=", "error")],
                ["backend_id"],
                ["__count"],
            )
        )
        logs = dict(
            self.env["rebilling.sync.log"]._read_group(
                [("backend_id", "in", self.ids)], ["backend_id"], ["__count"]
            )
        )
        for backend in self:
            backend.binding_count = bindings.get(backend, 0)
            backend.error_count = errors.get(backend, 0)
            backend.log_count = logs.get(backend, 0)

    @api.constrains("batch_size", "time_factor", "rate_limit_window", "read_timeout")
    def _check_numbers(self):
        for backend in self:
            if backend.batch_size < 1:
                raise ValidationError(self.env._("The batch size must be at least 1."))
            if backend.time_factor <= 0 or backend.rate_limit_window <= 0:
                raise ValidationError(
                    self.env._("The rate-limit window and time factor must be positive.")
                )
            if backend.read_timeout <= 0:
                raise ValidationError(self.env._("The read timeout must be positive."))

    # ------------------------------------------------------------ endpoints
    @api.model
    def _rebilling_endpoint_fields(self):
        """Fields deciding where credentials are sent. Extend for a connector's own URLs.

        Only system administrators change them (to anything but the system's
        defaults), and only to https addresses (http on the local host only).
        """
        return {"api_url"}

    @api.constrains(lambda self: self._rebilling_endpoint_fields())
    def _check_endpoint_urls(self):
        for backend in self:
            for name in sorted(self._rebilling_endpoint_fields()):
                url = backend[name]
                if url and not endpoint_url_allowed(url):
                    raise ValidationError(
                        self.env._(
                            "%(field)s must be an https address (plain http is accepted on "
                            "127.0.0.1 or localhost only): %(url)s",
                            field=self._fields[name].string,
                            url=url,
                        )
                    )

    def _rebilling_endpoint_defaults(self, backend_type, name):
        """The values of endpoint ``name`` anyone may set: empty and the system's defaults."""
        allowed = {False, ""}
        allowed.add(self._rebilling_type_defaults(backend_type).get(name, False))
        allowed.add(self.default_get([name]).get(name, False))
        return allowed

    def _rebilling_check_endpoint_access(self, vals_list):
        """Refuse a new endpoint URL to anyone but a system administrator.

        ``vals_list``: ``(backend or empty record, vals)`` pairs of a create or write.
        """
        if self.env.su or self.env.user.has_group("base.group_system"):
            return
        names = self._rebilling_endpoint_fields()
        for backend, vals in vals_list:
            backend_type = vals.get("backend_type", backend.backend_type)
            for name in names & set(vals):
                value = vals[name] or False
                if backend and value == (backend[name] or False):
                    continue
                if value in self._rebilling_endpoint_defaults(backend_type, name):
                    continue
                raise AccessError(
                    self.env._(
                        "Only system administrators change where %(backend)s connects (%(field)s).",
                        backend=backend.display_name or self._description,
                        field=self._fields[name].string,
                    )
                )

    # ------------------------------------------------------------ type defaults
    @api.model
    def _rebilling_type_defaults(self, backend_type):
        """Override point: field values a new backend of ``backend_type`` starts with."""
        return {}

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            for name, value in self._rebilling_type_defaults(vals.get("backend_type")).items():
                vals.setdefault(name, value)
        self._rebilling_check_endpoint_access([(self.browse(), vals) for vals in vals_list])
        return super().create(vals_list)

    def write(self, vals):
        self._rebilling_check_endpoint_access([(backend, vals) for backend in self])
        return super().write(vals)

    @api.onchange("backend_type")
    def _onchange_backend_type(self):
        for name, value in self._rebilling_type_defaults(self.backend_type).items():
            self[name] = value

    # ------------------------------------------------------------ HTTP client
    def _rebilling_rate_limits(self):
        """Override point: ``(max_calls, window, max_concurrent)`` of the client-side limiter."""
        self.ensure_one()
        return (
            self.rate_limit_calls or None,
            self.rate_limit_window or 60.0,
            self.rate_limit_concurrent or None,
        )

    def _rebilling_rate_limiter(self):
        """The limiter of this backend's calls (or ``None``).

        The window limit is counted in PostgreSQL (``rebilling.rate.window``), so
        that every worker of every Odoo process shares the tenant's budget; the
        concurrent calls and the ``Retry-After`` pauses are kept per process.
        """
        self.ensure_one()
        calls, window, concurrent = self._rebilling_rate_limits()
        if not calls and not concurrent:
            return None
        local = None
        if concurrent:
            key = (self.env.cr.dbname, self.id, concurrent)
            with _LIMITERS_LOCK:
                local = _LIMITERS.get(key)
                if local is None:
                    local = _LIMITERS[key] = RateLimiter(None, max_concurrent=concurrent)
        if not calls:
            return local
        span = window * (self.time_factor or 1.0)
        Window = self.env["rebilling.rate.window"].sudo()
        backend_id = self.id
        return SharedRateLimiter(
            lambda: Window._rebilling_reserve(backend_id, calls, span),
            local=local,
            max_calls=calls,
            window=span,
        )

    def _rebilling_client_kwargs(self):
        """Override point: keyword arguments of the backend's :class:`HttpClient`."""
        self.ensure_one()
        return {
            "base_url": self.api_url or "",
            "headers": {"Accept": "application/json"},
            "timeout": (self.connect_timeout or 5.0, self.read_timeout or 30.0),
            "max_retries": self.max_retries,
            "backoff": self.retry_backoff,
            "max_retry_after": self.max_retry_after,
            "rate_limiter": self._rebilling_rate_limiter(),
            "logger": _logger,
            "classify": self._rebilling_classify_error,
        }

    def _rebilling_classify_error(self, response, body):
        """Override point: ``None`` (429 and 5xx transient, other 4xx permanent) or
        ``(retryable, retry_after)`` for a failed ``response`` of this backend's API."""
        return None

    def _rebilling_client(self):
        """A new :class:`HttpClient` for this backend (timeouts, retries, shared limiter)."""
        self.ensure_one()
        kwargs = self._rebilling_client_kwargs()
        return HttpClient(kwargs.pop("base_url"), **kwargs)

    # ------------------------------------------------------------ connection
    def _rebilling_check_connection(self):
        """Override point: one cheap authenticated call; raise UserError on failure."""
        raise UserError(
            self.env._("Testing the connection is not available for %s.", self.display_name)
        )

    def _rebilling_disconnect(self):
        """Override point: end the session on the external side (best effort)."""
        return True

    def _rebilling_set_connected(self, message=None):
        self.write(
            {
                "state": "connected",
                "state_message": False,
                "connected_since": fields.Datetime.now(),
            }
        )
        if message:
            self.message_post(body=message)

    def _rebilling_set_error(self, message):
        self.write({"state": "error", "state_message": message})

    def _rebilling_check_manage(self):
        """Raise unless the user manages these integrations (write access: a Rebilling
        Administrator of their company). Called first by every action that talks to the
        integration or changes its connection, before any request; extend for more checks."""
        self.check_access("write")

    def action_test_connection(self):
        self.ensure_one()
        self._rebilling_check_manage()
        try:
            self._rebilling_check_connection()
        except ConnectorError as exc:
            raise UserError(self.env._("The connection test failed: %s", exc)) from None
        return self._rebilling_notify(self.env._("The connection works."), "success")

    def action_disconnect(self):
        """Disconnect; bindings, logs and settings are kept for a later reconnection."""
        self._rebilling_check_manage()
        for backend in self:
            try:
                backend._rebilling_disconnect()
            except ConnectorError as exc:
                _logger.info("backend %s: remote disconnect failed: %s", backend.id, exc)
            backend.sudo().write(
                {
                    "state": "draft",
                    "state_message": False,
                    "access_token": False,
                    "refresh_token": False,
                    "token_expires_at": False,
                    "connected_since": False,
                }
            )
            backend.message_post(body=self.env._("Disconnected. The bindings are kept."))
        return True

    @api.model
    def _rebilling_notify(self, message, kind="info", sticky=None):
        sticky = kind != "success" if sticky is None else sticky
        return notify.notification(message, kind, sticky=sticky, next_action=notify.SOFT_RELOAD)

    # ------------------------------------------------------------ smart buttons
    def action_view_bindings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_binding"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"default_backend_id": self.id}
        return action

    def action_view_errors(self):
        action = self.action_view_bindings()
        action["context"] = {"search_default_error": 1}
        return action

    def action_view_logs(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_base.action_rebilling_sync_log"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

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

    # ------------------------------------------------------------ sync log
    def _rebilling_log(self, direction, operation, state, records=None, **values):
        """Write sync log lines: one per record of ``records``, else one for the operation.

        ``values`` may hold ``external_id``, ``message``, ``duration``, ``res_model``,
        ``res_id``. Messages are cut to 2,000 characters and must hold no secret.
        """
        self.ensure_one()
        message = values.pop("message", False)
        if message and len(message) > 2000:
            message = message[:1997] + "..."
        base = {
            "backend_id": self.id,
            "direction": direction,
            "operation": operation,
            "state": state,
            "message": message,
            **values,
        }
        # Written by the sync only: users read the log.
        Log = self.env["rebilling.sync.log"].sudo()
        if records is None:
            return Log.create(base).with_env(self.env)
        return Log.create(
            [dict(base, res_model=record._name, res_id=record.id) for record in records]
        ).with_env(self.env)

    # ------------------------------------------------------------ push: queue
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

    # ------------------------------------------------------------ pull
    def _rebilling_enqueue_pull(self, what, eta=None):
        """Queue one pull job (``identity_key``: never twice while pending)."""
        self.ensure_one()
        return self.with_delay(
            eta=eta,
            description=self.env._("%(backend)s: pull %(what)s", backend=self.name, what=what),
            identity_key=f"rebilling.pull:{self.id}:{what}",
        )._rebilling_pull_job(what)

    def _rebilling_pull_job(self, what):
        """Job: run one pull; a transient failure retries the job (queue_job's pattern)."""
        self.ensure_one()
        backend = self.with_company(self.company_id)
        ok, message, retryable = backend._rebilling_pull_run(what)
        if not ok and retryable:
            raise RetryableJobError(message)
        return message

    def _rebilling_pull(self, what):
        """Run ``_rebilling_pull_<what>()`` now and log it; UserError when it fails."""
        self.ensure_one()
        ok, message, _retryable = self._rebilling_pull_run(what)
        if not ok:
            raise UserError(
                self.env._("Pulling %(what)s failed: %(error)s", what=what, error=message)
            )
        return message

    def _rebilling_pull_run(self, what):
        """Run one pull in a savepoint and log it; return ``(ok, message, retryable)``."""
        self.ensure_one()
        method = getattr(self, f"_rebilling_pull_{what}", None)
        if method is None:
            raise UserError(self.env._("%(b)s cannot pull %(w)s.", b=self.name, w=what))
        started = time.monotonic()
        try:
            with self.env.cr.savepoint():
                message = method()
        except (ConnectorError, UserError) as exc:
            message = str(exc)
            self._rebilling_log(
                "pull", what, "error", message=message, duration=time.monotonic() - started
            )
            return False, message, isinstance(exc, RetryableError)
        self._rebilling_log(
            "pull", what, "done", message=message or False, duration=time.monotonic() - started
        )
        return True, message, False
