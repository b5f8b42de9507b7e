from . import (
    account_move,
    rebilling_backend,
    rebilling_backend_reconcile,
    rebilling_charge,
    rebilling_external_record,
    rebilling_service,
    res_partner,
)
