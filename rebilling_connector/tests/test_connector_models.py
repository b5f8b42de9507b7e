"""The connector core: backends, bindings, sync log, push jobs (no external system).

The push hooks of the backend are replaced by stand-ins, so these tests hold for
any connector module that adds a ``backend_type``.
"""

from contextlib import contextmanager
from unittest.mock import patch

import psycopg2

from odoo.addons.queue_job.exception import RetryableJobError
from odoo.addons.queue_job.tests.common import trap_jobs
from odoo.addons.rebilling_base.tests.common import RebillingCase
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import mute_logger

from ..connector.http import RetryableError


@tagged("post_install", "-at_install")
class TestConnectorModels(RebillingCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Backend = cls.env["rebilling.backend"]
        types = Backend._fields["backend_type"].selection
        if not types:
            raise cls.skipTest(cls, "no connector module adds a backend type")
        cls.backend_type = types[0][0]
        Backend.search([("backend_type", "=", cls.backend_type)]).active = False
        cls.backend = Backend.create(
            {"name": "Test backend", "backend_type": cls.backend_type, "batch_size": 2}
        )
        cls.backend._rebilling_set_connected()
        cls.partners = cls.env["res.partner"].create(
            [{"name": f"Synced {i}", "email": f"synced{i}@example.com"} for i in range(4)]
        )
        cls.Binding = cls.env["rebilling.binding"]
        cls.Log = cls.env["rebilling.sync.log"]

    @contextmanager
    def stand_ins(self, refuse=(), fail=(), transient=(), outage=False):
        """Replace the push hooks: ``refuse`` cannot be prepared, ``fail`` is refused remotely."""
        sent = []

        def prepare(backend, record):
            if record in refuse:
                raise UserError(backend.env._("%s has no email", record.name))
            return {"name": record.name, "email": record.email}

        def send(backend, res_model, items):
            sent.append([record for record, _payload, _binding in items])
            if outage:
                raise RetryableError("HTTP 503 after 6 attempt(s)")
            results = []
            for record, _payload, _binding in items:
                if record in fail:
                    results.append({"error": "remote refused"})
                elif record in transient:
                    results.append({"error": "busy", "retry": True})
                else:
                    results.append(
                        {"external_id": f"EXT-{record.id}", "url": f"https://ext/{record.id}"}
                    )
            return results

        Backend = type(self.env["rebilling.backend"])
        with (
            patch.object(Backend, "_rebilling_push_prepare", prepare),
            patch.object(Backend, "_rebilling_push_send", send),
        ):
            yield sent

    def logs(self, record):
        return self.Log.search(
            [("res_model", "=", record._name), ("res_id", "=", record.id)], order="id"
        )

    # ------------------------------------------------------------ bindings
    def test_binding_is_unique_per_record_and_per_external_id(self):
        p1, p2 = self.partners[:2]
        self.Binding._rebilling_bind(self.backend, p1, "EXT-1")
        self.assertEqual(
            self.Binding._rebilling_bind(self.backend, p1, "EXT-1b").external_id, "EXT-1b"
        )
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                self.Binding.create(
                    {"backend_id": self.backend.id, "res_model": p1._name, "res_id": p1.id}
                )
        with mute_logger("odoo.sql_db"), self.assertRaises(psycopg2.IntegrityError):
            with self.env.cr.savepoint():
                self.Binding._rebilling_bind(self.backend, p2, "EXT-1b")
        self.assertEqual(self.Binding._rebilling_map(self.backend, p1)[p1.id].record_ref, p1)

    # ------------------------------------------------------------ push
    def test_an_error_on_one_record_never_stops_the_others(self):
        ok, refused, failed, ok2 = self.partners
        with self.stand_ins(refuse=refused, fail=failed) as sent:
            summary = self.backend._rebilling_push(self.partners)
        self.assertEqual(sorted(summary["pushed"]), sorted((ok | ok2).ids))
        self.assertEqual(sorted(summary["failed"]), sorted((refused | failed).ids))
        self.assertEqual([len(batch) for batch in sent], [2, 1], "batches of batch_size")
        bindings = self.Binding._rebilling_map(self.backend, self.partners)
        self.assertEqual(bindings[ok.id].external_id, f"EXT-{ok.id}")
        self.assertEqual(bindings[ok.id].external_url, f"https://ext/{ok.id}")
        self.assertEqual(bindings[refused.id].sync_state, "error")
        self.assertIn("has no email", bindings[refused.id].sync_error)
        self.assertEqual(bindings[failed.id].sync_error, "remote refused")
        self.assertEqual(self.logs(ok).state, "done")
        self.assertEqual(self.logs(ok).external_id, f"EXT-{ok.id}")
        self.assertEqual(self.logs(failed).state, "error")
        self.assertEqual(self.logs(failed).message, "remote refused")
        self.assertEqual(self.backend.error_count, 2)
        # Unchanged records are not pushed again; a changed one is updated, not re-created.
        ok2.email = "changed@example.com"
        with self.stand_ins() as sent:
            summary = self.backend._rebilling_push(self.partners)
        self.assertEqual(sorted(summary["skipped"]), [ok.id])
        self.assertEqual(
            sorted(r.id for batch in sent for r in batch), sorted((self.partners - ok).ids)
        )

    def test_records_being_pushed_elsewhere_are_left_for_later(self):
        other = psycopg2.connect(dbname=self.env.cr.dbname)
        self.addCleanup(other.close)
        with other.cursor() as cr:
            cr.execute(
                "SELECT pg_advisory_lock(hashtext(%s), %s)",
                [f"rebilling.push:{self.backend.id}:res.partner", self.partners[0].id],
            )
        with self.stand_ins() as sent:
            summary = self.backend._rebilling_push(self.partners[:2])
        self.assertEqual(summary["retry"], self.partners[:1].ids)
        self.assertEqual(summary["pushed"], self.partners[1:2].ids)
        self.assertEqual([r for batch in sent for r in batch], list(self.partners[1:2]))

    def test_not_connected_backend_records_the_error(self):
        self.backend.action_disconnect()
        with self.stand_ins() as sent:
            summary = self.backend._rebilling_push(self.partners[:1])
        self.assertFalse(sent)
        self.assertEqual(summary["failed"], self.partners[:1].ids)
        self.assertIn("not connected", self.logs(self.partners[0]).message)

    # ------------------------------------------------------------ jobs
    def test_push_jobs_have_a_channel_and_an_identity_key(self):
        with trap_jobs() as trap:
            queued = self.backend._rebilling_enqueue_push(self.partners[:3])
            self.assertEqual(queued, self.partners[:3])
            trap.assert_jobs_count(2, only=self.backend._rebilling_push_job)
            for job in trap.enqueued_jobs:
                self.assertEqual(job.channel, "root.rebilling.sync")
                self.assertTrue(job.identity_key.startswith("rebilling.push:"))
            with self.stand_ins():
                trap.perform_enqueued_jobs()
        self.assertEqual(
            set(self.Binding._rebilling_external_ids(self.backend, self.partners).values()),
            {f"EXT-{p.id}" for p in self.partners[:3]},
        )

    def test_a_record_is_never_queued_twice(self):
        self.backend._rebilling_enqueue_push(self.partners[:2])
        again = self.backend._rebilling_enqueue_push(self.partners[:3])
        self.assertEqual(again, self.partners[2])
        jobs = self.env["queue.job"].search([("method_name", "=", "_rebilling_push_job")])
        self.assertEqual(len(jobs), 2)
        pending = self.backend._rebilling_pending_push_ids("res.partner")
        self.assertEqual(pending, set(self.partners[:3].ids))

    def test_transient_failure_retries_the_job(self):
        """queue_job retries the job (pattern of its queue.job.function), no home-made counter."""
        busy = self.partners[1]
        with trap_jobs() as trap, self.stand_ins(transient=busy):
            with self.assertRaises(RetryableJobError):
                self.backend._rebilling_push_job("res.partner", self.partners[:2].ids)
            trap.assert_jobs_count(0)
        # Nothing done at all (an outage): the same.
        with self.stand_ins(outage=True), self.assertRaises(RetryableJobError):
            self.backend._rebilling_push_job("res.partner", self.partners[2:3].ids)

    def test_jobs_are_declared_as_data(self):
        """Channel and retry pattern come from queue.job.function records, not the code."""
        ids = self.partners[:2].ids
        with trap_jobs() as trap:
            self.backend._rebilling_enqueue_push(self.partners[:2])
            self.backend._rebilling_enqueue_pull("contacts")
            trap.assert_enqueued_job(
                self.backend._rebilling_push_job,
                args=("res.partner", ids),
                properties={
                    "identity_key": self.backend._rebilling_push_identity("res.partner", ids)
                },
            )
            trap.assert_enqueued_job(
                self.backend._rebilling_pull_job,
                args=("contacts",),
                properties={"identity_key": f"rebilling.pull:{self.backend.id}:contacts"},
            )
            # No channel= in with_delay: the job's channel is its queue.job.function's.
            self.assertEqual(
                [job.channel for job in trap.enqueued_jobs], ["root.rebilling.sync"] * 2
            )
        for method in ("_rebilling_push_job", "_rebilling_pull_job"):
            function = self.env["queue.job.function"].search(
                [("model_id.model", "=", "rebilling.backend"), ("method", "=", method)]
            )
            self.assertEqual(function.channel, "root.rebilling.sync")
            self.assertEqual(function._parse_retry_pattern(), {1: 60, 3: 300, 5: 1800})

    # ------------------------------------------------------------ sync log
    def test_retry_button_pushes_the_failed_records_again(self):
        with self.stand_ins(fail=self.partners[0]):
            self.backend._rebilling_push(self.partners[:1])
        log = self.logs(self.partners[0])
        self.assertEqual(log.state, "error")
        with self.stand_ins():
            log.action_retry()
        self.assertTrue(log.retried)
        self.assertEqual(self.logs(self.partners[0])[-1].state, "done")
        self.assertEqual(
            self.Binding._rebilling_external_ids(self.backend, self.partners[0]),
            {self.partners[0].id: f"EXT-{self.partners[0].id}"},
        )
        with self.assertRaises(UserError):
            log.action_retry()

    # ------------------------------------------------------------ security / config
    def test_credentials_are_for_system_admins_only(self):
        self.backend.sudo().write({"password": "hunter2", "client_secret": "s3cret"})
        manager = new_test_user(
            self.env, login="connector-manager", groups="rebilling_base.group_rebilling_manager"
        )
        backend = self.backend.with_user(manager)
        self.assertEqual(backend.name, "Test backend")
        for name in ("password", "client_secret", "access_token", "refresh_token"):
            with self.assertRaises(AccessError):
                backend.read([name])
        with Form(backend) as form:
            form.read_timeout = 12.0
        self.assertEqual(self.backend.sudo().client_secret, "s3cret")

    def test_bindings_and_logs_written_by_the_sync_only(self):
        user = new_test_user(
            self.env, login="sync-clerk", groups="rebilling_base.group_rebilling_user"
        )
        partner = self.partners[:1]
        with self.stand_ins():
            summary = self.backend.with_user(user)._rebilling_push(partner)
        self.assertEqual(summary["pushed"], partner.ids)
        binding = self.Binding.search(
            [("backend_id", "=", self.backend.id), ("res_model", "=", "res.partner")]
        )
        log = self.Log.search([("backend_id", "=", self.backend.id)])
        self.assertEqual(binding.with_user(user).external_id, f"EXT-{partner.id}")
        self.assertTrue(log.with_user(user).read(["state"]))
        with self.assertRaises(AccessError):
            binding.with_user(user).external_id = "EXT-someone-else"
        with self.assertRaises(AccessError):
            self.Binding.with_user(user).create(
                {
                    "backend_id": self.backend.id,
                    "res_model": "res.partner",
                    "res_id": self.partners[1].id,
                    "external_id": "EXT-forged",
                }
            )
        with self.assertRaises(AccessError):
            log.with_user(user).write({"state": "done", "message": False})
        with self.assertRaises(AccessError):
            self.Log.with_user(user).create(
                {"backend_id": self.backend.id, "direction": "push", "state": "done"}
            )

    def test_backends_of_other_companies_are_hidden(self):
        other = self.env["res.company"].create({"name": "Other reseller"})
        user = new_test_user(
            self.env,
            login="other-company-user",
            groups="rebilling_base.group_rebilling_user",
            company_id=other.id,
            company_ids=[(6, 0, other.ids)],
        )
        self.assertFalse(self.env["rebilling.backend"].with_user(user).search([]))
        self.assertFalse(self.Log.with_user(user).search([]))

    def test_client_from_the_backend(self):
        self.backend.write(
            {
                "read_timeout": 7.0,
                "max_retries": 3,
                "rate_limit_calls": 60,
                "rate_limit_window": 60.0,
                "rate_limit_concurrent": 5,
                "time_factor": 0.01,
            }
        )
        client = self.backend._rebilling_client()
        self.assertEqual(client.timeout, (5.0, 7.0))
        self.assertEqual(client.max_retries, 3)
        limiter = client.rate_limiter
        self.assertEqual((limiter.max_calls, limiter.max_concurrent), (60, 5))
        self.assertAlmostEqual(limiter.window, 0.6)
        self.assertIs(
            self.backend._rebilling_client().rate_limiter.local,
            limiter.local,
            "the concurrent calls are counted once per process",
        )

    def test_rate_limit_is_shared_by_every_worker(self):
        """The window budget is a PostgreSQL row per backend and window, not a process counter."""
        self.registry_enter_test_mode()
        self.backend.write(
            {"rate_limit_calls": 3, "rate_limit_window": 3600.0, "rate_limit_concurrent": 0}
        )
        first = self.backend._rebilling_rate_limiter()
        for _call in range(3):
            first.acquire(timeout=0)
            first.release()
        Window = self.env["rebilling.rate.window"]
        self.assertEqual(Window._rebilling_calls(self.backend), 3)
        # Another worker (another process: nothing of this one in memory).
        other = self.backend.with_env(self.env(context={}))._rebilling_rate_limiter()
        self.assertIsNot(other, first)
        with self.assertRaisesRegex(TimeoutError, "shared window full"):
            other.acquire(timeout=0)
        self.assertEqual(Window._rebilling_calls(self.backend), 3, "a refused call is not counted")
        # Another backend (another tenant) has its own budget.
        company = self.env["res.company"].create({"name": "Other tenant company"})
        tenant = self.backend.copy({"name": "Other tenant", "company_id": company.id})
        tenant._rebilling_rate_limiter().acquire(timeout=0)
