"""Shared rate-limit windows: the calls of one backend per window, across every worker.

An external API counts its limit per tenant (Xero 60 calls a minute, Autotask
10,000 an hour per database), whatever the number of Odoo workers calling it.
Each call takes a slot in the row of its backend and window (fixed windows of
``rate_limit_window * time_factor`` seconds) in its own committed transaction,
with one atomic ``INSERT ... ON CONFLICT DO UPDATE ... WHERE calls < limit``:
no two workers can take the last slot. A full window makes the caller wait
for the next one (:class:`~..connector.http.SharedRateLimiter`).
"""

import time

from odoo import api, fields, models
from odoo.tools import SQL


class RebillingRateWindow(models.Model):
    _name = "rebilling.rate.window"
    _description = "Rebilling Rate-Limit Window"
    _order = "backend_id, window_start desc"
    _log_access = False

    # A plain id, no foreign key: the slot is taken in its own transaction, which may not
    # see a backend created by the caller's (a backend created and used in one transaction).
    backend_id = fields.Integer("Backend ID", required=True)
    window_start = fields.Float(
        required=True, digits=(16, 3), help="Start of the window (Unix time, seconds)."
    )
    calls = fields.Integer(required=True, default=0)

    _backend_window_uniq = models.Constraint(
        "UNIQUE(backend_id, window_start)", "One row per backend and window."
    )

    @api.model
    def _rebilling_reserve(self, backend_id, max_calls, window, now=None):
        """Take one call of ``backend_id``'s current window in a committed transaction.

        Return 0.0 when the call may go, else the seconds until the next window.
        """
        now = time.time() if now is None else now
        start = round(now - now % window, 3)
        with self.env.registry.cursor() as cr:
            env = self.env(cr=cr)
            env["rebilling.rate.window"].flush_model(["calls"])
            rows = env.execute_query(
                SQL(
                    """
                    INSERT INTO rebilling_rate_window (backend_id, window_start, calls)
                    VALUES (%(backend)s, %(start)s, 1)
                    ON CONFLICT (backend_id, window_start) DO UPDATE
                        SET calls = rebilling_rate_window.calls + 1
                        WHERE rebilling_rate_window.calls < %(limit)s
                    RETURNING calls
                    """,
                    backend=backend_id,
                    start=start,
                    limit=max_calls,
                )
            )
        if rows:
            return 0.0
        return max(start + window - now, 1e-3)

    @api.model
    def _rebilling_calls(self, backend, now=None, window=None):
        """Calls counted in ``backend``'s current window (for benches and tests)."""
        window = window or (backend.rate_limit_window or 60.0) * (backend.time_factor or 1.0)
        now = time.time() if now is None else now
        start = round(now - now % window, 3)
        self.flush_model(["calls"])
        rows = self.env.execute_query(
            SQL(
                "SELECT calls FROM rebilling_rate_window"
                " WHERE backend_id = %s AND window_start = %s",
                backend.id,
                start,
            )
        )
        return rows[0][0] if rows else 0

    @api.autovacuum
    def _gc_old_windows(self):
        """Windows of more than a day ago count no more."""
        self.flush_model(["window_start"])
        self.env.execute_query(
            SQL(
                "DELETE FROM rebilling_rate_window WHERE window_start < %s",
                time.time() - 86400,
            )
        )
