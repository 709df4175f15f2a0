"""100,000 deadlines due at once, swept by two Celery workers: the time to fire them all, and no duplicates.

Its own database (``odr_bench_sweep``, created and migrated on first use). Each run bulk-inserts fresh
cases (``seed_bulk``) and ``ODR_BENCH_SWEEP_DEADLINES`` (100,000) award clocks due in the past, 20 per
case with distinct due times; on a case that is not in arbitration an award clock firing records the
breach (the statistics' ``BreachCell``), appends ``deadline_fired`` to the case's chain and notifies the
operators -- the full work of a firing, with nothing cancelling the others. Two worker processes
(``celery worker -c 1`` each, the machine's two cores) share the rows by ``SKIP LOCKED``; sweeps are sent
as beat would, while rows remain. The clock stops when none is running, or at
``ODR_BENCH_SWEEP_MAX_SECONDS`` (150) with the count fired so far. Duplicates: deadline_fired events
per (case, due time) above one, and events beyond the fired rows.
"""

import os
import subprocess
import time

from bench._server import ROOT, app_env, database_url, ensure_database, manage, psql, python

DB = "odr_bench_sweep"
DEADLINES = int(os.environ.get("ODR_BENCH_SWEEP_DEADLINES", "100000"))
PER_CASE = 20
MAX_SECONDS = float(os.environ.get("ODR_BENCH_SWEEP_MAX_SECONDS", "150"))

SETUP = """
import datetime as dt
from django.utils import timezone
from accounts.models import User
from cases.models import Case, Deadline
from tests.factories import user
if not User.objects.filter(role="operator").exists():
    user("operator", country="IE", time_zone="UTC")
fresh = list(Case.objects.filter(event_count=0, filed_at__isnull=False).exclude(status__in=["draft", "arbitration"])
             .values_list("pk", flat=True)[:__CASES__])
assert len(fresh) == __CASES__, len(fresh)
past = timezone.now() - dt.timedelta(hours=1)
rows = [Deadline(case_id=pk, kind="award", party="arbitrator", started_at=past - dt.timedelta(days=30),
                 due_at=past - dt.timedelta(seconds=i))
        for pk in fresh for i in range(__PER_CASE__)]
Deadline.objects.bulk_create(rows, batch_size=5000)
print(len(rows))
"""

COUNT = """
from django.db.models import Count
from cases.models import CaseEvent, Deadline
fired = Deadline.objects.filter(kind="award", status="fired").count()
running = Deadline.objects.filter(status="running").count()
events = CaseEvent.objects.filter(type="deadline_fired").count()
dupes = (CaseEvent.objects.filter(type="deadline_fired").values("case_id", "payload__due_at")
         .annotate(n=Count("pk")).filter(n__gt=1).count())
print(fired, running, events, dupes)
"""


def _django(code: str, env: dict) -> str:
    done = subprocess.run(
        [python(), "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return done.stdout.strip().splitlines()[-1]


def _send_sweeps(env: dict, n: int) -> None:
    code = "from odr.celery import app\n" + "".join('app.send_task("cases.deadline_sweep")\n' for _ in range(n))
    subprocess.run([python(), "-c", code], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, check=True)


def run() -> list[str]:
    env = app_env(
        database_url(DB),
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        REDIS_URL="redis://127.0.0.1:6379/8",
    )
    ensure_database(DB, env)
    # Last run's leftovers (a capped run leaves rows running): fired, not counted.
    psql("UPDATE cases_deadline SET status = 'cancelled' WHERE status = 'running'", DB)
    cases = DEADLINES // PER_CASE
    manage(["seed_bulk", "--cases", str(int(cases * 1.25) + 50), "--seed", str(int(time.time()))], env, timeout=900)
    before = [int(x) for x in _django(COUNT, env).split()]
    inserted = int(_django(SETUP.replace("__CASES__", str(cases)).replace("__PER_CASE__", str(PER_CASE)), env))

    workers = [
        subprocess.Popen(
            [
                python(),
                "-m",
                "celery",
                "-A",
                "odr",
                "worker",
                "-n",
                f"sweeper-{i}@%h",
                "-c",
                "1",
                "-l",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        for i in range(2)
    ]
    try:
        time.sleep(4)  # both workers connected
        start = time.monotonic()
        _send_sweeps(env, 4)
        fired = running = 0
        while time.monotonic() - start < MAX_SECONDS:
            time.sleep(2)
            fired, running, _events, _dupes = (int(x) for x in _django(COUNT, env).split())
            fired -= before[0]
            if running == 0:
                break
            _send_sweeps(env, 1)  # as beat's next tick would
        elapsed = time.monotonic() - start
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    total_fired, running, events, dupes = (int(x) for x in _django(COUNT, env).split())
    fired = total_fired - before[0]
    events -= before[2]
    done = running == 0
    rate = fired / elapsed if elapsed else 0
    lines = [
        f"{inserted:,} deadlines due at once, 2 workers: "
        + (f"all fired in {elapsed:.1f} s" if done else f"{fired:,} fired in {elapsed:.0f} s (capped)")
        + f" = {rate:,.0f} per second"
        + ("" if done else f"; all {inserted:,} would take ~{inserted / rate:,.0f} s at that rate" if rate else ""),
        f"target: all within 120 s: {'met' if done and elapsed <= 120 else 'NOT met'}",
        f"duplicates: {dupes} (case, due time) pairs fired more than once; {events - fired} events beyond "
        f"the fired rows (target 0: {'met' if dupes == 0 and events == fired else 'NOT met'})",
    ]
    return lines
