"""Filing through the API with concurrent clients, beside PostgreSQL's own single-row insert rate (pgbench).

Two web processes (uvicorn, one worker each: the machine's two cores) and one Celery worker run against
their own database (``odr_bench_filing``, created and migrated on first use) and Redis; the load
generator (``bench/loadgen_filing.py``) is a separate process with ``ODR_BENCH_FILING_CLIENTS`` (16)
keep-alive clients spread over both web processes, each filing cases back to back for
``ODR_BENCH_FILING_SECONDS`` (8 s); three runs. pgbench runs a one-INSERT script with the same number of
clients against a scratch table in the same PostgreSQL, three runs. Then the resident memory of the web
processes and of the worker after the load.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._server import PG, ROOT, Server, app_env, database_url, ensure_database, psql, python

DB = "odr_bench_filing"
CLIENTS = int(os.environ.get("ODR_BENCH_FILING_CLIENTS", "16"))
SECONDS = float(os.environ.get("ODR_BENCH_FILING_SECONDS", "8"))
RUNS = 3

SETUP = """
import json, sys
from django.conf import settings
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
from rest_framework.authtoken.models import Token
from accounts.models import User
from tests.factories import user
clients = []
# The database is this benchmark's own: every merchant and consumer in it is a bench user.
merchants = [u.organisation_id for u in User.objects.filter(role="merchant")]
while len(merchants) < 20:
    merchants.append(user("merchant", country="CN", time_zone="Asia/Shanghai").organisation_id)
consumers = list(User.objects.filter(role="consumer").order_by("pk"))
while len(consumers) < __CLIENTS__:
    consumers.append(user("consumer", country="DE", time_zone="Europe/Berlin"))
for i, consumer in enumerate(consumers[:__CLIENTS__]):
    token, _ = Token.objects.get_or_create(user=consumer)
    clients.append({"token": token.key, "merchant": merchants[i % len(merchants)]})
print(json.dumps(clients))
"""


def _clients(env: dict) -> list[dict]:
    code = "import django; django.setup()\n" + SETUP.replace("__CLIENTS__", str(CLIENTS))
    done = subprocess.run(
        [python(), "-c", code], cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"setting up the clients failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _pgbench() -> list[float]:
    psql(
        "CREATE TABLE IF NOT EXISTS bench_insert (id bigserial PRIMARY KEY, payload text NOT NULL, "
        "created_at timestamptz NOT NULL DEFAULT now())",
        DB,
    )
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write("INSERT INTO bench_insert (payload) VALUES ('a complaint');\n")
    rates = []
    for _ in range(RUNS):
        done = subprocess.run(
            ["pgbench", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-n", "-c", str(CLIENTS), "-j", "2",
             "-T", str(int(SECONDS)), "-f", script.name, DB],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        line = next(ln for ln in done.stdout.splitlines() if ln.startswith("tps ="))
        rates.append(float(line.split()[2]))
    os.unlink(script.name)
    psql("TRUNCATE bench_insert", DB)
    return rates


def _rss_mb(pid: int) -> float:
    """Resident size of ``pid`` and its children, in MB."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def _pct(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def run() -> list[str]:
    env = app_env(
        database_url(DB),
        ODR_THROTTLE_FILING="1000000/hour",
        ODR_THROTTLE_USER="1000000/min",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
    )
    ensure_database(DB, env)
    clients = _clients(env)
    lines = [f"machine: {os.cpu_count()} cores; {CLIENTS} clients, {SECONDS:.0f} s per run, {RUNS} runs"]

    pg_rates = _pgbench()
    pg = statistics.median(pg_rates)
    lines.append(f"pgbench one-row INSERT: median {pg:,.0f} tps (min {min(pg_rates):,.0f}, max {max(pg_rates):,.0f})")

    worker = subprocess.Popen(
        [python(), "-m", "celery", "-A", "odr", "worker", "-c", "1", "-l", "WARNING", "--without-gossip",
         "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    rates, p50s, p95s, p99s, errors = [], [], [], [], 0
    try:
        with Server(env) as a, Server(env) as b:
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
                json.dump({"ports": [a.port, b.port], "clients": clients, "seconds": SECONDS}, spec)
            for _ in range(RUNS):
                done = subprocess.run(
                    [sys.executable, str(ROOT / "bench" / "loadgen_filing.py"), spec.name],
                    capture_output=True, text=True, check=True,
                )  # fmt: skip
                result = json.loads(done.stdout)
                rates.append(result["filed"] / result["seconds"])
                p50s.append(_pct(result["latencies_ms"], 0.5))
                p95s.append(_pct(result["latencies_ms"], 0.95))
                p99s.append(_pct(result["latencies_ms"], 0.99))
                errors += result["errors"]
            os.unlink(spec.name)
            time.sleep(2)  # let the worker drain the notices the filings queued
            web_rss = [_rss_mb(a.process.pid), _rss_mb(b.process.pid)]
            worker_rss = _rss_mb(worker.pid)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()

    rate = statistics.median(rates)
    lines.append(
        f"filing through the API: median {rate:,.1f} cases/s (min {min(rates):,.1f}, max {max(rates):,.1f}); "
        f"latency p50 {statistics.median(p50s):.0f} ms, p95 {statistics.median(p95s):.0f} ms, "
        f"p99 {statistics.median(p99s):.0f} ms; {errors} errors"
    )
    share = rate / pg * 100 if pg else 0
    lines.append(f"filing / pgbench: {share:.1f} % (target >= 40 %: {'met' if share >= 40 else 'NOT met'})")
    lines.append(
        f"resident memory after the load: web processes {web_rss[0]:.0f} MB and {web_rss[1]:.0f} MB "
        f"(target < 150 MB: {'met' if max(web_rss) < 150 else 'NOT met'}), Celery worker (main + 1 child) "
        f"{worker_rss:.0f} MB"
    )
    return lines
