"""Deliveries by real Celery worker processes against the real PostgreSQL and Redis.

The case is filed through the services in this test process and committed (transactional database); the
delivery tasks it queues on commit go to the Redis database the workers consume (``queue_to_workers``).
The workers write e-mail with Django's file-based backend into a temporary folder and post webhooks to a
real HTTP receiver in this process (``tests.notifications.test_outbox.WebhookReceiver``), which checks
each signature.
"""

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import redis
from celery import Celery

from cases.models import CaseEvent
from notifications.models import Delivery
from notifications.services import webhook_create
from tests.factories import Cast, file_case
from tests.integration.conftest import ROOT, Workers
from tests.notifications.test_outbox import WebhookReceiver

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def mail_dir(service_env, tmp_path, settings):
    """The workers' e-mail goes to files in a temporary folder; their webhooks may reach 127.0.0.1."""
    folder = tmp_path / "mail"
    folder.mkdir()
    service_env.update(
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(folder),
        ODR_WEBHOOK_ALLOW_PRIVATE="1",
    )
    settings.ODR_WEBHOOK_ALLOW_PRIVATE = True  # this process registers the receiver's 127.0.0.1 URL
    return folder


@pytest.fixture
def queue_to_workers(service_env):
    """Point this process's Celery app at the workers' broker (the test Redis database) for the test.

    Without it, the tasks queued on commit would go to REDIS_URL's own database, which no worker reads.
    """
    from odr.celery import app

    def use(url):
        app.conf.broker_url = url
        app._pool = None  # connections made for the previous URL, if any
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None

    before = app.conf.broker_url
    use(service_env["REDIS_URL"])
    yield
    use(before)


@pytest.fixture
def workers_gone(service_env):
    """After the workers' fixture stops them, wait until their database sessions have closed too, so that
    the test database can be flushed and dropped (a process's session outlives it by a moment)."""
    yield
    from django.db import connection

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.2)


