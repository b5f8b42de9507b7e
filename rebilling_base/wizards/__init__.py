from . import (
    account_move_reversal,
    rebilling_export_wizard,
    rebilling_month_end,
    rebilling_month_end_line,
    rebilling_run_wizard,
)
