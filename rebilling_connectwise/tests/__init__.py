from . import (
    test_connectwise,
    test_connectwise_reconcile,
    test_connectwise_security,
    test_fake_connectwise,
)
