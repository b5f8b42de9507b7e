# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0)
{
    "name": "Rebilling Autotask",
    "summary": "Push VoIP utility invoice items to Autotask contracts",
    "version": "19.0.0.1.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "Odoo Rebilling",
    "website": "https://github.com/odoo-rebilling/rebilling",
    "depends": ["rebilling_base"],
    "external_dependencies": {"python": ["requests"]},
}
