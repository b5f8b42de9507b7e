from . import (
    account_move_adjust,
    account_move_reissue,
    account_move_review,
    account_move_review_flags,
    account_move_send,
    rebilling_billing_run,
    rebilling_customer_class,
    rebilling_review_flag,
    res_company,
)
