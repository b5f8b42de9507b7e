from . import (
    rebilling_month_end,
    rebilling_review_adjust_wizard,
    rebilling_review_reissue_wizard,
)
