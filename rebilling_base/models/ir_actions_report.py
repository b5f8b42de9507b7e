"""The PDF of rebilling documents without wkhtmltopdf's wait for JavaScript."""

from odoo import api, models

# ir.config_parameter: milliseconds wkhtmltopdf waits after loading a rebilling
# document (Odoo's own ``report.print_delay``, 1000 by default, for all reports).
PRINT_DELAY_PARAM = "rebilling.report_print_delay"
DEFAULT_PRINT_DELAY = "0"


class IrActionsReport(models.Model):
    _inherit = "ir.actions.report"

    def _render_qweb_pdf_prepare_streams(self, report_ref, data, res_ids=None):
        delay = self._rebilling_print_delay(report_ref, res_ids)
        report = self if delay is None else self.with_context(rebilling_print_delay=delay)
        return super(IrActionsReport, report)._render_qweb_pdf_prepare_streams(
            report_ref, data, res_ids=res_ids
        )

    @api.model
    def _build_wkhtmltopdf_args(
        self, paperformat_id, landscape, specific_paperformat_args=None, set_viewport_size=False
    ):
        args = super()._build_wkhtmltopdf_args(
            paperformat_id,
            landscape,
            specific_paperformat_args=specific_paperformat_args,
            set_viewport_size=set_viewport_size,
        )
        delay = self.env.context.get("rebilling_print_delay")
        if delay is not None and "--javascript-delay" in args:
            args[args.index("--javascript-delay") + 1] = str(delay)
        return args

    @api.model
    def _rebilling_print_delay(self, report_ref, res_ids):
        """Milliseconds wkhtmltopdf waits for JavaScript before printing ``res_ids``
        with ``report_ref``, or None for Odoo's ``report.print_delay``.

        Odoo waits one second per PDF (``report.print_delay``) for scripts that draw
        a page after it has loaded. Rebilling documents have none: wkhtmltopdf
        already waits for the page, its styles, fonts and images to load, and the
        page numbers are set when the page loads. Their wait is
        ``rebilling.report_print_delay`` (0 ms by default); other documents keep
        Odoo's. At 10,000 invoices a month, the second is 2.8 hours of sending.

        Extend for a report of another addon whose documents have nothing to wait for.
        """
        if not res_ids:
            return None
        report = self._get_report(report_ref)
        if report.report_type != "qweb-pdf" or report.model != "account.move":
            return None
        moves = self.env["account.move"].sudo().browse(res_ids).exists()
        if not moves or not all(move._rebilling_white_label() for move in moves):
            return None
        value = self.env["ir.config_parameter"].sudo().get_param(PRINT_DELAY_PARAM)
        try:
            return max(0, int(value or DEFAULT_PRINT_DELAY))
        except ValueError:
            return None
