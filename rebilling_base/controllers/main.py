from odoo import http
from odoo.http import request


class RebillingSenderController(http.Controller):
    @http.route(
        "/rebilling/sender/confirm/<string:token>",
        type="http",
        auth="public",
        methods=["GET"],
    )
    def confirm_sender(self, token, **kwargs):
        """One-time link of the sender confirmation email."""
        company = request.env["res.company"].sudo()._rebilling_confirm_sender(token)
        html = request.env["ir.qweb"]._render(
            "rebilling_base.sender_confirmation_page",
            {"company": company, "confirmed": bool(company)},
        )
        return request.make_response(html, [("Content-Type", "text/html; charset=utf-8")])
