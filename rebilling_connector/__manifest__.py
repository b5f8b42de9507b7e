# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0)
{
    "name": "Rebilling Connector",
    "summary": "Connector core of the rebilling integrations: backends, HTTP client, "
    "bindings, sync log, PSA push and month reconciliation",
    "version": "19.0.1.0.0",
    "category": "Accounting/Accounting",
    "license": "LGPL-3",
    "author": "Odoo Rebilling",
    "website": "https://github.com/odoo-rebilling/rebilling",
    "depends": ["rebilling_base"],
    "external_dependencies": {"python": ["requests"]},
    "data": [
        "security/ir.model.access.csv",
        "security/rebilling_connector_security.xml",
        "security/rebilling_external_record_security.xml",
        "data/queue_job_sync.xml",
        "views/rebilling_backend_views.xml",
        "views/rebilling_sync_log_views.xml",
        "views/rebilling_reconcile_line_views.xml",
        "views/rebilling_external_record_views.xml",
    ],
    "pre_init_hook": "pre_init_hook",
}
