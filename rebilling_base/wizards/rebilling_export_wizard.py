import csv
import io
import zipfile

import xlsxwriter

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..models.rebilling_billing_run import month_bounds

XERO_COLUMNS = [
    "*ContactName",
    "EmailAddress",
    "POAddressLine1",
    "POAddressLine2",
    "POAddressLine3",
    "POAddressLine4",
    "POCity",
    "PORegion",
    "POPostalCode",
    "POCountry",
    "*InvoiceNumber",
    "Reference",
    "*InvoiceDate",
    "*DueDate",
    "InventoryItemCode",
    "*Description",
    "*Quantity",
    "*UnitAmount",
    "Discount",
    "*AccountCode",
    "*TaxType",
    "TrackingName1",
    "TrackingOption1",
    "TrackingName2",
    "TrackingOption2",
    "Currency",
    "BrandingTheme",
]
XERO_MAX_INVOICES = 500


class RebillingExportWizard(models.TransientModel):
    """Download a month of rebilling invoices: Xero sales-invoice CSV or XLSX summary."""

    _name = "rebilling.export.wizard"
    _description = "Rebilling Invoice Export"

    month = fields.Date(
        default=lambda self: fields.Date.context_today(self).replace(day=1),
        help="Any day of the month to export.",
    )
    export_type = fields.Selection(
        [("xero_csv", "Xero CSV"), ("xlsx", "Summary (XLSX)")],
        default="xero_csv",
        required=True,
    )
    move_ids = fields.Many2many("account.move", string="Invoices")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company)

    def _get_moves(self):
        self.ensure_one()
        if self.move_ids:
            return self.move_ids.filtered(lambda m: m.rebilling_period and m.state == "posted")
        if not self.month:
            raise UserError(self.env._("Choose the month to export."))
        first, last = month_bounds(self.month)
        return self.env["account.move"].search(
            [
                ("company_id", "=", self.company_id.id),
                ("rebilling_period", ">=", first),
                ("rebilling_period", "<=", last),
                ("state", "=", "posted"),
            ],
            order="name",
        )

    def action_export(self):
        self.ensure_one()
        moves = self._get_moves()
        if not moves:
            raise UserError(self.env._("There are no posted rebilling invoices to export."))
        stamp = (self.month or moves[0].rebilling_period).strftime("%Y-%m")
        if self.export_type == "xlsx":
            content = self._summary_xlsx(moves)
            name = f"rebilling-summary-{stamp}.xlsx"
        else:
            per_file = self.env.context.get("rebilling_xero_per_file", XERO_MAX_INVOICES)
            files = self._xero_csv_files(moves, per_file=per_file)
            if len(files) == 1:
                content, name = files[0], f"xero-invoices-{stamp}.csv"
            else:
                buf = io.BytesIO()
                with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
                    for i, data in enumerate(files, start=1):
                        zf.writestr(f"xero-invoices-{stamp}-{i:02d}.csv", data)
                content, name = buf.getvalue(), f"xero-invoices-{stamp}.zip"
        attachment = self.env["ir.attachment"].create(
            {
                "name": name,
                "raw": content,
                "res_model": self._name,
                "res_id": self.id,
            }
        )
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{attachment.id}?download=true",
            "target": "download",
        }

    # ------------------------------------------------------------ Xero CSV
    @api.model
    def _xero_tax_type(self, line):
        """Xero's tax-rate display name for ``line`` (override point)."""
        taxes = line.tax_ids
        if not taxes:
            return "BAS Excluded"
        if all(tax.amount == 0 for tax in taxes):
            return "GST Free Income"
        return "GST on Income"

    @api.model
    def _xero_account_code(self, line):
        return (
            line.product_id.product_tmpl_id.rebilling_xero_account_code
            or line.move_id.company_id.rebilling_xero_account_code
            or ""
        )

    def _xero_rows(self, move):
        partner = move.partner_id
        head = [
            partner.name,
            partner.rebilling_invoice_email or partner.email or "",
            partner.street or "",
            partner.street2 or "",
            "",
            "",
            partner.city or "",
            partner.state_id.code or "",
            partner.zip or "",
            partner.country_id.name or "",
            move.name,
            move.ref or "",
            move.invoice_date.strftime("%d/%m/%Y"),
            (move.invoice_date_due or move.invoice_date).strftime("%d/%m/%Y"),
        ]
        for line in move.invoice_line_ids.filtered(lambda ln: ln.display_type == "product"):
            yield head + [
                line.product_id.default_code or "",
                line.name or "",
                f"{line.quantity:g}",
                f"{line.price_unit:.4f}",
                f"{line.discount:g}" if line.discount else "",
                self._xero_account_code(line),
                self._xero_tax_type(line),
                "",
                "",
                "",
                "",
                move.currency_id.name,
                "",
            ]

    def _xero_csv_files(self, moves, per_file=XERO_MAX_INVOICES):
        """One CSV per ``per_file`` invoices (Xero imports at most 500 per file)."""
        files = []
        for start in range(0, len(moves), per_file):
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="\r\n")
            writer.writerow(XERO_COLUMNS)
            for move in moves[start : start + per_file]:
                writer.writerows(self._xero_rows(move))
            files.append(buf.getvalue().encode("utf-8"))
        return files

    # ------------------------------------------------------------ XLSX summary
    def _summary_xlsx(self, moves):
        buf = io.BytesIO()
        book = xlsxwriter.Workbook(buf, {"in_memory": True})
        sheet = book.add_worksheet("Invoices")
        bold = book.add_format({"bold": True})
        money = book.add_format({"num_format": "#,##0.00"})
        headers = [
            "Invoice",
            "Customer",
            "Invoice date",
            "Due date",
            "Services",
            "Untaxed",
            "Total",
            "Sending",
            "Error",
        ]
        sheet.write_row(0, 0, headers, bold)
        states = dict(self.env["account.move"]._fields["rebilling_send_state"].selection)
        for row, move in enumerate(moves, start=1):
            sheet.write(row, 0, move.name)
            sheet.write(row, 1, move.partner_id.name)
            sheet.write(row, 2, fields.Date.to_string(move.invoice_date))
            sheet.write(row, 3, fields.Date.to_string(move.invoice_date_due))
            sheet.write(row, 4, move.rebilling_service_summary or "")
            sheet.write_number(row, 5, move.amount_untaxed, money)
            sheet.write_number(row, 6, move.amount_total, money)
            sheet.write(row, 7, states.get(move.rebilling_send_state, ""))
            sheet.write(row, 8, move.rebilling_send_error or "")
        total_row = len(moves) + 1
        sheet.write(total_row, 4, "Total", bold)
        sheet.write_number(total_row, 5, sum(moves.mapped("amount_untaxed")), money)
        sheet.write_number(total_row, 6, sum(moves.mapped("amount_total")), money)
        sheet.set_column(0, 1, 24)
        sheet.set_column(4, 4, 50)
        book.close()
        return buf.getvalue()
