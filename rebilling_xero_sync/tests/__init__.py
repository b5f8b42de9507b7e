from . import (
    test_fake_xero,
    test_xero_accounts,
    test_xero_contacts,
    test_xero_oauth,
    test_xero_push,
    test_xero_reconcile,
    test_xero_security,
    test_xero_tokens,
)