def sent_mail(folder) -> list[email.message.EmailMessage]:
    """Every message the file-based backend wrote (one or more per file, each followed by a line of dashes)."""
    messages = []
    for path in sorted(folder.iterdir()):
        for chunk in path.read_bytes().split(b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def wait_for(condition, timeout: float, what: str, case=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    rows = list(Delivery.objects.filter(event__case=case).values("channel", "status", "attempts", "last_error"))
    raise AssertionError(f"timed out after {timeout} s waiting for {what}; the case's deliveries: {rows}")


def queue_drained(service_env) -> bool:
    return redis.Redis.from_url(service_env["REDIS_URL"]).llen("celery") == 0


def test_filing_a_case_delivers_the_merchants_email_and_webhook_once(workers, service_env, mail_dir, queue_to_workers):
    with WebhookReceiver() as receiver:
        cast = Cast.make()
        endpoint = webhook_create(user=cast.merchant, url=receiver.url, events=[])
        receiver.secret = endpoint.signing_secret
        workers.start("deliverer")

        case = file_case(cast)  # committed: the deliveries are queued on commit

        deliveries = Delivery.objects.filter(event__case=case)
        assert sorted(deliveries.values_list("channel", flat=True)) == ["email", "webhook"]
        wait_for(lambda: deliveries.filter(status="sent").count() == 2, 60, "both deliveries to be sent", case)
        # Retry sweeps, as beat sends them, find nothing more to send.
        beat = Celery("odr-test-beat", broker=service_env["REDIS_URL"])
        for _ in range(3):
            beat.send_task("notifications.retry_sweep")
        wait_for(lambda: queue_drained(service_env), 30, "the workers to take every queued task")
        time.sleep(2)

        [message] = sent_mail(mail_dir)
        assert message["To"] == cast.merchant.email
        assert case.reference in message["Subject"] and "投诉已提交" in message["Subject"]  # zh-hans
        assert "(UTC+08:00)" in message.get_content()  # Asia/Shanghai

        [post] = receiver.requests
        assert post.verdict == "ok"
        event = CaseEvent.objects.get(case=case, type="submit")
        assert json.loads(post.body)["id"] == f"evt_{event.pk}"
        assert [(d.status, d.attempts) for d in deliveries] == [("sent", 1), ("sent", 1)]


class KillableWorkers(Workers):
    """Workers (and a beat) each in a process group of its own, so that SIGKILL can take a whole worker.

    A prefork worker is a parent and its pool child; the task runs in the child. Killing only the parent
    would leave the child to finish the delivery, which is not the crash under test.
    """

    def __init__(self, env, logs):
        super().__init__(env)
        self.logs = logs

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 -- closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "odr", *args],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        self.procs.append(proc)
        return proc

    def start(self, name: str, concurrency: int = 1) -> subprocess.Popen:
        proc = self._spawn(
            name,
            ["worker", "-n", f"{name}@%h", "-c", str(concurrency), "--without-gossip", "--without-mingle",
             "--without-heartbeat", "-P", "prefork", "-l", "WARNING"],
        )  # fmt: skip
        self.wait_ready(name)
        return proc

    def start_beat(self) -> subprocess.Popen:
        return self._spawn("beat", ["beat", "-s", str(self.logs / "beat-schedule"), "-l", "WARNING"])

    def kill(self, proc: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool child: no clean-up, no acknowledgement, no rollback by Python."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self, sig=signal.SIGTERM) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, sig)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


@pytest.fixture
def killable_workers(service_env, tmp_path):
    service_env["ODR_SWEEP_SECONDS"] = "1"  # beat's retry sweep every second, not every 30
    w = KillableWorkers(service_env, tmp_path)
    yield w
    w.stop()


def test_a_worker_killed_in_the_middle_of_a_delivery_loses_nothing_and_marks_it_sent_once(
    workers_gone, killable_workers, service_env, mail_dir, queue_to_workers
):
    """What is guaranteed when a worker dies while the webhook is in flight:

    - the Delivery row: exactly once. The attempt runs in a transaction holding the row's lock; the kill
      rolls it back, so the row stays "pending" with nothing counted, the retry sweep queues it again, a
      new worker sends it, and the row becomes "sent" once (one row per event and endpoint, attempts 1).
    - the far side: at least once. The killed worker's POST had reached the receiver before the kill, so
      the receiver gets the same event again after the restart. Every POST carries the same event id
      (``id`` in the signed body; X-ODR-Timestamp is the time of each attempt), which lets the receiver
      drop the duplicate: it processes the event exactly once.
    """
    with WebhookReceiver(delay=5) as receiver:  # slow to answer: the delivery stays in flight
        cast = Cast.make()
        endpoint = webhook_create(user=cast.merchant, url=receiver.url, events=[])
        receiver.secret = endpoint.signing_secret
        doomed = killable_workers.start("doomed")
        killable_workers.start_beat()

        case = file_case(cast)
        webhook = Delivery.objects.get(event__case=case, channel="webhook")
        rows = Delivery.objects.filter(event__case=case).values("channel", "status", "attempts", "last_error")
        assert receiver.arrived.wait(60), f"the webhook never reached the receiver; deliveries: {list(rows)}"
        webhook.refresh_from_db()
        assert webhook.status == "pending"  # in flight: sent, not yet marked

        killable_workers.kill(doomed)
        webhook.refresh_from_db()
        assert (webhook.status, webhook.attempts, webhook.sent_at) == ("pending", 0, None)  # nothing half-done

        killable_workers.start("successor")
        wait_for(lambda: Delivery.objects.get(pk=webhook.pk).status == "sent", 90, "the webhook to be sent", case)
        time.sleep(6)  # more beat ticks and anything still in the queue: no second send, no second row

        webhook.refresh_from_db()
        assert (webhook.status, webhook.attempts) == ("sent", 1) and webhook.sent_at is not None
        assert Delivery.objects.filter(event__case=case, channel="webhook").count() == 1

        posts = list(receiver.requests)
        assert len(posts) >= 2  # the killed worker's, and the one after the restart
        assert {json.loads(p.body)["id"] for p in posts} == {f"evt_{webhook.event_id}"}
        assert sorted(p.verdict for p in posts) == ["duplicate"] * (len(posts) - 1) + ["ok"]

        # The e-mail, sent before the webhook or after the restart, went out once.
        emailed = Delivery.objects.get(event__case=case, channel="email")
        assert (emailed.status, emailed.attempts) == ("sent", 1)
        assert [m["To"] for m in sent_mail(mail_dir)] == [cast.merchant.email]
