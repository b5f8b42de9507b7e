# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0)
{
    "name": "Rebilling Xero Sync",
    "summary": "Push rebilling invoices and contacts to Xero",
    "version": "19.0.1.0.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "Odoo Rebilling",
    "website": "https://github.com/odoo-rebilling/rebilling",
    # rebilling_base too: upgrading it (-u rebilling_base) upgrades this addon, which
    # installs rebilling_connector in databases from before the connector's own addon.
    "depends": ["rebilling_base", "rebilling_connector"],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/ir.model.access.csv",
        "security/rebilling_xero_security.xml",
        "views/rebilling_xero_templates.xml",
        "views/rebilling_backend_views.xml",
        "views/rebilling_xero_tenant_views.xml",
        "views/rebilling_xero_account_views.xml",
        "views/res_company_views.xml",
        "views/product_template_views.xml",
        "views/rebilling_charge_views.xml",
        "views/res_partner_views.xml",
        "views/account_move_views.xml",
    ],
}
