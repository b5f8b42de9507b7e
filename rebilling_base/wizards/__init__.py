from . import rebilling_export_wizard, rebilling_run_wizard
