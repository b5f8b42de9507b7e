from . import (
    test_customer_class,
    test_reissue_money,
    test_review_flags,
    test_review_flow,
    test_review_http,
    test_review_security,
)
