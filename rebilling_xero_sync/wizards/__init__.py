from . import rebilling_export_wizard, rebilling_month_end
