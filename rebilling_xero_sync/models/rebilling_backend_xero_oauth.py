"""Connecting to Xero: the OAuth2 authorization-code flow (PKCE, checked
``state``), the organisation (tenant) to push to, and the disconnection
(connection deleted, refresh token revoked, bindings kept).
"""

import logging
import secrets
from datetime import timedelta
from urllib.parse import urlencode

from odoo import api, fields, models
from odoo.addons.rebilling_connector.connector.http import ConnectorError
from odoo.exceptions import AccessDenied, UserError

from ..tools import xero

_logger = logging.getLogger(__name__)

STATE_TTL = timedelta(minutes=15)


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

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
