import re

from odoo import models


class ReportCallListXlsx(models.AbstractModel):
    """Itemized call list of invoices: one sheet per invoice, one row per call."""

    _name = "report.rebilling_voip.report_call_list"
    _inherit = "report.report_xlsx.abstract"
    _description = "Itemized Call List (XLSX)"

    def get_workbook_options(self):
        # Rows are written in order: keep memory flat for invoices with many calls.
        return {"constant_memory": True}

    def _sheet_name(self, move, used):
        base = re.sub(r"[\[\]:*?/\\]", "-", move.name or str(move.id))[:28] or "Calls"
        name, n = base, 1
        while name.lower() in used:
            n += 1
            name = f"{base[:25]}~{n}"
        used.add(name.lower())
        return name

    def generate_xlsx_report(self, workbook, data, objs):
        bold = workbook.add_format({"bold": True})
        when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        money = workbook.add_format({"num_format": "#,##0.0000"})
        used = set()
        headers = [
            self.env._("Start (local time)"),
            self.env._("Caller"),
            self.env._("Called number"),
            self.env._("Destination"),
            self.env._("Duration (s)"),
            self.env._("Billed (s)"),
        ]
        for move in objs:
            sheet = workbook.add_worksheet(self._sheet_name(move, used))
            sheet.set_column(0, 0, 20)
            sheet.set_column(1, 3, 18)
            sheet.set_column(4, 5, 12)
            sheet.set_column(6, 6, 18)
            sheet.write_row(0, 0, [*headers, move._rebilling_call_price_label()], bold)
            tz = move.company_id._rebilling_tz().zone
            self.env.cr.execute(
                """
                SELECT (c.start_time AT TIME ZONE 'UTC') AT TIME ZONE %s,
                       COALESCE(c.caller_e164, c.trunk), c.called_e164,
                       COALESCE(g.name->>%s, g.name->>'en_US'), c.duration,
                       c.billed_seconds, c.price
                  FROM rebilling_cdr c
                  LEFT JOIN rebilling_destination_group g ON g.id = c.destination_group_id
                 WHERE c.invoice_id = %s
                 ORDER BY c.start_time, c.id
                """,
                [tz, self.env.lang or "en_US", move.id],
            )
            row = 1
            total = 0.0
            for start, caller, called, group, duration, billed, price in self.env.cr.fetchall():
                sheet.write_datetime(row, 0, start, when)
                sheet.write_string(row, 1, caller or "")
                sheet.write_string(row, 2, called or "")
                sheet.write_string(row, 3, group or "")
                sheet.write_number(row, 4, duration or 0)
                sheet.write_number(row, 5, billed or 0)
                sheet.write_number(row, 6, float(price or 0.0), money)
                total += float(price or 0.0)
                row += 1
            sheet.write_string(row, 5, self.env._("Total"), bold)
            sheet.write_number(row, 6, total, money)
