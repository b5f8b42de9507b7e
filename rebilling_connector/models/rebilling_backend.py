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

One concern per file: this one (fields, endpoints, type defaults, smart buttons,
sync log lines), ``rebilling_backend_client.py`` (HTTP client and rate limiter),
``rebilling_backend_connection.py`` (connection test, state, disconnect),
``rebilling_backend_push.py`` (push jobs and the push), ``rebilling_backend_pull.py``
(pulls), ``rebilling_backend_reconcile.py`` (the month read back), and what
the PSA connectors share: ``rebilling_backend_psa.py`` (the spec of each PSA, its
names and calls), ``rebilling_backend_psa_connection.py``,
``rebilling_backend_psa_pull.py`` and ``rebilling_backend_psa_push.py``.

Entry points for the connector modules and the UI:
:meth:`_rebilling_enqueue_push` (queue jobs, identity keys), :meth:`_rebilling_push`
(push now), :meth:`_rebilling_push_now_or_later`, :meth:`_rebilling_enqueue_pull`,
:meth:`_rebilling_pull`, :meth:`_rebilling_client`, :meth:`_rebilling_log`.
"""

import hashlib
import json
from urllib.parse import urlsplit

from odoo import api, fields, models
from odoo.addons.rebilling_base.tools import notify
from odoo.exceptions import AccessError, ValidationError

# Hosts an endpoint may be reached on in plain http (fake servers of the tests, local proxies).
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


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

    @api.model
    def _rebilling_notify(self, message, kind="info", sticky=None):
        sticky = kind != "success" if sticky is None else sticky
        return notify.notification(message, kind, sticky=sticky, next_action=notify.SOFT_RELOAD)

    # ------------------------------------------------------------ smart buttons
    def action_view_bindings(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "rebilling_connector.action_rebilling_binding"
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
            "rebilling_connector.action_rebilling_sync_log"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        return action

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
