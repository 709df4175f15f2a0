"""Integration tests run against the real PostgreSQL and Redis with real Celery worker and ASGI processes."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import TEST_EVIDENCE_KEY

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
    # With DATABASE_URL set and DEBUG off the settings refuse to load without evidence keys; the processes
    # use the test's own (tests/conftest.py), so what one seals (evidence, webhook secrets) the others open.
    env["ODR_EVIDENCE_KEYS"] = TEST_EVIDENCE_KEY
    hosts = [h for h in env.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",") if h.strip()]
    env["ALLOWED_HOSTS"] = ",".join(hosts + [h for h in ("127.0.0.1", "localhost") if h not in hosts])
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


def wait_db_sessions_closed(application_name: str, timeout: float = 15) -> None:
    """Wait until the sessions of stopped processes (named ``application_name``) have left the test
    database: a process's session outlives it by a moment, and the database must be flushed and dropped."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                [application_name],
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AsgiServer:
    """One ``uvicorn odr.asgi:application`` process on a free port of 127.0.0.1; its output goes to ``log``."""

    def __init__(self, name: str, env: dict, log_dir: Path):
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"uvicorn-{name}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "odr.asgi:application", "--host", "127.0.0.1",
                 "--port", str(self.port), "--lifespan", "off", "--no-access-log", "--timeout-graceful-shutdown", "5"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip

    def output(self, last: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-last:]

    def wait_ready(self, timeout: float = 30) -> None:
        """Until GET /healthz answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn {self.name} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"uvicorn {self.name} did not answer /healthz in {timeout} s:\n{self.output()}")


class AsgiServers:
    """ASGI server processes started for one test and stopped after it (SIGTERM, SIGKILL if they hang)."""

    #: The servers' database sessions are named, so that stopping them can wait for those sessions only.
    APPLICATION_NAME = "odr-test-asgi"

    def __init__(self, env: dict, log_dir: Path):
        self.env = dict(env)
        # The browser tests' conftest allows the ORM in async code for the test process only.
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        self.env["DATABASE_URL"] += f"?application_name={self.APPLICATION_NAME}"
        self.log_dir = log_dir
        self.servers: list[AsgiServer] = []

    def start(self, *names: str, **extra_env: str) -> list[AsgiServer]:
        """Start one process per name (all at once) with ``extra_env`` added; return them once all answer."""
        started = [AsgiServer(name, {**self.env, **extra_env}, self.log_dir) for name in names]
        self.servers.extend(started)
        for server in started:
            server.wait_ready()
        return started

    def stop(self) -> None:
        for server in self.servers:
            if server.proc.poll() is None:
                server.proc.send_signal(signal.SIGTERM)
        for server in self.servers:
            try:
                server.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                server.proc.wait(timeout=10)
        self.servers.clear()
        wait_db_sessions_closed(self.APPLICATION_NAME)


@pytest.fixture
def asgi_servers(service_env, tmp_path):
    """``asgi_servers.start("a", "b", **env)``: uvicorn processes on the test database and Redis."""
    servers = AsgiServers(service_env, tmp_path)
    yield servers
    servers.stop()
