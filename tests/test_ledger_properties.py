"""Property-based invariants of money over time (issue 26), through the user's doors.

Random sequences of a few customers' months (tests/ledger.py draws and checks them):
services started, ended, re-priced; once-off and recurring charges; calls on time,
late and imported twice; billing runs, approvals, reissues, adjustments and
credit notes. After every step the oracle of tests/ledger.py (written from the
events, not from the product's code) checks every invariant.

The CI profile (``ledger.CI_PROFILE``) leaves out the situations of known bugs
not fixed yet (``ledger.KNOWN_BUGS``); ``bench/ledger_sim.py`` runs long profiles.
"""

import contextlib
import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo.tests import TransactionCase, tagged

from . import ledger

STEP = st.tuples(*(st.integers(0, 999) for _ in range(5)))


def steps_strategy(profile):
    """Lists of steps with a run every few steps (a month goes by)."""
    run = ledger.KINDS.index(ledger.RUN)
    month = st.lists(STEP, min_size=0, max_size=profile.steps // profile.months)
    return st.lists(month, min_size=1, max_size=profile.months).map(
        lambda months: [step for m in months for step in [*m, (run, 0, 0, 0, 0)]]
    )


@tagged("post_install", "-at_install")
class TestLedgerProperties(TransactionCase):
    profile = ledger.CI_PROFILE

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.fixture = ledger.setup_fixture(cls.env, cls.profile.customers)

    def simulate(self, steps, profile=None):
        """Run ``steps`` in a savepoint rolled back afterwards; fail on a violation."""
        with contextlib.closing(self.env.cr.savepoint()):
            sim = ledger.Ledger(self.env, profile or self.profile, self.fixture)
            try:
                found, log = ledger.run_steps(sim, steps)
            finally:
                self.env.invalidate_all()
        self.env.invalidate_all()
        self.assertFalse(found, "\n".join(["steps:", *log, "violations:", *found]))

    @settings(
        max_examples=5,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(steps=steps_strategy(ledger.CI_PROFILE))
    def test_money_invariants_hold_after_every_step(self, steps):
        self.simulate(steps)

    def test_a_quiet_year_of_every_kind(self):
        """One fixed sequence that uses every step kind of the CI profile, three months
        (September to November: the events of the last one in October, Sydney's clocks
        go forward on the 4th). Approvals come last in a month, after the reissues (now,
        then at the off-peak hour) of the invoices under review."""
        approve = ledger.KINDS.index(ledger.APPROVE)
        kinds = [k for k in range(1, len(ledger.KINDS)) if k != approve] + [approve]
        steps = []
        for month in range(3):
            for kind in kinds:
                steps.append((kind, month + kind, 3 * kind + month, 2 * month + kind, kind * 7))
            steps.append((0, 0, 0, 0, 0))
        self.simulate(steps, dataclasses.replace(self.profile, months=3))
