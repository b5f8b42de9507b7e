from . import (
    test_customer_class,
    test_review_flags,
    test_review_flow,
    test_review_http,
    test_review_security,
)
from . import test_reissue_money
