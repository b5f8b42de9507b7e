from . import rebilling_month_end
