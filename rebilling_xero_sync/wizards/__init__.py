from . import rebilling_export_wizard
