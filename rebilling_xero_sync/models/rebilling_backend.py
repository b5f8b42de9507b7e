"""The Xero backend: its fields, type defaults and API calls.

Built on ``rebilling_connector`` (see the docstring of its ``rebilling_backend``
module for the override points). One concern per file, all on
``rebilling.backend``:

* ``rebilling_backend.py``: the fields, the defaults of a new Xero backend and
  :meth:`_xero_call` (one API call of the organisation, a 401 refreshes once);
* ``rebilling_backend_xero_token.py``: the access and refresh tokens;
* ``rebilling_backend_xero_oauth.py``: the OAuth2 authorization, the
  organisation chosen, the disconnection;
* ``rebilling_backend_xero_accounts.py``: the organisation's settings (short
  code, tax rates) and revenue accounts pulled;
* ``rebilling_backend_xero_contacts.py``: customers matched with Xero contacts,
  the missing ones created;
* ``rebilling_backend_xero_push.py``: invoices pushed in batches, exactly once;
* ``rebilling_backend_xero_credit_note.py``: credit notes found again and
  allocated to the invoice they credit;
* ``rebilling_backend_reconcile.py``: the month's documents read back.
"""

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from odoo import api, fields, models
from odoo.addons.rebilling_connector.connector.http import (
    BearerAuth,
    PermanentError,
    parse_retry_after,
)

from ..tools import xero

