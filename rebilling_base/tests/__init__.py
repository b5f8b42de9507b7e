from . import (
    test_abn_lookup,
    test_billing_run,
    test_configuration,
    test_connector_http,
    test_connector_models,
    test_credits,
    test_customers,
    test_invoice_document,
    test_portal,
    test_security,
    test_sending,
    test_summary,
)
from . import test_money_over_time
