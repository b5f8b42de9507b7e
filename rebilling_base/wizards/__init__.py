from . import account_move_reversal, rebilling_export_wizard, rebilling_run_wizard
