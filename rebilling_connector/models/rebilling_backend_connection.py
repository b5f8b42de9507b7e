"""Connecting a backend: the connection test, its state, disconnecting."""

import logging

from odoo import fields, models
from odoo.exceptions import UserError

from ..connector.http import ConnectorError

_logger = logging.getLogger(__name__)


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

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
