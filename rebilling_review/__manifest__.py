# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0)
{
    "name": "Rebilling Review",
    "summary": "Review and approval of rebilling invoices before they are sent",
    "version": "19.0.0.1.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "Odoo Rebilling",
    "website": "https://github.com/odoo-rebilling/rebilling",
    "depends": ["rebilling_base"],
    "data": [
        "security/rebilling_review_security.xml",
        "security/ir.model.access.csv",
        "data/rebilling_review_flag_data.xml",
        "data/ir_cron.xml",
        "views/rebilling_customer_class_views.xml",
        "views/rebilling_review_flag_views.xml",
        "views/res_company_views.xml",
        "wizards/rebilling_review_adjust_wizard_views.xml",
        "wizards/rebilling_review_reissue_wizard_views.xml",
        "views/account_move_views.xml",
        "views/rebilling_billing_run_views.xml",
        "views/rebilling_review_menus.xml",
    ],
    "demo": ["demo/rebilling_review_demo.xml"],
    "assets": {
        "web.assets_tests": ["rebilling_review/static/src/tours/*.js"],
    },
}
