"""Integration tests run against the real PostgreSQL and Redis with real Celery worker processes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def require_services():
    """PostgreSQL and Redis, or skip (fail with ODR_REQUIRE_SERVICES=1)."""
    missing = []
    if connection.vendor != "postgresql":
        missing.append("PostgreSQL (DATABASE_URL)")
    if not os.environ.get("REDIS_URL"):
        missing.append("Redis (REDIS_URL)")
    if missing:
        message = "needs " + " and ".join(missing)
        if os.environ.get("ODR_REQUIRE_SERVICES") == "1":
            pytest.fail(f"ODR_REQUIRE_SERVICES=1 but this run {message}")
        pytest.skip(message)


def _redis_url_for_tests() -> str:
    """The test run's own Redis database (15), so workers and reruns never see other keys."""
    base = os.environ["REDIS_URL"].rsplit("/", 1)[0]
    return f"{base}/15"


@pytest.fixture
def service_env(transactional_db):
    """Environment for subprocesses: the test database and the test Redis database, flushed."""
    require_services()
    import redis

    url = _redis_url_for_tests()
    redis.Redis.from_url(url).flushdb()
    db = connection.settings_dict
    env = dict(os.environ)
    host, port, user = db["HOST"] or "127.0.0.1", db["PORT"] or 5432, db["USER"] or "postgres"
    env.update(
        DATABASE_URL=f"postgres://{user}@{host}:{port}/{db['NAME']}",
        REDIS_URL=url,
        SECRET_KEY=os.environ.get("SECRET_KEY", "integration-test-secret"),
        PYTHONPATH=str(ROOT),
    )
    yield env
    redis.Redis.from_url(url).flushdb()


class Workers:
    """Celery worker processes started for one test and stopped after it."""

    def __init__(self, env):
        self.env = env
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, concurrency: int = 1) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "odr", "worker", "-n", f"{name}@%h", "-c", str(concurrency),
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-P", "prefork", "-l", "WARNING"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.procs.append(proc)
        self.wait_ready(name)
        return proc

    def wait_ready(self, name: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            out = subprocess.run(
                [sys.executable, "-m", "celery", "-A", "odr", "inspect", "ping", "-d", f"{name}@{os.uname().nodename}"],
                cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=30,
            )  # fmt: skip
            if "pong" in out.stdout:
                return
            time.sleep(0.5)
        raise RuntimeError(f"worker {name} did not answer a ping in {timeout} s")

    def stop(self, sig=signal.SIGTERM) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(sig)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()


@pytest.fixture
def workers(service_env):
    w = Workers(service_env)
    yield w
    w.stop()
