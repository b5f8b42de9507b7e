from . import (
    account_move,
    account_move_send,
    rebilling_billing_run,
    rebilling_customer_class,
    rebilling_review_flag,
    res_company,
)
