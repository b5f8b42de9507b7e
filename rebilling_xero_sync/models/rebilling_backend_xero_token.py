"""Xero tokens: the access token lives 30 minutes and is refreshed 2 minutes
before it expires; refresh tokens are single-use and rotate, so a refresh locks
the token row and stores the new pair in its own transaction, committed right
after Xero answers. A refused refresh puts the backend in error ("authenticate
again"), also when it happened inside a savepoint that was rolled back.
"""

import logging
from datetime import timedelta

import psycopg2

from odoo import fields, models
from odoo.addons.rebilling_connector.connector.http import (
    ConnectorError,
    HttpClient,
    PermanentError,
    RetryableError,
)
from odoo.exceptions import UserError
from odoo.modules import module as odoo_module

from ..tools import xero

_logger = logging.getLogger(__name__)

TOKEN_MARGIN = 120  # seconds before expiry when the access token is refreshed
# Refresh failures met inside the caller's transaction (kept outside the cursor
# cache, which a rolled-back savepoint clears).
_REAUTH = {}


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

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
