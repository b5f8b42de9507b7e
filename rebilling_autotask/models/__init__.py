from . import (
    account_move,
    rebilling_autotask_record,
    rebilling_backend,
    rebilling_billing_run,
    rebilling_service,
    res_partner,
)