_logger = logging.getLogger(__name__)


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    backend_type = fields.Selection(selection_add=[("xero", "Xero")], ondelete={"xero": "cascade"})
    state = fields.Selection(
        selection_add=[("tenant", "Choose organisation"), ("connected",)],
        ondelete={"tenant": "set default"},
    )
    xero_authorize_url = fields.Char("Authorize URL", default=xero.AUTHORIZE_URL)
    xero_token_url = fields.Char("Token URL", default=xero.TOKEN_URL)
    xero_revocation_url = fields.Char("Revocation URL", default=xero.REVOCATION_URL)
    xero_connections_url = fields.Char("Connections URL", default=xero.CONNECTIONS_URL)
    xero_app_url = fields.Char(
        "Xero Web App URL", default=xero.APP_URL, help="Used for the Open in Xero links."
    )
    xero_scopes = fields.Char(
        "Scopes",
        default=xero.DEFAULT_SCOPES,
        help="Space-separated OAuth2 scopes. Apps created since March 2026 must use granular "
        "scopes (accounting.invoices...); older apps may still use accounting.transactions. "
        "offline_access is needed to stay connected.",
    )
    xero_redirect_uri = fields.Char(
        "Redirect URI",
        compute="_compute_xero_redirect_uri",
        help="Register this address in your Xero app.",
    )
    xero_invoice_status = fields.Selection(
        [("DRAFT", "Draft"), ("AUTHORISED", "Approved")],
        "Invoice Status in Xero",
        default="AUTHORISED",
    )
    xero_oauth_state = fields.Char(groups="base.group_system", copy=False)
    xero_code_verifier = fields.Char(groups="base.group_system", copy=False)
    xero_oauth_started = fields.Datetime(copy=False, readonly=True)
    xero_oauth_user_id = fields.Many2one("res.users", copy=False, readonly=True)
    xero_tenant_ids = fields.One2many("rebilling.xero.tenant", "backend_id", "Organisations")
    xero_tenant_id = fields.Many2one(
        "rebilling.xero.tenant",
        "Organisation",
        copy=False,
        tracking=True,
        domain="[('backend_id', '=', id), ('connected', '=', True)]",
    )
    xero_account_ids = fields.One2many("rebilling.xero.account", "backend_id", "Xero Accounts")
    xero_default_account_id = fields.Many2one(
        "rebilling.xero.account",
        "Default Xero Account Code",
        compute="_compute_xero_default_account_id",
        inverse="_inverse_xero_default_account_id",
        domain="[('backend_id', '=', id)]",
        help="Account code of invoice lines in Xero; products and charges can override it.",
    )
    xero_account_warning = fields.Boolean(compute="_compute_xero_default_account_id")
    xero_token_expires_at = fields.Datetime(
        "Xero Token Expiry", compute="_compute_xero_token_expires_at"
    )

    @api.model
    def _rebilling_type_defaults(self, backend_type):
        if backend_type != "xero":
            return super()._rebilling_type_defaults(backend_type)
        return {
            "name": "Xero",
            "api_url": xero.API_URL,
            "rate_limit_calls": xero.MINUTE_LIMIT,
            "rate_limit_window": 60.0,
            "rate_limit_concurrent": xero.CONCURRENT_LIMIT,
            "batch_size": xero.BATCH_SIZE,
        }

    @api.model
    def _rebilling_endpoint_fields(self):
        return super()._rebilling_endpoint_fields() | {
            "xero_authorize_url",
            "xero_token_url",
            "xero_revocation_url",
            "xero_connections_url",
            "xero_app_url",
        }

    def _compute_xero_redirect_uri(self):
        for backend in self:
            backend.xero_redirect_uri = backend.get_base_url() + xero.CALLBACK_PATH

    @api.depends("company_id.rebilling_xero_account_code", "xero_account_ids.code", "state")
    def _compute_xero_default_account_id(self):
        for backend in self:
            code = backend.company_id.rebilling_xero_account_code
            account = backend.xero_account_ids.filtered(lambda a, c=code: a.code == c)[:1]
            backend.xero_default_account_id = account
            backend.xero_account_warning = (
                backend.backend_type == "xero" and backend.state == "connected" and not account
            )

    def _inverse_xero_default_account_id(self):
        for backend in self:
            backend.company_id.sudo().rebilling_xero_account_code = (
                backend.xero_default_account_id.code or False
            )

    @api.model
    def _xero_backend(self, company):
        """The active Xero backend of ``company`` (empty when none)."""
        return self.search(
            [("backend_type", "=", "xero"), ("company_id", "=", company.id)], limit=1
        )

    def _rebilling_client_kwargs(self):
        kwargs = super()._rebilling_client_kwargs()
        if self.backend_type == "xero":
            kwargs["auth"] = BearerAuth(self._xero_access_token)
        return kwargs

    def _rebilling_classify_error(self, response, body):
        """Xero's daily limit (429, ``X-Rate-Limit-Problem: day``) is not retried within
        minutes: the wait goes up to the job, postponed to when Xero says (else to the
        next UTC day). The minute and concurrent limits keep the default rule."""
        if self.backend_type != "xero" or response.status_code != 429:
            return super()._rebilling_classify_error(response, body)
        if (response.headers.get("X-Rate-Limit-Problem") or "").lower() != "day":
            return super()._rebilling_classify_error(response, body)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if not retry_after:
            now = datetime.now(UTC)
            tomorrow = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
            retry_after = (tomorrow - now).total_seconds()
        return True, max(retry_after, self.max_retry_after + 1)

    def _xero_app_link(self, target):
        """The deep link of ``target`` (a page of the Xero web app): it opens the
        organisation of the link (its short code) before the page."""
        base = (self.xero_app_url or xero.APP_URL).rstrip("/")
        short_code = self.xero_tenant_id.short_code
        if short_code:
            query = urlencode({"shortcode": short_code, "redirecturl": target})
            return f"{base}/organisationlogin/default.aspx?{query}"
        return base + target

    def _xero_client(self):
        """The backend's API client, shared by the calls of the current transaction."""
        self.ensure_one()
        key = ("rebilling_xero_client", self.id)
        client = self.env.cr.cache.get(key)
        if client is None:
            client = self.env.cr.cache[key] = self._rebilling_client()
        return client

    def _xero_call(self, method, path, tenant=True, **kwargs):
        """One Xero API call (JSON); a 401 refreshes the token once and tries again."""
        self.ensure_one()
        headers = dict(kwargs.pop("headers", None) or {})
        if tenant:
            if not self.xero_tenant_id:
                raise PermanentError(self.env._("Choose the Xero organisation first."))
            headers["xero-tenant-id"] = self.xero_tenant_id.tenant_id
        client = self._xero_client()
        try:
            return client.json_request(method, path, headers=headers, **kwargs)
        except PermanentError as exc:
            if exc.status != 401:
                raise
            _logger.info("backend %s: Xero answered 401, refreshing the token", self.id)
            self._xero_access_token(force_refresh=True)
            return client.json_request(method, path, headers=headers, **kwargs)

    def _rebilling_check_connection(self):
        if self.backend_type != "xero":
            return super()._rebilling_check_connection()
        self._xero_call("GET", "Organisation")
        return True

    def _xero_upsert(self, field_name, key, rows, gone):
        """Mirror ``rows`` (``[(external key, vals)]``) in the one2many ``field_name``.

        Known records are updated, new ones created in one batch, and those no
        longer in ``rows`` get ``gone``. Returns the records of ``rows``.
        """
        self.ensure_one()
        current = self.with_context(active_test=False).sudo()[field_name]
        known = {record[key]: record for record in current}
        seen = current.browse()
        to_create = []
        for external_key, vals in rows:
            record = known.get(external_key)
            if record:
                record.write(vals)
                seen |= record
            else:
                to_create.append({"backend_id": self.id, key: external_key, **vals})
        seen |= current.create(to_create)
        (current - seen).write(gone)
        return seen
