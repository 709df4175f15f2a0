"""The stack of ``docker-compose.yml`` run as local processes, without Docker.

The commands come from the compose file itself (``migrate``, ``web``, ``worker``, ``beat``), adapted only
where Docker provides something: the image's ``python``/``uvicorn``/``celery`` become this virtualenv's,
the ``sh -c`` forms are expanded as the shell would (``WEB_PROCESSES=1``, ``WORKER_CONCURRENCY=1``),
``--host 0.0.0.0 --port 8000`` becomes 127.0.0.1 on a free port, and beat's schedule file goes to a
temporary folder. Everything else is run as written, so a broken command in the compose file breaks
this test. The processes use the test database and the test Redis database (``service_env``); beat ticks
every second (``ODR_SWEEP_SECONDS=1``) and the worker writes e-mail to files.
"""

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import redis
import yaml
from django.utils import timezone

from cases.models import CaseEvent, Deadline
from mediation.models import ChatMessage
from notifications.models import Delivery, Notification
from tests.factories import Cast, case_in, filing_body
from tests.integration.conftest import ROOT, AsgiServer, Workers, free_port, wait_db_sessions_closed
from tests.integration.test_chat_processes import close_all, http, joint_room, token_of, until
from tests.integration.test_delivery_workers import queue_to_workers, sent_mail  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMPOSE = ROOT / "docker-compose.yml"
WAIT = 30  # seconds for anything the stack is expected to do


# --- the compose file's commands, as local processes --------------------------------------------
def _option(argv: list[str], name: str, value: str) -> list[str]:
    """``argv`` with the value of ``name`` replaced; the option must be there as the compose file has it."""
    assert name in argv, f"the compose command has no {name}: {argv}"
    i = argv.index(name)
    return [*argv[: i + 1], value, *argv[i + 2 :]]


def compose_command(service: str, env: dict, **options: str) -> list[str]:
    """The ``command`` of ``service`` in docker-compose.yml, as this machine runs it.

    ``options`` replace option values (``host="127.0.0.1"`` sets ``--host``); each must be in the command.
    """
    command = yaml.safe_load(COMPOSE.read_text())["services"][service]["command"]
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if argv[:2] == ["sh", "-c"]:
        assert len(argv) == 3, argv
        script = argv[2].replace("$$", "$")  # compose's escape for a literal "$"
        script = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m[1]) or m[2], script)
        assert "$" not in script, f"a shell expansion this test does not know: {script}"
        argv = shlex.split(script)
        assert argv[0] == "exec" and not {";", "&&", "||", "|", "&"} & set(argv), f"not one exec: {script}"
        argv = argv[1:]
    program, *args = argv
    if program == "python":
        argv = [sys.executable, *args]
    elif program in ("uvicorn", "celery"):
        argv = [sys.executable, "-m", program, *args]
    else:
        raise AssertionError(f"{service} runs {program!r}, which this test cannot map to the virtualenv")
    for name, value in options.items():
        argv = _option(argv, f"--{name}", value)
    return argv


