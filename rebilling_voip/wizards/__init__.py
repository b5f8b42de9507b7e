from . import (
    base_partner_merge_automatic_wizard,
    rebilling_cdr_import_wizard,
    rebilling_cdr_rate_wizard,
    rebilling_month_end,
    rebilling_reseller_invoice_wizard,
)
