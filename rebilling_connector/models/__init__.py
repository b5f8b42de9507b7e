# The backend first, then its concerns (each file extends the ones before it).
from . import rebilling_backend as rebilling_backend

# isort: split
from . import rebilling_backend_client as rebilling_backend_client
from . import rebilling_backend_connection as rebilling_backend_connection
from . import rebilling_backend_pull as rebilling_backend_pull
from . import rebilling_backend_push as rebilling_backend_push

# isort: split
from . import (
    account_move_psa,
    rebilling_backend_mixin,
    rebilling_backend_psa,
    rebilling_backend_psa_connection,
    rebilling_backend_psa_pull,
    rebilling_backend_psa_push,
    rebilling_backend_reconcile,
    rebilling_billing_run_psa,
    rebilling_billing_run_reconcile,
    rebilling_binding,
    rebilling_external_record,
    rebilling_psa_wizard_mixin,
    rebilling_rate_window,
    rebilling_reconcile_line,
    rebilling_service_psa,
    rebilling_sync_log,
)
