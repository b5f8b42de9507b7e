"""Transient database errors: never a customer's error, always a retry.

Odoo runs transactions in REPEATABLE READ: a row lock waited for and released
by a concurrent commit raises a serialization failure, and two transactions
may deadlock or time out on a lock. None of these says anything about the
data being processed: the whole transaction is retried (queue_job retries the
job with its function's ``retry_pattern``; a cron runs again at its next
tick). Code that isolates failing records in savepoints re-raises these.
"""

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY


def is_transient(exc):
    """True when ``exc`` (or what caused it) is a transient database error."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, PG_CONCURRENCY_EXCEPTIONS_TO_RETRY):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def raise_if_transient(exc):
    """Re-raise ``exc`` as a job retry when it is transient; return otherwise."""
    if is_transient(exc):
        raise RetryableJobError(str(exc).strip() or exc.__class__.__name__) from exc
