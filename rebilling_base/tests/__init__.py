from . import (
    test_billing_run,
    test_configuration,
    test_connector_http,
    test_connector_models,
    test_customers,
    test_invoice_document,
    test_portal,
    test_sending,
)
