"""The HTTP client of a backend: timeouts, retries and its rate limiter.

The window limit is shared by every worker (``rebilling.rate.window``); the
concurrent calls and ``Retry-After`` pauses are kept per process.
"""

import logging
import threading

from odoo import models

from ..connector.http import HttpClient, RateLimiter, SharedRateLimiter

_logger = logging.getLogger(__name__)

_LIMITERS = {}
_LIMITERS_LOCK = threading.Lock()


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _rebilling_rate_limits(self):
        """Override point: ``(max_calls, window, max_concurrent)`` of the client-side limiter."""
        self.ensure_one()
        return (
            self.rate_limit_calls or None,
            self.rate_limit_window or 60.0,
            self.rate_limit_concurrent or None,
        )

    def _rebilling_rate_limiter(self):
        """The limiter of this backend's calls (or ``None``).

        The window limit is counted in PostgreSQL (``rebilling.rate.window``), so
        that every worker of every Odoo process shares the tenant's budget; the
        concurrent calls and the ``Retry-After`` pauses are kept per process.
        """
        self.ensure_one()
        calls, window, concurrent = self._rebilling_rate_limits()
        if not calls and not concurrent:
            return None
        local = None
        if concurrent:
            key = (self.env.cr.dbname, self.id, concurrent)
            with _LIMITERS_LOCK:
                local = _LIMITERS.get(key)
                if local is None:
                    local = _LIMITERS[key] = RateLimiter(None, max_concurrent=concurrent)
        if not calls:
            return local
        span = window * (self.time_factor or 1.0)
        Window = self.env["rebilling.rate.window"].sudo()
        backend_id = self.id
        return SharedRateLimiter(
            lambda: Window._rebilling_reserve(backend_id, calls, span),
            local=local,
            max_calls=calls,
            window=span,
        )

    def _rebilling_client_kwargs(self):
        """Override point: keyword arguments of the backend's :class:`HttpClient`."""
        self.ensure_one()
        return {
            "base_url": self.api_url or "",
            "headers": {"Accept": "application/json"},
            "timeout": (self.connect_timeout or 5.0, self.read_timeout or 30.0),
            "max_retries": self.max_retries,
            "backoff": self.retry_backoff,
            "max_retry_after": self.max_retry_after,
            "rate_limiter": self._rebilling_rate_limiter(),
            "logger": _logger,
            "classify": self._rebilling_classify_error,
        }

    def _rebilling_classify_error(self, response, body):
        """Override point: ``None`` (429 and 5xx transient, other 4xx permanent) or
        ``(retryable, retry_after)`` for a failed ``response`` of this backend's API."""
        return None

    def _rebilling_client(self):
        """A new :class:`HttpClient` for this backend (timeouts, retries, shared limiter)."""
        self.ensure_one()
        kwargs = self._rebilling_client_kwargs()
        return HttpClient(kwargs.pop("base_url"), **kwargs)
