"""Helpers for the benchmarks that need a real server: the environment, management commands as
subprocesses, a uvicorn process on a free port, and a keep-alive HTTP client with timings."""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"


def python() -> str:
    candidate = BIN / "python"
    return str(candidate) if candidate.exists() else sys.executable


def app_env(database_url: str, **extra) -> dict:
    """The environment a production-like process needs (DEBUG off) against ``database_url``."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DEBUG="0",
        SECRET_KEY=os.environ.get(
            "ODR_BENCH_SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
        ),
        ODR_EVIDENCE_KEYS="t:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVoxMjM0NTY=",
        REDIS_URL=os.environ.get("ODR_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
        ODR_CACHE_PREFIX="odr-bench",
        ODR_CHANNEL_PREFIX="odr-bench",
        ODR_EMBEDDED_SWEEP="0",
        DJANGO_SETTINGS_MODULE="odr.settings",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def manage(args: list[str], env: dict, *, timeout: float | None = None) -> str:
    """``manage.py <args>`` in a subprocess; its output, or RuntimeError with it when it fails."""
    done = subprocess.run(
        [python(), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``uvicorn odr.asgi:application`` in its own process (one worker); a context manager that stops it."""

    def __init__(self, env: dict, *, port: int | None = None, start_timeout: float = 60.0):
        self.env = env
        self.port = port or free_port()
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="odr-bench-server-", suffix=".log", delete=False)  # noqa: SIM115

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self) -> None:
        uvicorn = BIN / "uvicorn"
        command = [str(uvicorn)] if uvicorn.exists() else [python(), "-m", "uvicorn"]
        command += [
            "odr.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--lifespan",
            "off",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.output()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                response = conn.getresponse()
                response.read()
                conn.close()
                if response.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the server did not answer /healthz in {self.start_timeout:.0f} s:\n{self.output()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # The server runs in its own session: signal its group (its id), so nothing it started survives.
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass

    def output(self, tail: int = 4000) -> str:
        try:
            return Path(self.log.name).read_text(errors="replace")[-tail:]
        except OSError:
            return ""


class Client:
    """One keep-alive connection; ``get`` returns (status, body bytes, milliseconds to the last byte)."""

    def __init__(self, port: int, token: str | None = None):
        self.port = port
        self.headers = {"Accept": "application/json", "Connection": "keep-alive"}
        if token:
            self.headers["Authorization"] = f"Token {token}"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def get(self, path: str) -> tuple[int, bytes, float]:
        for attempt in (1, 2):
            start = time.perf_counter()
            try:
                self.conn.request("GET", path, headers=self.headers)
                response = self.conn.getresponse()
                body = response.read()
                return response.status, body, (time.perf_counter() - start) * 1000
            except (http.client.HTTPException, ConnectionError):
                # The server closed the idle connection: reconnect once (that request is not counted).
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get_json(self, path: str):
        status, body, _ms = self.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
        return json.loads(body)

    def close(self) -> None:
        self.conn.close()


#: The PostgreSQL server the benchmarks' own databases live on.
PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres"}


def psql(sql: str, db: str = "postgres") -> str:
    """One SQL statement through ``psql`` on ``PG``; its unaligned output."""
    done = subprocess.run(
        ["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", db, "-tAc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def database_url(db: str) -> str:
    return f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{db}"


def ensure_database(db: str, env: dict) -> None:
    """Create ``db`` on ``PG`` if missing, and migrate it."""
    if psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}'") != "1":
        psql(f'CREATE DATABASE "{db}"')
    manage(["migrate", "--noinput", "-v0"], env, timeout=600)
