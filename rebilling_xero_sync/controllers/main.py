import logging

from odoo import http
from odoo.exceptions import AccessDenied, UserError
from odoo.http import request

_logger = logging.getLogger(__name__)


class RebillingXeroController(http.Controller):
    @http.route(
        "/rebilling/xero/callback",
        type="http",
        auth="user",
        methods=["GET"],
        website=False,
        sitemap=False,
    )
    def xero_callback(self, state=None, code=None, error=None, **kwargs):
        """Where Xero sends the user back after the authorization (OAuth2 redirect URI)."""
        try:
            backend = request.env["rebilling.backend"]._xero_oauth_callback(
                state, code=code, error=error
            )
        except (AccessDenied, UserError) as exc:
            return request.render(
                "rebilling_xero_sync.xero_callback_error",
                {"message": exc.args[0] if exc.args else str(exc)},
                status=400,
            )
        return request.redirect(f"/odoo/rebilling.backend/{backend.id}")
