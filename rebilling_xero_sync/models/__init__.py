from . import (
    account_move,
    product_template,
    rebilling_backend,
    rebilling_backend_reconcile,
    rebilling_billing_run,
    rebilling_charge,
    rebilling_xero_account,
    rebilling_xero_tenant,
    rebilling_xero_token,
    res_company,
    res_partner,
)
