"""Pulling from a backend: ``_rebilling_pull_<what>()`` run now or as a queue job, logged."""

import time

from odoo import models
from odoo.addons.queue_job.exception import RetryableJobError
from odoo.exceptions import UserError

from ..connector.http import ConnectorError, RetryableError


class RebillingBackend(models.Model):
    _inherit = "rebilling.backend"  # pylint: disable=consider-merging-classes-inherited

    def _rebilling_enqueue_pull(self, what, eta=None):
        """Queue one pull job (``identity_key``: never twice while pending)."""
        self.ensure_one()
        return self.with_delay(
            eta=eta,
            description=self.env._("%(backend)s: pull %(what)s", backend=self.name, what=what),
            identity_key=f"rebilling.pull:{self.id}:{what}",
        )._rebilling_pull_job(what)

    def _rebilling_pull_job(self, what):
        """Job: run one pull; a transient failure retries the job (queue_job's pattern)."""
        self.ensure_one()
        backend = self.with_company(self.company_id)
        ok, message, retryable = backend._rebilling_pull_run(what)
        if not ok and retryable:
            raise RetryableJobError(message)
        return message

    def _rebilling_pull(self, what):
        """Run ``_rebilling_pull_<what>()`` now and log it; UserError when it fails."""
        self.ensure_one()
        ok, message, _retryable = self._rebilling_pull_run(what)
        if not ok:
            raise UserError(
                self.env._("Pulling %(what)s failed: %(error)s", what=what, error=message)
            )
        return message

    def _rebilling_pull_run(self, what):
        """Run one pull in a savepoint and log it; return ``(ok, message, retryable)``."""
        self.ensure_one()
        method = getattr(self, f"_rebilling_pull_{what}", None)
        if method is None:
            raise UserError(self.env._("%(b)s cannot pull %(w)s.", b=self.name, w=what))
        started = time.monotonic()
        try:
            with self.env.cr.savepoint():
                message = method()
        except (ConnectorError, UserError) as exc:
            message = str(exc)
            self._rebilling_log(
                "pull", what, "error", message=message, duration=time.monotonic() - started
            )
            return False, message, isinstance(exc, RetryableError)
        self._rebilling_log(
            "pull", what, "done", message=message or False, duration=time.monotonic() - started
        )
        return True, message, False
