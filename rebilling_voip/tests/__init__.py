from . import (
    test_cdr_layouts,
    test_destination,
    test_import,
    test_invoice,
    test_normalize,
    test_portal,
    test_rating,
    test_reseller_wizard,
    test_security,
)
