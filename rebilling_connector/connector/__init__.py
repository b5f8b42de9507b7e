"""Pure-Python building blocks shared by the Xero, Autotask and ConnectWise connectors.

Nothing in this package imports Odoo: it can be used (and tested) without a database.
"""

from .http import (
    BearerAuth,
    ConnectorError,
    HttpClient,
    PermanentError,
    RetryableError,
)
from .rate_limit import RateLimiter, SharedRateLimiter

__all__ = [
    "BearerAuth",
    "ConnectorError",
    "HttpClient",
    "PermanentError",
    "RateLimiter",
    "RetryableError",
    "SharedRateLimiter",
]
