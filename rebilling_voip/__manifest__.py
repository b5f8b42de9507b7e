# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0)
{
    "name": "Rebilling VoIP",
    "summary": "Voice usage: CDR ingest, destination groups, rating and usage on invoices",
    "version": "19.0.0.1.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "Odoo Rebilling",
    "website": "https://github.com/odoo-rebilling/rebilling",
    "depends": ["rebilling_base", "report_xlsx"],
    "external_dependencies": {"python": ["phonenumbers", "xlsxwriter"]},
}
