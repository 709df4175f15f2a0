"""Chat fan-out: 500 rooms of three plus one room of 100 across two ASGI processes, beside a bare websockets server.

Issue 10's figure: messages delivered per second and delivery latency in the case chat, with 1,600 websockets
(``ODR_BENCH_CHAT_ROOMS`` joint rooms of three members, default 500: the consumer, a merchant user and the
mediator; and one joint room of ``ODR_BENCH_CHAT_BIG`` members, default 100: the consumer, the mediator
and 98 users of the merchant's organisation), half of each room's members on each of two
``uvicorn odr.asgi:application`` processes (one worker each, DEBUG off) sharing the channels-redis pub/sub layer.
Target on the 2-core machine: the platform delivers at least 30 % of the ceiling's deliveries a second with
a 99th percentile latency under 100 ms.

The ceiling is ``bench/ws_ceiling.py``: a bare broadcast server written with ``websockets`` (rooms in
memory, one process: in-memory rooms cannot span processes). The load generator (``bench/loadgen_chat.py``)
is a separate process holding every websocket; each message carries its sending time, and a delivery is
the message's arrival at a member (the sender gets its own copy from both servers). The ceiling is measured
first, then the platform; each connects once and runs ``ODR_BENCH_CHAT_RUNS`` times (default 3) on the same
connections, each phase ``ODR_BENCH_CHAT_SECONDS`` long (default 6):

* ``max`` (both): closed loop, 64 messages always under way, taken from every sender in turn (each member
  of the rooms of three, five members of the room of 100): the most deliveries a second, and the latency
  at that load;
* the platform at half its own ``max`` (open loop, every sender at one rate): the latency at a load it
  sustains;
* the platform at 30 % of the ceiling's median ``max`` (open loop): the target. It stops early, marked
  overloaded, once a message is 1 s late or more messages are under way than a 100 ms mean latency allows.

Between phases the load generator waits for late deliveries and until the servers are idle. Figures: each
run, the median and min-max over the runs, the resident memory (VmRSS) of each uvicorn process after each
phase, and how many errors (tracebacks) the servers logged.

The data live in the database ``ODR_BENCH_CHAT_DB`` (default ``odr_bench_chat``, created and migrated if
missing, reused when present) on ``ODR_BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``); the
cache, tickets and channel layer in ``ODR_BENCH_CHAT_REDIS`` (default ``redis://127.0.0.1:6379/9``, flushed
at the start). The servers' chat rate limit is lifted (``ODR_CHAT_RATE``).

Run just this one: ``.venv/bin/python -c "import bench.run, bench.bench_chat as b; print(*b.run(), sep='\\n')"``
(small: ``ODR_BENCH_CHAT_ROOMS=20 ODR_BENCH_CHAT_BIG=10 ODR_BENCH_CHAT_RUNS=1``).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_SHARE = 0.30
TARGET_P99_MS = 100.0
BIG_SENDERS = 5
MEDIATORS = 10


def _config() -> dict:
    server = os.environ.get("ODR_BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    name = os.environ.get("ODR_BENCH_CHAT_DB", "odr_bench_chat")
    return {
        "server": server,
        "name": name,
        "url": f"{server}/{name}",
        "redis": os.environ.get("ODR_BENCH_CHAT_REDIS", "redis://127.0.0.1:6379/9"),
        "rooms": int(os.environ.get("ODR_BENCH_CHAT_ROOMS", "500")),
        "big": int(os.environ.get("ODR_BENCH_CHAT_BIG", "100")),
        "runs": int(os.environ.get("ODR_BENCH_CHAT_RUNS", "3")),
        "seconds": float(os.environ.get("ODR_BENCH_CHAT_SECONDS", "6")),
    }


def _env(cfg: dict) -> dict:
    from bench._server import app_env

    return app_env(
        cfg["url"],
        REDIS_URL=cfg["redis"],
        SECRET_KEY="bench",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        ODR_CACHE_PREFIX="odr-bench-chat",
        ODR_CHANNEL_PREFIX="odr-bench-chat",
        ODR_CHAT_RATE="1000000",
        ODR_CHAT_RATE_SECONDS="10",
        ODR_WS_TICKET_SECONDS="3600",
        DB_CONN_MAX_AGE="600",
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="INFO",
    )


# --- the data and the plans (in a subprocess on the bench database) ---------------------------------
def _ensure_database(cfg: dict) -> None:
    import psycopg

    with psycopg.connect(f"{cfg['server']}/postgres", autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["name"]]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{cfg["name"]}"')


def _setup(outdir: str, rooms: int, big: int, runs: int) -> None:
    """Migrate, make the rooms' cases and people unless present, and write one plan (tickets) per run."""
    import django

    django.setup()
    import uuid
    from decimal import Decimal
    from types import SimpleNamespace

    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import MerchantOrganisation, Role, User
    from cases.models import Case
    from mediation.tickets import ticket_issue

    started = time.monotonic()
    call_command("migrate", interactive=False, verbosity=0)
    tag = f"bench-chat-{rooms}-{big}"
    cases = list(Case.objects.filter(order_platform=tag).order_by("reference"))
    reused = bool(cases)
    if not cases:
        run = uuid.uuid4().hex[:6]
        unusable = make_password(None)
        now = timezone.now()

        def person(kind, i, role, org=None):
            return User(
                email=f"{kind}-{run}-{i:05d}@bench-chat.odr",
                password=unusable,
                role=role,
                display_name=f"{kind.title()} {i}",
                country="DE",
                time_zone="Europe/Berlin",
                organisation=org,
            )

        with transaction.atomic():
            mediators = User.objects.bulk_create([person("mediator", i, Role.MEDIATOR) for i in range(MEDIATORS)])
            orgs = MerchantOrganisation.objects.bulk_create(
                [
                    MerchantOrganisation(legal_name=f"Bench Chat Shop {run}-{i:05d}", country="FR", time_zone="UTC")
                    for i in range(rooms + 1)
                ]
            )
            merchants = [person("merchant", i, Role.MERCHANT, orgs[i]) for i in range(rooms)]
            merchants += [person("merchant", rooms + i, Role.MERCHANT, orgs[rooms]) for i in range(big - 2)]
            User.objects.bulk_create(merchants, batch_size=2000)
            consumers = User.objects.bulk_create([person("consumer", i, Role.CONSUMER) for i in range(rooms + 1)])
            rows = []
            for i in range(rooms + 1):
                rows.append(
                    Case(
                        reference=f"BCH-{run}-{i:05d}" if i < rooms else f"BCH-{run}-BIG",
                        status="mediation",
                        consumer=consumers[i],
                        merchant=orgs[i],
                        mediator=mediators[i % MEDIATORS],
                        consumer_country="DE",
                        merchant_country="FR",
                        category="non_delivery",
                        remedy="refund",
                        description="Bench chat case.",
                        order_reference=f"BC-{i:06d}",
                        order_date=now.date(),
                        order_platform=tag,
                        order_product="Headphones",
                        order_price_amount=Decimal("80.00"),
                        order_price_currency="EUR",
                        claim_amount=Decimal("80.00"),
                        claim_currency="EUR",
                        response_position="contest",
                        filed_at=now,
                        responded_at=now,
                    )
                )
            Case.objects.bulk_create(rows)
        cases = list(Case.objects.filter(order_platform=tag).order_by("reference"))
    if len(cases) != rooms + 1 or any(c.status != "mediation" or c.mediator_id is None for c in cases):
        raise RuntimeError(f"{cfg_db_hint()}: {len(cases)} cases tagged {tag}, expected {rooms + 1} in mediation")
    staff = {}
    for user_id, org_id in User.objects.filter(
        organisation_id__in=[c.merchant_id for c in cases], role=Role.MERCHANT, is_active=True
    ).values_list("pk", "organisation_id"):
        staff.setdefault(org_id, []).append(user_id)
    rooms_out, members = [], []
    for case in cases:
        people = [case.consumer_id, case.mediator_id, *sorted(staff.get(case.merchant_id, []))]
        members.append((case.pk, people))
        rooms_out.append(len(people))
    if sorted(rooms_out) != sorted([3] * rooms + [big]):
        raise RuntimeError(f"{cfg_db_hint()}: room sizes {sorted(set(rooms_out))}, expected 3 and {big}")
    for r in range(runs):
        conns = []
        for index, (case_id, people) in enumerate(members):
            for j, user_id in enumerate(people):
                port = "{port_a}" if (index + j) % 2 == 0 else "{port_b}"
                ticket = ticket_issue(SimpleNamespace(pk=user_id))
                url = f"ws://127.0.0.1:{port}/ws/cases/{case_id}/chat/joint/?ticket={ticket}"
                sender = len(people) <= 3 or j < BIG_SENDERS
                conns.append([url, index, sender])
        Path(outdir, f"plan-{r}.json").write_text(json.dumps({"rooms": rooms_out, "conns": conns}))
    print(json.dumps({"reused": reused, "seconds": round(time.monotonic() - started, 1), "rooms": len(members)}))


