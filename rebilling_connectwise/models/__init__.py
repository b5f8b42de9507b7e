from . import (
    account_move,
    rebilling_backend,
    rebilling_billing_run,
    rebilling_connectwise_record,
    rebilling_service,
    res_partner,
)
