"""The connection to a PSA: client headers and auth, check and test, lookups.

Reads the PSA's spec (``rebilling_backend_psa.py``): its ping path, refused
message, and the methods it names for discovery, headers, auth, error text and
classification and the connection test message.
"""

import logging

from odoo import api, models
from odoo.exceptions import UserError

from ..connector.http import ConnectorError, HttpClient

_logger = logging.getLogger(__name__)


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    @api.model
    def _rebilling_type_defaults(self, backend_type):
        if backend_type not in self._psa_types():
            return super()._rebilling_type_defaults(backend_type)
        psa = self._psa_of_type(backend_type)
        return dict(psa._psa_type_defaults(), name=psa._psa_label())

    def _rebilling_client_kwargs(self):
        kwargs = super()._rebilling_client_kwargs()
        if not self._psa_is():
            return kwargs
        auth = self._psa_auth()
        if auth:
            kwargs["auth"] = auth
        kwargs["headers"] = dict(kwargs.get("headers") or {}, **self._psa_headers())
        kwargs["headers"]["Content-Type"] = "application/json"
        return kwargs

    def _rebilling_check_connection(self):
        if not self._psa_is():
            return super()._rebilling_check_connection()
        self._psa_discover()
        try:
            self._rebilling_client().get(self._psa_ping_path(), retries=1)
        except ConnectorError as exc:
            raise UserError(self._psa_refused_message(self._psa_error_text(exc))) from None
        return True

    def _rebilling_classify_error(self, response, body):
        """A PSA whose spec names a ``classify_error`` method reads its own failed
        answers first; ``None`` from it keeps the default rule."""
        method = self._psa_method("classify_error") if self._psa_is() else None
        found = method(response, body) if method else None
        return super()._rebilling_classify_error(response, body) if found is None else found

    def action_test_connection(self):
        """A PSA whose spec names a ``tested_message`` method says it when the
        connection works (e.g. the Autotask zone)."""
        method = self._psa_method("tested_message") if self._psa_is() else None
        if method is None:
            return super().action_test_connection()
        self._rebilling_check_manage()
        self._rebilling_check_connection()
        return self._rebilling_notify(method(), "success")

    def _psa_check_settings(self, values):
        """Raise when a ``(label, value)`` of ``values`` has no value."""
        missing = [label for label, value in values if not value]
        if missing:
            raise UserError(
                self.env._(
                    "Enter the %(system)s %(missing)s first.",
                    system=self._psa_label(),
                    missing=", ".join(missing),
                )
            )

    def _psa_public_get(self, base_url, path, error, params=None):
        """GET without authentication (zone or codebase lookup); ``error(text)`` on failure."""
        client = HttpClient(
            base_url,
            headers={"Accept": "application/json"},
            timeout=(self.connect_timeout or 5.0, self.read_timeout or 30.0),
            max_retries=1,
            backoff=self.retry_backoff,
            logger=_logger,
        )
        try:
            return client.get(path, params=params)
        except ConnectorError as exc:
            raise UserError(error(self._psa_error_text(exc))) from None
        finally:
            client.close()

    def _psa_connect(self, connected_message, success_message):
        """Check the connection; report it plainly (the button "Save and connect")."""
        self.ensure_one()
        self._rebilling_check_manage()
        try:
            self._rebilling_check_connection()
        except UserError as exc:
            message = exc.args[0]
            self._rebilling_set_error(message)
            return self._rebilling_notify(message, "danger")
        self._rebilling_set_connected(connected_message())
        return self._rebilling_notify(success_message(), "success")

    def _psa_post(self, path, values, entity):
        """Create one ``entity`` record in the PSA (service form); return the answer."""
        self.ensure_one()
        self._psa_check_connected()
        try:
            return self._rebilling_client().post(path, json=values) or {}
        except ConnectorError as exc:
            raise UserError(
                self.env._(
                    "%(system)s refused to create the %(entity)s: %(error)s",
                    system=self._psa_label(),
                    entity=entity,
                    error=self._psa_error_text(exc),
                )
            ) from None

    def _psa_check_connected(self):
        if self.state != "connected":
            raise UserError(self.env._("Connect to %s first.", self._psa_label()))
