"""The Xero backend: OAuth2 connection, contacts, accounts and the invoice push.

Built on the connector core of ``rebilling_base`` (see its ``rebilling_backend``
docstring for the override points). Tokens: the access token lives 30 minutes
and is refreshed 2 minutes before it expires; refresh tokens are single-use and
rotate, so a refresh locks the backend row and stores the new pair in its own
transaction, committed right after Xero answers.
"""

import logging
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import psycopg2

from odoo import api, fields, models
from odoo.addons.rebilling_connector.connector.http import (
    BearerAuth,
    ConnectorError,
    HttpClient,
    PermanentError,
    RetryableError,
    parse_retry_after,
)
from odoo.addons.rebilling_connector.models.rebilling_backend import payload_hash
from odoo.exceptions import AccessDenied, UserError
from odoo.modules import module as odoo_module

from ..tools import xero

_logger = logging.getLogger(__name__)

TOKEN_MARGIN = 120  # seconds before expiry when the access token is refreshed
STATE_TTL = timedelta(minutes=15)
XERO_ID_FIELDS = {"Invoices": "InvoiceID", "CreditNotes": "CreditNoteID", "Contacts": "ContactID"}
SEARCH_THRESHOLD = 20  # fewer unbound customers: search Xero by name, else list all contacts
# Refresh failures met inside the caller's transaction (kept outside the cursor
# cache, which a rolled-back savepoint clears).
_REAUTH = {}


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"

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

    # ------------------------------------------------------------ defaults / computes
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

    # ------------------------------------------------------------ tokens
    def _xero_identity_client(self):
        self.ensure_one()
        secret = self.sudo()
        if not secret.client_id or not secret.client_secret:
            raise UserError(self.env._("Enter the client ID and secret of your Xero app first."))
        return HttpClient(
            "",
            auth=(secret.client_id, secret.client_secret),
            headers={"Accept": "application/json"},
            timeout=(self.connect_timeout or 5.0, self.read_timeout or 30.0),
            max_retries=min(2, self.max_retries),
            backoff=self.retry_backoff,
            logger=_logger,
        )

    def _xero_token(self):
        """The token record of this backend (sudo; empty when never connected)."""
        self.ensure_one()
        return (
            self.env["rebilling.xero.token"].sudo().search([("backend_id", "=", self.id)], limit=1)
        )

    def _compute_xero_token_expires_at(self):
        for backend in self:
            backend.xero_token_expires_at = backend._xero_token().expires_at

    def _xero_store_tokens(self, answer):
        """Save a token answer (access + rotated refresh token)."""
        self.ensure_one()
        if not answer or not answer.get("access_token"):
            raise PermanentError(self.env._("Xero answered without an access token."))
        expires = fields.Datetime.now() + timedelta(seconds=int(answer.get("expires_in") or 1800))
        vals = {"access_token": answer["access_token"], "expires_at": expires}
        if answer.get("refresh_token"):
            vals["refresh_token"] = answer["refresh_token"]
        token = self._xero_token()
        if token:
            token.write(vals)
        else:
            token.create({"backend_id": self.id, **vals})
        self.env.cr.cache[("rebilling_xero_token", self.id)] = (answer["access_token"], expires)
        return answer["access_token"], expires

    def _xero_forget_tokens(self):
        self._xero_token().unlink()
        self.env.cr.cache.pop(("rebilling_xero_token", self.id), None)

    def _xero_access_token(self, force_refresh=False):
        """A valid access token, refreshed when it expires within 2 minutes."""
        self.ensure_one()
        limit = fields.Datetime.now() + timedelta(seconds=TOKEN_MARGIN)
        key = ("rebilling_xero_token", self.id)
        cached = self.env.cr.cache.get(key)
        if cached and not force_refresh and cached[1] > limit:
            return cached[0]
        token = self._xero_token()
        known = cached[0] if cached else token.access_token
        if (
            not force_refresh
            and token.access_token
            and token.expires_at
            and token.expires_at > limit
        ):
            self.env.cr.cache[key] = (token.access_token, token.expires_at)
            return token.access_token
        access, expires = self._xero_refresh(known)
        self.env.cr.cache[key] = (access, expires)
        return access

    def _xero_refresh(self, known):
        """Refresh the tokens under a row lock, committed at once; return (token, expiry).

        In its own transaction so that the rotated refresh token is saved even if
        the caller's transaction rolls back later. When the caller's transaction
        already holds the token row, refresh inside it instead.
        """
        self.ensure_one()
        if odoo_module.current_test:
            return self._xero_refresh_locked(known)
        for _attempt in range(3):
            try:
                with self.env.registry.cursor() as cr:
                    cr.execute("SET LOCAL lock_timeout = '5s'")
                    backend = self.with_env(self.env(cr=cr))
                    access, expires, error = backend._xero_refresh_locked(known, raise_error=False)
            except psycopg2.errors.LockNotAvailable:
                return self._xero_refresh_locked(known)
            except psycopg2.errors.SerializationFailure:
                continue  # another worker refreshed meanwhile: read its tokens
            if error:
                if not error.retryable:
                    _REAUTH[(self.env.cr.dbname, self.id)] = (str(error), False)
                raise error
            return access, expires
        raise RetryableError(self.env._("The Xero tokens could not be refreshed: busy."))

    def _xero_refresh_locked(self, known, raise_error=True):
        self.env.cr.execute(
            "SELECT id FROM rebilling_xero_token WHERE backend_id = %s FOR UPDATE",
            [self.id],
            log_exceptions=False,
        )
        token = self._xero_token()
        token.invalidate_recordset()
        limit = fields.Datetime.now() + timedelta(seconds=TOKEN_MARGIN)
        if (
            token.access_token
            and token.access_token != known
            and token.expires_at
            and token.expires_at > limit
        ):
            result = (token.access_token, token.expires_at)  # refreshed by another worker
            return result if raise_error else (*result, None)
        error = None
        if not token.refresh_token:
            error = PermanentError(self.env._("Not connected to Xero: authenticate again."))
        else:
            try:
                answer = self._xero_identity_client().post(
                    self.xero_token_url,
                    data={"grant_type": "refresh_token", "refresh_token": token.refresh_token},
                )
                result = self._xero_store_tokens(answer)
                _logger.info("backend %s: Xero tokens refreshed", self.id)
                return result if raise_error else (*result, None)
            except ConnectorError as exc:
                if exc.retryable:
                    error = exc
                else:
                    error = PermanentError(
                        self.env._(
                            "Xero refused to refresh the connection (%s): authenticate again.",
                            xero.error_text(exc.body) or exc.status,
                        ),
                        status=exc.status,
                    )
                    token.write({"access_token": False, "refresh_token": False})
        if raise_error:
            if not error.retryable:
                # In the caller's transaction: a savepoint may undo the write above.
                _REAUTH[(self.env.cr.dbname, self.id)] = (str(error), True)
            raise error
        return None, None, error

    def _xero_keep_reauth_state(self):
        """After a refused refresh: the backend is in error (set in the caller's transaction)."""
        found = _REAUTH.pop((self.env.cr.dbname, self.id), None)
        if found:
            message, in_transaction = found
            self.invalidate_recordset()
            self.sudo().write({"state": "error", "state_message": message})
            if in_transaction:
                self._xero_token().write({"access_token": False, "refresh_token": False})

    def _rebilling_pull_run(self, what):
        result = super()._rebilling_pull_run(what)
        self._xero_keep_reauth_state()
        return result

    def _rebilling_push(self, records, force=False):
        result = super()._rebilling_push(records, force=force)
        self._xero_keep_reauth_state()
        return result

    # ------------------------------------------------------------ API
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

    # ------------------------------------------------------------ OAuth2
    def action_xero_authenticate(self):
        """Start the OAuth2 authorization-code flow (PKCE, checked ``state``)."""
        self.ensure_one()
        self._rebilling_check_manage()
        secret = self.sudo()
        if not secret.client_id or not secret.client_secret:
            raise UserError(self.env._("Enter the client ID and secret of your Xero app first."))
        scopes = (self.xero_scopes or "").split()
        if "offline_access" not in scopes:
            raise UserError(self.env._("The scopes must include offline_access to stay connected."))
        state = secrets.token_urlsafe(32)
        verifier, challenge = xero.pkce_pair()
        secret.write(
            {
                "xero_oauth_state": state,
                "xero_code_verifier": verifier,
                "xero_oauth_started": fields.Datetime.now(),
                "xero_oauth_user_id": self.env.user.id,
            }
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": secret.client_id,
                "redirect_uri": self.xero_redirect_uri,
                "scope": " ".join(scopes),
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"{self.xero_authorize_url}?{query}",
            "target": "self",
        }

    @api.model
    def _xero_oauth_callback(self, state, code=None, error=None):
        """The redirect from Xero: check ``state``, get the tokens, load the organisations."""
        if not state:
            raise AccessDenied(self.env._("The answer from Xero has no state."))
        backend = self.sudo().search(
            [("backend_type", "=", "xero"), ("xero_oauth_state", "=", state)], limit=1
        )
        if (
            not backend
            or not secrets.compare_digest(backend.xero_oauth_state or "", state)
            or backend.xero_oauth_user_id != self.env.user
        ):
            _logger.warning("Xero OAuth callback with an unknown state refused")
            raise AccessDenied(
                self.env._("The answer from Xero does not match a pending authentication.")
            )
        verifier = backend.xero_code_verifier
        started = backend.xero_oauth_started
        backend.write(
            {"xero_oauth_state": False, "xero_code_verifier": False, "xero_oauth_started": False}
        )
        backend = backend.sudo(False).with_user(self.env.user)
        if not started or started + STATE_TTL < fields.Datetime.now():
            raise UserError(self.env._("The authentication took too long: start it again."))
        if error or not code:
            raise UserError(self.env._("Xero did not grant access: %s", error or "no code"))
        try:
            answer = backend._xero_identity_client().post(
                backend.xero_token_url,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": backend.xero_redirect_uri,
                    "code_verifier": verifier,
                },
            )
        except ConnectorError as exc:
            raise UserError(
                self.env._(
                    "Xero refused the authorization code: %s", xero.error_text(exc.body) or exc
                )
            ) from None
        backend._xero_store_tokens(answer)
        backend.message_post(body=self.env._("Authenticated with Xero."))
        try:
            backend._xero_load_tenants()
        except ConnectorError as exc:
            backend._rebilling_set_error(
                self.env._("The Xero organisations could not be read: %s", exc)
            )
        return backend

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

    def _xero_load_tenants(self):
        """Read /connections; keep the organisation when still there, else pick the only one."""
        self.ensure_one()
        connections = self._xero_call("GET", self.xero_connections_url, tenant=False) or []
        seen = self._xero_upsert(
            "xero_tenant_ids",
            "tenant_id",
            [
                (
                    conn.get("tenantId"),
                    {
                        "name": conn.get("tenantName") or conn.get("tenantId"),
                        "tenant_type": conn.get("tenantType"),
                        "connection_id": conn.get("id"),
                        "connected": True,
                    },
                )
                for conn in connections
            ],
            gone={"connected": False},
        )
        if self.xero_tenant_id in seen:
            return self._xero_activate()
        organisations = seen.filtered(lambda t: t.tenant_type in (False, "ORGANISATION"))
        if len(organisations) == 1 and not self._xero_bound_elsewhere(organisations):
            self.xero_tenant_id = organisations
            return self._xero_activate()
        self.write({"state": "tenant", "xero_tenant_id": False, "state_message": False})
        return True

    def _xero_bound_elsewhere(self, tenant):
        """Were records pushed with another organisation than ``tenant``?"""
        previous = self.with_context(active_test=False).xero_tenant_ids.filtered(
            lambda t: t.used and t != tenant
        )
        return bool(previous and self.binding_ids)

    def action_xero_reload_tenants(self):
        """Read the organisations again (after a failure, or to switch organisation)."""
        self.ensure_one()
        self._rebilling_check_manage()
        try:
            self._xero_load_tenants()
        except ConnectorError as exc:
            raise UserError(
                self.env._("The Xero organisations could not be read: %s", exc)
            ) from None
        return True

    def action_xero_select_tenant(self):
        self.ensure_one()
        self._rebilling_check_manage()
        if not self.xero_tenant_id:
            raise UserError(self.env._("Choose the Xero organisation to connect."))
        if self._xero_bound_elsewhere(self.xero_tenant_id):
            raise UserError(
                self.env._(
                    "Records were already pushed to another Xero organisation: connect that one, "
                    "or create a new integration for %s.",
                    self.xero_tenant_id.name,
                )
            )
        self._xero_activate()
        return True

    def _xero_activate(self):
        """The organisation is chosen: connected; pull its settings and accounts."""
        self.ensure_one()
        self.xero_tenant_id.sudo().used = True
        self._rebilling_set_connected(
            self.env._("Connected to the Xero organisation %s.", self.xero_tenant_id.name)
        )
        # Failures are in the sync log; the connection stands.
        self._rebilling_pull_run("settings")
        self._rebilling_pull_run("accounts")
        self._rebilling_enqueue_pull("contacts")
        return True

    def _rebilling_disconnect(self):
        if self.backend_type != "xero":
            return super()._rebilling_disconnect()
        token = self._xero_token()
        if self.xero_tenant_id.connection_id and token.access_token:
            try:
                self._xero_call(
                    "DELETE",
                    f"{self.xero_connections_url}/{self.xero_tenant_id.connection_id}",
                    tenant=False,
                    retries=0,
                )
            except ConnectorError as exc:
                _logger.info("backend %s: Xero connection not deleted: %s", self.id, exc)
        if token.refresh_token and self.xero_revocation_url:
            try:
                self._xero_identity_client().request(
                    "POST",
                    self.xero_revocation_url,
                    data={"token": token.refresh_token},
                    retries=0,
                )
            except ConnectorError as exc:
                _logger.info("backend %s: Xero token not revoked: %s", self.id, exc)
        self.xero_tenant_ids.sudo().write({"connected": False})
        self._xero_forget_tokens()
        return True

    # ------------------------------------------------------------ pulls
    def action_xero_pull(self):
        """Button: pull the organisation's settings, accounts and contacts now."""
        self.ensure_one()
        self._rebilling_check_manage()
        messages = [self._rebilling_pull(what) for what in ("settings", "accounts", "contacts")]
        return self._rebilling_notify(" ".join(m for m in messages if m), "success")

    def action_xero_pull_accounts(self):
        self.ensure_one()
        self._rebilling_check_manage()
        return self._rebilling_notify(self._rebilling_pull("accounts"), "success")

    def action_xero_sync_contacts(self):
        self.ensure_one()
        self._rebilling_check_manage()
        return self._rebilling_notify(self._rebilling_pull("contacts"), "success")

    def _rebilling_pull_settings(self):
        """Organisation short code (deep links) and tax rates (TaxType codes)."""
        organisations = (self._xero_call("GET", "Organisation") or {}).get("Organisations") or []
        rates = (self._xero_call("GET", "TaxRates") or {}).get("TaxRates") or []
        tax_types = {
            rate["Name"]: rate["TaxType"]
            for rate in rates
            if rate.get("Name") and rate.get("TaxType") and rate.get("Status", "ACTIVE") == "ACTIVE"
        }
        vals = {"tax_types": tax_types}
        if organisations:
            vals["short_code"] = organisations[0].get("ShortCode")
        self.xero_tenant_id.sudo().write(vals)
        return self.env._("%s tax rates.", len(tax_types))

    def _rebilling_pull_accounts(self):
        """Active revenue accounts, for the account code choices."""
        answer = self._xero_call("GET", "Accounts", params={"where": 'Status=="ACTIVE"'}) or {}
        accounts = [
            a
            for a in answer.get("Accounts") or []
            if a.get("Code") and (a.get("Class") == "REVENUE" or a.get("Type") in ("REVENUE",))
        ]
        seen = self._xero_upsert(
            "xero_account_ids",
            "account_id",
            [
                (
                    data.get("AccountID"),
                    {
                        "code": data["Code"],
                        "name": data.get("Name") or data["Code"],
                        "account_type": data.get("Type"),
                        "tax_type": data.get("TaxType"),
                        "active": True,
                    },
                )
                for data in accounts
            ],
            gone={"active": False},
        )
        return self.env._("%s revenue accounts.", len(seen))

    def _rebilling_pull_contacts(self):
        """Match the rebilling customers with Xero contacts; create the missing ones."""
        partners = self.env["res.partner"].search(
            [
                ("rebilling_enabled", "=", True),
                ("company_id", "in", [self.company_id.id, False]),
            ]
        )
        bound, errors, stats = self._xero_ensure_contacts(partners)
        return self.env._(
            "Contacts: %(matched)s matched, %(created)s created, %(failed)s failed, "
            "%(known)s already linked.",
            matched=stats["matched"],
            created=stats["created"],
            failed=len(errors),
            known=stats["known"],
        )

    # ------------------------------------------------------------ contacts
    def _xero_contact_payload(self, partner):
        email = partner._rebilling_email() if hasattr(partner, "_rebilling_email") else None
        payload = {"Name": partner.name}
        if email:
            payload["EmailAddress"] = email
        if partner.vat:
            payload["TaxNumber"] = partner.vat
        if partner.ref:
            payload["AccountNumber"] = partner.ref
        if partner.street or partner.city or partner.zip:
            payload["Addresses"] = [
                {
                    "AddressType": "POBOX",
                    "AddressLine1": partner.street or "",
                    "AddressLine2": partner.street2 or "",
                    "City": partner.city or "",
                    "Region": partner.state_id.code or "",
                    "PostalCode": partner.zip or "",
                    "Country": partner.country_id.name or "",
                }
            ]
        if partner.phone:
            payload["Phones"] = [{"PhoneType": "DEFAULT", "PhoneNumber": partner.phone}]
        return payload

    def _xero_fetch_contacts(self, partners):
        """Xero contacts that may match ``partners`` (search by name, or list them all)."""
        contacts = []
        if len(partners) <= SEARCH_THRESHOLD:
            for partner in partners:
                terms = [partner.name, partner.rebilling_invoice_email or partner.email]
                for term in filter(None, terms):
                    answer = self._xero_call(
                        "GET", "Contacts", params={"searchTerm": term, "summaryOnly": "true"}
                    )
                    found = (answer or {}).get("Contacts") or []
                    contacts += found
                    if found:
                        break
            return contacts
        page = 1
        while True:
            answer = self._xero_call(
                "GET",
                "Contacts",
                params={"page": page, "pageSize": 100, "summaryOnly": "true"},
            )
            found = (answer or {}).get("Contacts") or []
            contacts += found
            if len(found) < 100:
                return contacts
            page += 1

    def _xero_ensure_contacts(self, partners):
        """Bind ``partners`` to Xero contacts: saved binding, else name, else email, else create.

        Return ``(bound, errors, stats)``: ``{partner id: ContactID}``,
        ``{partner id: message}`` and counters.
        """
        self.ensure_one()
        Binding = self.env["rebilling.binding"]
        bound = Binding._rebilling_external_ids(self, partners)
        stats = {"known": len(bound), "matched": 0, "created": 0}
        errors = {}
        todo = partners.filtered(lambda p: p.id not in bound)
        if not todo:
            return bound, errors, stats
        contacts = [c for c in self._xero_fetch_contacts(todo) if c.get("ContactID")]
        taken = set(
            Binding._rebilling_find(self, "res.partner", {c["ContactID"] for c in contacts})
        )
        by_name, by_email = {}, {}
        for contact in contacts:
            if contact.get("ContactStatus", "ACTIVE") != "ACTIVE":
                continue
            by_name.setdefault(xero.normalize(contact.get("Name")), contact)
            if contact.get("EmailAddress"):
                by_email.setdefault(xero.normalize(contact["EmailAddress"]), contact)
        to_create = []
        for partner in todo:
            email = xero.normalize(partner.rebilling_invoice_email or partner.email)
            contact = by_name.get(xero.normalize(partner.name)) or (email and by_email.get(email))
            if contact and contact["ContactID"] not in taken:
                taken.add(contact["ContactID"])
                Binding._rebilling_bind(
                    self, partner, contact["ContactID"], sync_data={"matched": True}
                )
                self._rebilling_log(
                    "pull",
                    "contacts",
                    "done",
                    partner,
                    external_id=contact["ContactID"],
                    message=self.env._("Matched with the Xero contact %s.", contact.get("Name")),
                )
                bound[partner.id] = contact["ContactID"]
                stats["matched"] += 1
            else:
                to_create.append(partner)
        if to_create:
            self._xero_create_contacts(self.env["res.partner"].concat(*to_create), bound, errors)
            stats["created"] = sum(1 for p in to_create if p.id in bound)
        return bound, errors, stats

    def _xero_create_contacts(self, partners, bound, errors):
        """Create ``partners`` in Xero through the generic push (batches, log, bindings)."""
        self._rebilling_push(partners)
        bindings = self.env["rebilling.binding"]._rebilling_map(self, partners)
        for partner in partners:
            binding = bindings.get(partner.id)
            if binding and binding.external_id:
                bound[partner.id] = binding.external_id
            else:
                errors[partner.id] = (binding and binding.sync_error) or self.env._(
                    "The contact could not be created in Xero."
                )

    # ------------------------------------------------------------ invoices
    def _xero_idempotency_key(self, what, body):
        """Same request, same key: a retry after a timeout is answered from Xero's cache."""
        digest = payload_hash([self.id, self.xero_tenant_id.tenant_id, what, body])
        return f"rebilling-{digest}"

    def _xero_invoice_link(self, invoice_id):
        """The Xero deep link of an invoice (opens the organisation of the link)."""
        base = (self.xero_app_url or xero.APP_URL).rstrip("/")
        target = f"/AccountsReceivable/View.aspx?InvoiceID={invoice_id}"
        short_code = self.xero_tenant_id.short_code
        if short_code:
            query = urlencode({"shortcode": short_code, "redirecturl": target})
            return f"{base}/organisationlogin/default.aspx?{query}"
        return base + target

    def _xero_credit_note_link(self, credit_note_id):
        """The Xero deep link of a credit note."""
        base = (self.xero_app_url or xero.APP_URL).rstrip("/")
        target = f"/AccountsReceivable/ViewCreditNote.aspx?creditNoteID={credit_note_id}"
        short_code = self.xero_tenant_id.short_code
        if short_code:
            query = urlencode({"shortcode": short_code, "redirecturl": target})
            return f"{base}/organisationlogin/default.aspx?{query}"
        return base + target

    def _xero_tax_type(self, line):
        """The TaxType code of ``line``: the export's tax-rate name, mapped with Xero's rates."""
        name = self.env["rebilling.export.wizard"]._xero_tax_type(line)
        tax_types = self.xero_tenant_id.tax_types or {}
        return tax_types.get(name) or xero.DEFAULT_TAX_TYPES.get(name) or name

    def _xero_contacts_cache(self):
        return self.env.cr.cache.setdefault(("rebilling_xero_contacts", self.id), ({}, {}))

    def _rebilling_push_before(self, records):
        if self.backend_type != "xero" or records._name != "account.move":
            return super()._rebilling_push_before(records)
        bound, errors, _stats = self._xero_ensure_contacts(records.partner_id)
        cache_bound, cache_errors = self._xero_contacts_cache()
        cache_bound.update(bound)
        cache_errors.update(errors)
        return True

    def _rebilling_push_prepare(self, record):
        if self.backend_type == "xero" and record._name == "res.partner":
            return self._xero_contact_payload(record)
        if self.backend_type != "xero" or record._name != "account.move":
            return super()._rebilling_push_prepare(record)
        move = record
        if move.move_type not in ("out_invoice", "out_refund") or move.state != "posted":
            raise UserError(
                self.env._("Only posted customer invoices and credit notes are pushed to Xero.")
            )
        bound, errors = self._xero_contacts_cache()
        contact_id = bound.get(move.partner_id.id)
        if not contact_id:
            raise UserError(
                self.env._(
                    "No Xero contact for %(partner)s: %(error)s",
                    partner=move.partner_id.display_name,
                    error=errors.get(move.partner_id.id) or self.env._("not found"),
                )
            )
        lines, inclusive = self._xero_line_items(move)
        payload = {
            "Contact": {"ContactID": contact_id},
            "Date": fields.Date.to_string(move.invoice_date),
            "CurrencyCode": move.currency_id.name,
            "Status": self.xero_invoice_status or "AUTHORISED",
            "LineAmountTypes": "Inclusive" if inclusive else "Exclusive",
            "LineItems": lines,
        }
        if move.move_type == "out_refund":
            return {
                "Type": "ACCRECCREDIT",
                "CreditNoteNumber": move.name,
                "Reference": move.ref or move.reversed_entry_id.name or "",
                **payload,
            }
        return {
            "Type": "ACCREC",
            "InvoiceNumber": move.name,
            "DueDate": fields.Date.to_string(move.invoice_date_due or move.invoice_date),
            "Reference": move.ref or move.invoice_origin or "",
            **payload,
        }

    def _xero_line_items(self, move):
        """``(LineItems, tax inclusive?)`` of ``move`` (amounts positive, also for credit notes)."""
        Wizard = self.env["rebilling.export.wizard"]
        lines = []
        inclusive = False
        line_taxes = move._rebilling_line_taxes()
        for line in move.invoice_line_ids.filtered(lambda ln: ln.display_type == "product"):
            code = Wizard._xero_account_code(line)
            if not code:
                raise UserError(
                    self.env._(
                        "No Xero account code for the line %s: choose the default account code "
                        "of the company.",
                        line.name,
                    )
                )
            inclusive = inclusive or any(line.tax_ids.mapped("price_include"))
            item = {
                "Description": line.name or line.product_id.display_name or "-",
                "Quantity": line.quantity,
                "UnitAmount": round(line.price_unit, 4),
                "AccountCode": code,
                "TaxType": self._xero_tax_type(line),
                # The line's GST as on the invoice: Xero keeps a given TaxAmount.
                "TaxAmount": line_taxes.get(line.id, 0.0),
            }
            if line.discount:
                item["DiscountRate"] = line.discount
            lines.append(item)
        if not lines:
            raise UserError(self.env._("The invoice has no line to push."))
        return lines, inclusive

    def _rebilling_push_send(self, res_model, items):
        if self.backend_type != "xero" or res_model not in ("account.move", "res.partner"):
            return super()._rebilling_push_send(res_model, items)
        results = [None] * len(items)
        groups = {}
        for i, (record, _payload, _binding) in enumerate(items):
            if res_model == "res.partner":
                collection = "Contacts"
            elif record.move_type == "out_refund":
                collection = "CreditNotes"
            else:
                collection = "Invoices"
            groups.setdefault(collection, []).append(i)
        # Invoices first: a credit note is then allocated to an invoice of the same batch.
        for collection in ("Contacts", "Invoices", "CreditNotes"):
            if collection in groups:
                self._xero_send_collection(collection, items, groups[collection], results)
        return results

    def _xero_send_collection(self, collection, items, indexes, results):
        id_field = XERO_ID_FIELDS[collection]
        creates = [(i, items[i][1]) for i in indexes if not items[i][2].external_id]
        updates = [
            (i, dict(items[i][1], **{id_field: items[i][2].external_id}))
            for i in indexes
            if items[i][2].external_id
        ]
        totals = {
            i: items[i][0].amount_total for i in indexes if items[i][0]._name == "account.move"
        }
        if collection == "CreditNotes" and creates:
            creates = self._xero_find_credit_notes(creates, results, totals)
        for method, group in (("PUT", creates), ("POST", updates)):
            if group:
                self._xero_send(collection, method, group, results, totals)
        if collection == "CreditNotes":
            invoice_ids = {
                items[i][0].id: results[i]["external_id"]
                for i in range(len(items))
                if results[i]
                and results[i].get("external_id")
                and items[i][0]._name == "account.move"
            }
            for i in indexes:
                if results[i] and not results[i].get("error"):
                    results[i] = self._xero_allocate(items[i][0], results[i], invoice_ids)

    def _xero_send(self, collection, method, group, results, totals=None):
        """Send one batch of ``collection`` items; fill ``results`` (per-item errors read)."""
        body = {collection: [payload for _i, payload in group]}
        params = {"summarizeErrors": "false"}
        if collection in ("Invoices", "CreditNotes"):
            params["unitdp"] = "4"
        try:
            answer = self._xero_call(
                method,
                collection,
                params=params,
                json=body,
                headers={
                    "Idempotency-Key": self._xero_idempotency_key(f"{method} {collection}", body)
                },
            )
            answers = (answer or {}).get(collection) or []
            if len(answers) != len(group):
                raise PermanentError(self.env._("Xero answered with an unexpected list."))
        except ConnectorError as exc:
            message = xero.error_text(exc.body) if exc.status == 400 else ""
            for i, _payload in group:
                results[i] = {
                    "error": message or str(exc),
                    "retry": exc.retryable,
                    "retry_after": exc.retry_after,
                }
            return
        duplicates = {}
        for (i, payload), item in zip(group, answers, strict=True):
            if xero.item_failed(item):
                messages = xero.validation_messages(item)
                text = "; ".join(messages) or self.env._("Xero refused the record.")
                if (
                    collection == "Invoices"
                    and method == "PUT"
                    and any("must be unique" in m for m in messages)
                ):
                    duplicates[payload["InvoiceNumber"]] = (i, text, payload, (totals or {}).get(i))
                results[i] = {"error": text}
            elif collection == "Invoices":
                results[i] = self._xero_invoice_result(item)
            elif collection == "CreditNotes":
                results[i] = self._xero_credit_note_result(item)
            else:
                results[i] = {
                    "external_id": item["ContactID"],
                    "message": self.env._("Saved in Xero."),
                }
        if duplicates:
            self._xero_adopt_invoices(duplicates, results)

    def _xero_invoice_result(self, item, message=None):
        return {
            "external_id": item["InvoiceID"],
            "url": self._xero_invoice_link(item["InvoiceID"]),
            "data": {"number": item.get("InvoiceNumber"), "status": item.get("Status")},
            "message": message,
        }

    def _xero_credit_note_result(self, item, message=None):
        return {
            "external_id": item["CreditNoteID"],
            "url": self._xero_credit_note_link(item["CreditNoteID"]),
            "data": {
                "number": item.get("CreditNoteNumber"),
                "status": item.get("Status"),
                "credit_note": True,
            },
            "message": message or self.env._("Saved in Xero as a credit note."),
            "xero_item": item,
        }

    def _xero_find_credit_notes(self, creates, results, totals):
        """Credit notes already in Xero under our numbers (an earlier push whose answer
        was lost): linked when of the same contact and total, else a conflict. Xero
        documents no unique credit note number, so they are looked for before any
        creation. Returns the creates still to send."""
        numbers = [payload["CreditNoteNumber"] for _i, payload in creates]
        where = " OR ".join(
            'CreditNoteNumber=="{}"'.format(n.replace("\\", "\\\\").replace('"', '\\"'))
            for n in numbers
        )
        try:
            answer = self._xero_call("GET", "CreditNotes", params={"where": where, "page": 1})
        except ConnectorError as exc:
            for i, _payload in creates:
                results[i] = {
                    "error": str(exc),
                    "retry": exc.retryable,
                    "retry_after": exc.retry_after,
                }
            return []
        found = [
            note
            for note in (answer or {}).get("CreditNotes") or []
            if note.get("Type") == "ACCRECCREDIT"
            and note.get("Status") not in ("DELETED", "VOIDED")
        ]
        taken = self.env["rebilling.binding"]._rebilling_find(
            self, "account.move", {note.get("CreditNoteID") for note in found}
        )
        by_number = {}
        for note in found:
            if note.get("CreditNoteID") not in taken:
                by_number.setdefault(note.get("CreditNoteNumber"), []).append(note)
        remaining = []
        for i, payload in creates:
            namesakes = by_number.get(payload["CreditNoteNumber"]) or []
            if not namesakes:
                remaining.append((i, payload))
                continue
            total = totals.get(i)
            same = [
                note
                for note in namesakes
                if (note.get("Contact") or {}).get("ContactID") == payload["Contact"]["ContactID"]
                and (total is None or abs(float(note.get("Total") or 0.0) - total) < 0.005)
            ]
            if same:
                results[i] = self._xero_credit_note_result(
                    same[0], self.env._("Already in Xero: linked to the existing credit note.")
                )
                by_number[payload["CreditNoteNumber"]].remove(same[0])
                continue
            note = namesakes[0]
            results[i] = {
                "error": self.env._(
                    "Conflict: Xero already has a credit note %(number)s (%(contact)s, total "
                    "%(total)s) that is not this one (%(partner_total)s): it is not linked. "
                    "Renumber one of them, then push again.",
                    number=payload["CreditNoteNumber"],
                    contact=(note.get("Contact") or {}).get("Name"),
                    total=note.get("Total"),
                    partner_total=total,
                ),
                "retry": False,
            }
        return remaining

    def _xero_allocate(self, move, result, invoice_ids):
        """Allocate the credit note ``result`` to the invoice ``move`` credits, once.

        Where Xero allows it (both approved, something due on the invoice); else the
        credit stays on the contact in Xero and the log says why. An allocation
        already on the credit note (a lost answer) is not made again.
        """
        item = result.pop("xero_item", None) or {}
        invoice = move.reversed_entry_id
        if not invoice:
            return result
        invoice_id = invoice_ids.get(invoice.id)
        if not invoice_id:
            binding = self.env["rebilling.binding"]._rebilling_map(self, invoice).get(invoice.id)
            invoice_id = binding.external_id if binding else False
        if not invoice_id:
            result["message"] = self.env._(
                "Saved in Xero as a credit note, not allocated: %s is not in Xero.", invoice.name
            )
            return result
        for allocation in item.get("Allocations") or []:
            if (allocation.get("Invoice") or {}).get("InvoiceID") == invoice_id:
                result["data"]["allocated"] = allocation.get("Amount")
                result["message"] = self.env._(
                    "Saved in Xero as a credit note, allocated to %s.", invoice.name
                )
                return result
        remaining = float(item.get("RemainingCredit", item.get("Total")) or 0.0)
        if item.get("Status") != "AUTHORISED" or remaining <= 0:
            result["message"] = self.env._(
                "Saved in Xero as a credit note (%s), not allocated.", item.get("Status")
            )
            return result
        try:
            answer = self._xero_call("GET", f"Invoices/{invoice_id}")
            target = ((answer or {}).get("Invoices") or [{}])[0]
            due = float(target.get("AmountDue") or 0.0)
            if target.get("Status") != "AUTHORISED" or due <= 0:
                result["message"] = self.env._(
                    "Saved in Xero as a credit note, not allocated: nothing is due on %s in "
                    "Xero; the credit stays on the contact.",
                    invoice.name,
                )
                return result
            amount = round(min(remaining, due), 2)
            day = max(move.invoice_date, invoice.invoice_date or move.invoice_date)
            body = {
                "Allocations": [
                    {
                        "Invoice": {"InvoiceID": invoice_id},
                        "Amount": amount,
                        "Date": fields.Date.to_string(day),
                    }
                ]
            }
            path = f"CreditNotes/{result['external_id']}/Allocations"
            self._xero_call(
                "PUT",
                path,
                json=body,
                headers={"Idempotency-Key": self._xero_idempotency_key(f"PUT {path}", body)},
            )
        except ConnectorError as exc:
            if exc.retryable:
                # Not linked: the next push finds the credit note by number and allocates.
                return {"error": str(exc), "retry": True, "retry_after": exc.retry_after}
            result["message"] = self.env._(
                "Saved in Xero as a credit note, not allocated to %(invoice)s: %(error)s",
                invoice=invoice.name,
                error=(xero.error_text(exc.body) if exc.status == 400 else "") or str(exc),
            )
            return result
        result["data"]["allocated"] = amount
        result["message"] = self.env._(
            "Saved in Xero as a credit note, %(amount)s allocated to %(invoice)s.",
            amount=amount,
            invoice=invoice.name,
        )
        return result

    def _xero_adopt_invoices(self, duplicates, results):
        """Invoices already in Xero under our number (an earlier push whose answer was lost).

        One is linked only when it is this customer's (same ContactID) for the same
        total; otherwise (``INV-`` is also Xero's own prefix) the push fails with a
        conflict naming both, and nothing is linked.
        """
        try:
            answer = self._xero_call(
                "GET", "Invoices", params={"InvoiceNumbers": ",".join(duplicates)}
            )
        except ConnectorError:
            return
        taken = self.env["rebilling.binding"]._rebilling_find(
            self, "account.move", {inv.get("InvoiceID") for inv in answer.get("Invoices") or []}
        )
        for item in (answer or {}).get("Invoices") or []:
            number = item.get("InvoiceNumber")
            if (
                number not in duplicates
                or item.get("Type") != "ACCREC"
                or item.get("Status") in ("DELETED", "VOIDED")
                or item.get("InvoiceID") in taken
            ):
                continue
            i, _text, payload, total = duplicates.pop(number)
            contact = (item.get("Contact") or {}).get("ContactID")
            if contact == payload["Contact"]["ContactID"] and (
                total is None or abs(float(item.get("Total") or 0.0) - total) < 0.005
            ):
                results[i] = self._xero_invoice_result(
                    item, self.env._("Already in Xero: linked to the existing invoice.")
                )
                continue
            results[i] = {
                "error": self.env._(
                    "Conflict: Xero already has an invoice %(number)s (%(contact)s, total "
                    "%(total)s) that is not this one (%(partner_total)s): it is not linked. "
                    "Renumber one of them, then push again.",
                    number=number,
                    contact=(item.get("Contact") or {}).get("Name") or contact,
                    total=item.get("Total"),
                    partner_total=total,
                ),
                "retry": False,
            }

    def _xero_online_invoice_url(self, invoice_id):
        answer = self._xero_call("GET", f"Invoices/{invoice_id}/OnlineInvoice")
        online = (answer or {}).get("OnlineInvoices") or []
        return online[0].get("OnlineInvoiceUrl") if online else None