def cfg_db_hint() -> str:
    return f"database {os.environ.get('DATABASE_URL', '?')} (drop it to start afresh)"


# --- processes ---------------------------------------------------------------------------------
class Ceiling:
    def __init__(self):
        from bench._server import free_port

        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self):
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "ws_ceiling.py"), "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"the ceiling server did not start: {line}")
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def _loadgen(plan: Path, ports: tuple[int, int], pids: list[int], cfg: dict, extra: list[str]) -> dict:
    command = [sys.executable, str(ROOT / "bench" / "loadgen_chat.py"), "--plan", str(plan)]
    command += ["--port-a", str(ports[0]), "--port-b", str(ports[1]), "--duration", str(cfg["seconds"])]
    command += ["--repeat", str(cfg["runs"]), "--pids", *map(str, pids), *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"the load generator failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    result = json.loads(lines[-1])
    if result["connected"] != result["connections"]:
        raise RuntimeError(f"{result['connected']} of {result['connections']} connected: {result['connect_failures']}")
    return result


def _log_counts(server) -> str:
    """How many errors the server logged (tracebacks)."""
    try:
        text = Path(server.log.name).read_text(errors="replace")
    except OSError:
        return "no log"
    return f"{text.count('Traceback')} tracebacks"


# --- figures -----------------------------------------------------------------------------------
def _phases(result: dict, kind: str) -> list[dict]:
    return [p for p in result["phases"] if p["phase"].split("#")[0] == kind]


def _ms(value) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _lat(p: dict) -> str:
    return f"p50 {_ms(p['p50_ms'])} ms p95 {_ms(p['p95_ms'])} ms p99 {_ms(p['p99_ms'])} ms max {_ms(p['max_ms'])} ms"


def _phase_line(p: dict) -> str:
    text = f"{p['deliveries_per_s']:,.0f} deliveries/s ({p['messages_per_s']:,.0f} msg/s), {_lat(p)}"
    if p.get("offered_deliveries_per_s") is not None:
        text = f"offered {p['offered_deliveries_per_s']:,.0f}/s: " + text
    if p["lost"]:
        text += f", {p['lost']:,} of {p['expected']:,} not delivered"
    if p.get("overloaded"):
        text += f", OVERLOADED (stopped after {p['aborted_after_s']} s)"
    return text


def _spread(values: list[float], unit: str = "deliveries/s") -> str:
    med = statistics.median(values)
    return f"{med:,.0f} {unit} median (min {min(values):,.0f} - max {max(values):,.0f}, n={len(values)})"


def _lat_median(phases: list[dict]) -> str:
    def med(key):
        values = [p[key] for p in phases if p[key] is not None]
        return statistics.median(values) if values else None

    return f"p50 {_ms(med('p50_ms'))} ms p95 {_ms(med('p95_ms'))} ms p99 {_ms(med('p99_ms'))} ms"


def run() -> list[str]:
    cfg = _config()
    env = _env(cfg)
    lines = []
    started = time.monotonic()
    _ensure_database(cfg)
    import redis

    redis.Redis.from_url(cfg["redis"]).flushdb()  # the bench's own database: stale groups and tickets go
    with tempfile.TemporaryDirectory(prefix="odr-bench-chat-") as tmp:
        setup_cmd = [sys.executable, "-m", "bench.bench_chat", "--setup", tmp, str(cfg["rooms"]), str(cfg["big"]), "2"]
        done = subprocess.run(setup_cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"setup failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        setup = json.loads(done.stdout.strip().splitlines()[-1])
        plan = json.loads(Path(tmp, "plan-0.json").read_text())
        senders = sum(1 for c in plan["conns"] if c[2])
        lines.append(
            f"{cfg['rooms']} rooms of 3 + 1 room of {cfg['big']} = {len(plan['conns']):,} websockets, "
            f"{senders:,} senders; data {'reused' if setup['reused'] else 'created'} (setup {setup['seconds']} s); "
            f"{cfg['runs']} runs of {cfg['seconds']:g} s phases"
        )
        from bench._server import Server

        with Ceiling() as ceiling:
            cres = _loadgen(Path(tmp, "plan-0.json"), (ceiling.port, ceiling.port), [ceiling.process.pid], cfg, [])
        cmax = _phases(cres, "max")
        target = statistics.median(p["deliveries_per_s"] for p in cmax) * TARGET_SHARE
        with Server(env) as a, Server(env) as b:
            pids = [a.process.pid, b.process.pid]
            extra = ["--paced-fraction", "0.5", "--paced-rate", f"{target:.1f}"]
            pres = _loadgen(Path(tmp, "plan-1.json"), (a.port, b.port), pids, cfg, extra)
            logs = f"A: {_log_counts(a)}; B: {_log_counts(b)}"
    lines.append(
        "platform: 2 x uvicorn odr.asgi:application (1 worker each), channels-redis pub/sub, PostgreSQL; ceiling: "
        "bench/ws_ceiling.py (websockets, 1 process); one load generator process, no compression"
    )
    lines.append(
        f"connect: platform {pres['connect_s']} s + {pres['settle_s']} s until quiet "
        f"({pres['connect_events']:,} presence events); ceiling {cres['connect_s']} s"
    )
    pmax, half, tgt = _phases(pres, "max"), _phases(pres, "half"), _phases(pres, "target")
    for r, (c, p) in enumerate(zip(cmax, pmax, strict=True), start=1):
        lines.append(f"run {r}: ceiling max:  {_phase_line(c)}")
        lines.append(f"run {r}: platform max: {_phase_line(p)}; RSS A {p['rss_mb'][0]} MB, B {p['rss_mb'][1]} MB")
        if r <= len(half):
            lines.append(f"run {r}: platform at half its max: {_phase_line(half[r - 1])}")
        if r <= len(tgt):
            lines.append(f"run {r}: platform at 30 % of the ceiling: {_phase_line(tgt[r - 1])}")
    if pres["errors"] or pres["closed_by_server"]:
        lines.append(
            f"platform: {pres['closed_by_server']:,} of {pres['connections']:,} websockets closed by the server "
            f"(later messages expect that many fewer deliveries); error events {pres['errors'] or 'none'}"
        )
    lines.append(f"server logs: {logs}")
    cvals = [p["deliveries_per_s"] for p in cmax]
    pvals = [p["deliveries_per_s"] for p in pmax]
    lines.append(f"chat (platform, 2 ASGI processes): {_spread(pvals)}, latency at max {_lat_median(pmax)}")
    lines.append(f"chat (bare websockets ceiling, 1 process): {_spread(cvals)}, latency at max {_lat_median(cmax)}")
    if half:
        lines.append(
            f"chat (platform) at half its max: {_spread([p['deliveries_per_s'] for p in half])}, "
            f"latency {_lat_median(half)}"
        )
    ratios = [p / c * 100 for p, c in zip(pvals, cvals, strict=True) if c]
    ratio = statistics.median(ratios)
    sustained = [
        not p["overloaded"]
        and p["lost"] == 0
        and p["deliveries_per_s"] >= 0.95 * p["offered_deliveries_per_s"]
        and p["p99_ms"] is not None
        and p["p99_ms"] < TARGET_P99_MS
        for p in tgt
    ]
    lines.append(
        f"ratio: {ratio:.1f} % of the ceiling (runs {', '.join(f'{x:.1f}' for x in ratios)} %; target >= 30 %): "
        f"{'met' if ratio >= TARGET_SHARE * 100 else 'NOT met'}; "
        f"p99 at 30 % of the ceiling ({target:,.0f} deliveries/s offered) {_lat_median(tgt).split('p99 ')[-1]} "
        f"(target < {TARGET_P99_MS:.0f} ms): {'met' if sustained and all(sustained) else 'NOT met'}"
    )
    rss_a = [p["rss_mb"][0] for p in pres["phases"] if p["rss_mb"][0] is not None]
    rss_b = [p["rss_mb"][1] for p in pres["phases"] if p["rss_mb"][1] is not None]
    if rss_a and rss_b:
        lines.append(
            f"uvicorn RSS after the load: A {max(rss_a):.0f} MB, B {max(rss_b):.0f} MB (largest over the phases)"
        )
    lines.append(f"bench_chat took {time.monotonic() - started:.0f} s")
    return lines


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--setup":
        _setup(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.path.insert(0, str(ROOT))
        print(*run(), sep="\n")
