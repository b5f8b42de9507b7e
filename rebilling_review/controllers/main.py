from werkzeug.exceptions import BadRequest, Forbidden

from odoo import http
from odoo.http import content_disposition, request

from ..models.account_move_review import APPROVER_GROUP


class RebillingReviewController(http.Controller):
    @http.route(
        "/rebilling/review/invoices.zip",
        type="http",
        auth="user",
        methods=["GET"],
        sitemap=False,
    )
    def download_invoices_zip(self, ids="", **kwargs):
        """The documents of the invoices ``ids`` (comma separated), one zip; approvers only."""
        if not request.env.user.has_group(APPROVER_GROUP):
            raise Forbidden()
        try:
            move_ids = [int(part) for part in ids.split(",") if part.strip()]
        except ValueError as exc:
            raise BadRequest() from exc
        moves = request.env["account.move"].browse(move_ids).exists()
        if not moves:
            raise BadRequest()
        moves.check_access("read")
        content = moves._rebilling_review_zip()
        filename = "invoices.zip" if len(moves) > 1 else f"{moves.name.replace('/', '_')}.zip"
        return request.make_response(
            content,
            headers=[
                ("Content-Type", "application/zip"),
                ("Content-Length", len(content)),
                ("Content-Disposition", content_disposition(filename)),
            ],
        )
