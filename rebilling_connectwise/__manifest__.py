# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0)
{
    "name": "Rebilling ConnectWise",
    "summary": "Push invoice lines to ConnectWise agreements as additions",
    "version": "19.0.0.1.0",
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
        "security/rebilling_connectwise_security.xml",
        "views/rebilling_connectwise_record_views.xml",
        "views/rebilling_backend_views.xml",
        "views/rebilling_service_views.xml",
        "views/rebilling_charge_views.xml",
        "views/res_partner_views.xml",
        "views/account_move_views.xml",
        "views/rebilling_connectwise_wizard_views.xml",
    ],
}