def spawn(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    """Start ``argv`` in a process group of its own (a worker and its pool go together), output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


class ComposeWeb(AsgiServer):
    """The compose ``web`` command on a free port of 127.0.0.1 (``wait_ready`` and ``output`` as inherited)."""

    def __init__(self, name: str, env: dict, log_dir: Path):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"web-{name}.log"
        self.argv = compose_command("web", env, host="127.0.0.1", port=str(self.port))
        self.proc = spawn(self.argv, env, self.log)

    def healthcheck(self, env: dict) -> subprocess.CompletedProcess:
        """The compose file's healthcheck of ``web``, pointed at this process's port."""
        test = yaml.safe_load(COMPOSE.read_text())["services"]["web"]["healthcheck"]["test"]
        assert test[:2] == ["CMD", "python"], test
        argv = [sys.executable, *(arg.replace("127.0.0.1:8000", f"127.0.0.1:{self.port}") for arg in test[2:])]
        return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT)


class Stack:
    """migrate, web (several), worker and beat started from the compose file; all stopped by ``stop``."""

    #: The processes' database sessions are named, so that stopping them can wait for those sessions only.
    APPLICATION_NAME = "odr-test-stack"

    def __init__(self, env: dict, log_dir: Path):
        self.env = dict(env)
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # allowed for the test process only
        self.env["DATABASE_URL"] += f"?application_name={self.APPLICATION_NAME}"
        self.log_dir = log_dir
        self.schedule = log_dir / "celerybeat-schedule"
        self.procs: list[subprocess.Popen] = []

    def migrate(self) -> subprocess.CompletedProcess:
        return subprocess.run(
            compose_command("migrate", self.env), cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120
        )

    def web(self, *names: str) -> list[ComposeWeb]:
        webs = [ComposeWeb(name, self.env, self.log_dir) for name in names]
        self.procs.extend(web.proc for web in webs)
        return webs

    def worker(self) -> subprocess.Popen:
        proc = spawn(compose_command("worker", self.env), self.env, self.log_dir / "worker.log")
        self.procs.append(proc)
        return proc

    def beat(self, log: str) -> subprocess.Popen:
        proc = spawn(compose_command("beat", self.env, schedule=str(self.schedule)), self.env, self.log_dir / log)
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.log_dir / name
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM to each main process, as ``docker compose stop`` does; SIGKILL to the group if it hangs,
        and to whatever of the group outlived its main process."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):  # unless the whole group is gone
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        self.procs.clear()
        wait_db_sessions_closed(self.APPLICATION_NAME)


@pytest.fixture
def stack(service_env, tmp_path):
    mail = tmp_path / "mail"
    mail.mkdir()
    service_env.update(
        ODR_SWEEP_SECONDS="1",  # beat's deadline sweep every second, not every 30
        EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
        EMAIL_FILE_PATH=str(mail),
        WEB_PROCESSES="1",
        WORKER_CONCURRENCY="1",
    )
    s = Stack(service_env, tmp_path)
    s.mail = mail
    yield s
    s.stop()


# --- helpers -------------------------------------------------------------------------------------
def post_json(server, token: str, path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(  # noqa: S310 (our own server)
        server.url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {token}", "Accept": "application/json", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_for(condition, what: str, stack: Stack, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    logs = "\n".join(f"--- {name}:\n{stack.log(name)[-2000:]}" for name in ("worker.log", "beat-1.log", "beat-2.log"))
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")


def sweeps_sent(stack: Stack, log: str) -> int:
    """How many deadline sweeps a beat has sent (its INFO log names each)."""
    return stack.log(log).count("Sending due task deadline-sweep")


def make_due(deadline: Deadline) -> None:
    Deadline.objects.filter(pk=deadline.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))


def fired_events(case) -> list[CaseEvent]:
    return list(CaseEvent.objects.filter(case=case, type="deadline_fired").order_by("seq"))


# --- the test ------------------------------------------------------------------------------------
@pytest.mark.usefixtures("queue_to_workers")  # the test process's own tasks go to the stack's worker too
def test_the_compose_stack_files_chats_fires_deadlines_and_survives_a_beat_restart(stack):
    started = time.monotonic()
    cast = Cast.make()
    tokens = {name: token_of(getattr(cast, name)) for name in ("consumer", "merchant", "mediator")}

    # 1. The migrations, as the compose file runs them once before everything else.
    migrated = stack.migrate()
    assert migrated.returncode == 0, f"migrate failed:\n{migrated.stdout[-3000:]}\n{migrated.stderr[-3000:]}"

    # 2. Two web processes, a worker and a beat, all from the compose file.
    a, b = stack.web("a", "b")
    assert "--workers" in a.argv and a.argv[a.argv.index("--workers") + 1] == "1"  # WEB_PROCESSES expanded
    worker = stack.worker()
    beat = stack.beat("beat-1.log")
    for web in (a, b):
        web.wait_ready(timeout=60)
        health = web.healthcheck(stack.env)
        assert health.returncode == 0, f"the compose healthcheck of web {web.name} failed: {health.stderr[-2000:]}"
    Workers(stack.env).wait_ready("celery")  # the compose worker has the default node name
    wait_for(lambda: sweeps_sent(stack, "beat-1.log") >= 1, "beat to send its first sweep", stack)
    assert worker.poll() is None and beat.poll() is None
    print(f"\nstack up in {time.monotonic() - started:.1f} s")

    # 3. A case filed through process A is served by process B.
    status, filed = post_json(a, tokens["consumer"], "/api/v1/cases/", filing_body(cast.merchant.organisation_id))
    assert status == 201, filed
    status, served = http(b, tokens["consumer"], "GET", f"/api/v1/cases/{filed['id']}/")
    assert status == 200, served
    assert served["reference"] == filed["reference"] and served["status"] == "filed"
    case_id = filed["id"]

    # 4. Chat across both processes: the consumer on A, the merchant and the mediator on B.
    mediation = case_in("mediation", cast)

    async def chat():
        clients = await joint_room(mediation, tokens, a, b)
        consumer, merchant, mediator = clients
        await consumer.send("from A")
        await until(lambda: all(len(c.messages) == 1 for c in clients), "the message sent on A")
        await merchant.send("from B")
        await until(lambda: all(len(c.messages) == 2 for c in clients), "the message sent on B")
        await close_all(clients)
        return clients

    clients = asyncio.run(chat())
    stored = list(ChatMessage.objects.filter(case=mediation, room="joint").order_by("id").values_list("id", "body"))
    assert [body for _id, body in stored] == ["from A", "from B"]
    for client in clients:
        assert [(m["id"], m["body"]) for m in client.messages] == stored, f"{client.name} on {client.server.name}"
        assert client.errors == []

    # 5. A deadline fired by beat (through the worker), its notification delivered by the worker.
    response = Deadline.objects.get(case_id=case_id, kind="merchant_response", status="running")
    make_due(response)
    wait_for(lambda: Deadline.objects.get(pk=response.pk).status == "fired", "the merchant's deadline to fire", stack)
    [first] = fired_events(case_id)
    assert first.payload["kind"] == "merchant_response"
    notified = Counter(Notification.objects.filter(event=first).values_list("user_id", flat=True))
    for who in ("consumer", "merchant", "operator"):
        assert notified[getattr(cast, who).pk] == 1, f"the {who} is not notified once of the deadline: {notified}"
    emailed = Delivery.objects.filter(notification__event=first, notification__user=cast.consumer, channel="email")
    wait_for(lambda: emailed.filter(status="sent").exists(), "the consumer's e-mail of the deadline", stack)
    assert [(d.status, d.attempts) for d in emailed] == [("sent", 1)]
    subject = f"[{filed['reference']}] A deadline passed"
    assert [m["Subject"] for m in sent_mail(stack.mail) if m["To"] == cast.consumer.email].count(subject) == 1

    # 6. Beat stopped (SIGTERM) and started again: the next deadline fires once, the first never again.
    beat.send_signal(signal.SIGTERM)
    try:
        beat.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"beat did not stop on SIGTERM in {WAIT} s:\n{stack.log('beat-1.log')[-2000:]}") from None
    beat = stack.beat("beat-2.log")
    wait_for(lambda: sweeps_sent(stack, "beat-2.log") >= 1, "the restarted beat to send a sweep", stack)
    submissions = Deadline.objects.get(case_id=case_id, kind="arbitration_submissions", status="running")
    make_due(submissions)
    wait_for(lambda: Deadline.objects.get(pk=submissions.pk).status == "fired", "the second deadline to fire", stack)
    # More ticks of the restarted beat, each taken by the worker: a double firing would show now.
    ticks = sweeps_sent(stack, "beat-2.log")
    wait_for(lambda: sweeps_sent(stack, "beat-2.log") >= ticks + 3, "three more sweeps", stack)
    broker = redis.Redis.from_url(stack.env["REDIS_URL"])
    wait_for(lambda: broker.llen("celery") == 0, "the worker to take every queued sweep", stack)
    fired = fired_events(case_id)
    wait_for(
        lambda: not Delivery.objects.filter(event__in=fired, channel="email").exclude(status="sent").exists(),
        "every e-mail of the fired deadlines",
        stack,
    )

    assert beat.poll() is None and worker.poll() is None
    assert Counter(e.payload["kind"] for e in fired) == {"merchant_response": 1, "arbitration_submissions": 1}
    assert Deadline.objects.get(pk=response.pk).status == "fired"
    for event in fired:
        users = list(Notification.objects.filter(event=event).values_list("user_id", flat=True))
        assert len(users) == len(set(users)), f"duplicate notifications of {event.payload['kind']}: {users}"
        assert cast.consumer.pk in users
        mails = Delivery.objects.filter(event=event, channel="email")
        assert mails.count() == len(users) and set(mails.values_list("status", "attempts")) == {("sent", 1)}
    assert [m["Subject"] for m in sent_mail(stack.mail) if m["To"] == cast.consumer.email].count(subject) == 2
    for log in ("worker.log", "beat-1.log", "beat-2.log", "web-a.log", "web-b.log"):
        errors = [line for line in stack.log(log).splitlines() if re.search(r"\bERROR\b|Traceback", line)]
        assert errors == [], f"{log}: {errors[:5]}"
    print(f"whole stack test in {time.monotonic() - started:.1f} s")
