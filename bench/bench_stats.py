"""Statistics and case lists through the API on PostgreSQL at a million cases, beside the plain GROUP BY.

Issue 10's figures: the operator's overview and merchant table answer at a median under 100 ms and a 95th
percentile under 250 ms through the API, a merchant's and a consumer's case list under 50 ms median, with
``ODR_BENCH_CASES`` cases (default 1,000,000) in the database ``ODR_BENCH_DB`` (default ``odr_bench``) on the
PostgreSQL server at ``ODR_BENCH_PG`` (default ``postgres://postgres@127.0.0.1:5432``).

The database is created and migrated if missing, topped up with ``seed_bulk`` only when it holds fewer
cases than asked (so later runs reuse it: a million takes about ten minutes), and its summaries rebuilt
(``stats_rebuild``) when they do not match the cases. A real server (uvicorn, one worker, DEBUG off) answers
the requests of this process, sequentially over one keep-alive connection: ``ODR_BENCH_REQUESTS`` (default
200) after 5 to warm up, per endpoint (fewer, at least 20, past ``ODR_BENCH_ENDPOINT_SECONDS``, default 90).
Beside each overview: the same overview computed from the cases
table (``stats.overview(source="cases")``) and raw GROUP BYs, timed in a worker process on the same
database (this process's own Django database may be another one), ``ODR_BENCH_COMPARE_RUNS`` times
(default 5).

Run: ``make bench``, or ``ODR_BENCH_CASES=20000 ODR_BENCH_DB=odr_bench_small .venv/bin/python bench/run.py``.
"""

import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
JSON_MARK = "@@bench-json "

OVERVIEW_TARGET = (100.0, 250.0)  # median, p95 (ms)
LIST_TARGET = 50.0  # median (ms)


def _config() -> dict:
    server = os.environ.get("ODR_BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    name = os.environ.get("ODR_BENCH_DB", "odr_bench")
    return {
        "cases": int(os.environ.get("ODR_BENCH_CASES", "1000000")),
        "server": server,
        "name": name,
        "url": f"{server}/{name}",
        "requests": int(os.environ.get("ODR_BENCH_REQUESTS", "200")),
        "compare_runs": int(os.environ.get("ODR_BENCH_COMPARE_RUNS", "5")),
        "budget": float(os.environ.get("ODR_BENCH_ENDPOINT_SECONDS", "90")),
    }


# --- figures ------------------------------------------------------------------------------------------


def _pct(samples, fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _summary(samples) -> dict:
    return {
        "median": statistics.median(samples),
        "p95": _pct(samples, 0.95),
        "min": min(samples),
        "max": max(samples),
        "n": len(samples),
    }


def _line(label: str, s: dict, *, width: int = 44) -> str:
    return (
        f"{label:<{width}} median {s['median']:8.1f} ms  p95 {s['p95']:8.1f} ms  "
        f"min {s['min']:7.1f}  max {s['max']:8.1f}  (n={s['n']})"
    )


def _verdict(s: dict, median: float, p95: float | None) -> str:
    met = s["median"] < median and (p95 is None or s["p95"] < p95)
    target = f"median < {median:.0f} ms" + (f", p95 < {p95:.0f} ms" if p95 is not None else "")
    return f"target {target}: {'met' if met else 'NOT met'}"


# --- the worker: runs with DATABASE_URL set to the bench database ------------------------------------


def _worker(env: dict, command: str, payload: dict | None = None) -> dict:
    from bench._server import python

    done = subprocess.run(
        [python(), str(Path(__file__).resolve()), "worker", command, json.dumps(payload or {})],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench worker {command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(JSON_MARK):
            return json.loads(line[len(JSON_MARK) :])
    raise RuntimeError(f"bench worker {command} printed no result:\n{done.stdout}\n{done.stderr}")


def _w_status(_payload: dict) -> dict:
    from django.db import connection
    from django.db.models import Sum

    from oversight.models import (
        BreachCell,
        CaseCell,
        DurationCell,
        MerchantBreachCell,
        MerchantCell,
        MerchantResponseCell,
        MerchantStats,
    )
    from oversight.summaries import filed_cases

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM cases_case")
        cases = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM accounts_user")
        users = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM accounts_merchantorganisation")
        merchants = cursor.fetchone()[0]
    tables = {
        "cases_case": cases,
        "accounts_user": users,
        "accounts_merchantorganisation": merchants,
        **{
            m._meta.db_table: m.objects.count()
            for m in (CaseCell, DurationCell, BreachCell, MerchantCell, MerchantBreachCell, MerchantStats)
        },
        MerchantResponseCell._meta.db_table: MerchantResponseCell.objects.count(),
    }
    return {
        "cases": cases,
        "filed": filed_cases().count(),
        "cell_total": int(CaseCell.objects.aggregate(n=Sum("cases"))["n"] or 0),
        "merchant_total": int(MerchantStats.objects.aggregate(n=Sum("cases"))["n"] or 0),
        # Summary tables added since the last rebuild are empty: this asks for one then.
        "merchant_cell_total": int(MerchantCell.objects.aggregate(n=Sum("cases"))["n"] or 0),
        "tables": tables,
    }


def _w_actors(_payload: dict) -> dict:
    from django.db.models import Count, Sum
    from rest_framework.authtoken.models import Token

    from accounts.models import Role, User
    from cases.models import Case
    from oversight.models import CaseCell, MerchantStats

    operator, _ = User.objects.get_or_create(
        email="bench-operator@bench.odr",
        defaults={"role": Role.OPERATOR, "display_name": "Bench operator", "country": "IE"},
    )
    top = MerchantStats.objects.order_by("-cases", "merchant_id").select_related("merchant").first()
    if top is None:
        raise RuntimeError("no merchant statistics: stats_rebuild did not run?")
    sizes = MerchantStats.objects.filter(cases__gt=0).order_by("cases", "merchant_id")
    typical = sizes[sizes.count() // 2]  # the median merchant by cases
    merchant_user = User.objects.filter(organisation_id=top.merchant_id, role=Role.MERCHANT).order_by("id").first()
    if merchant_user is None:
        merchant_user = User.objects.create_user(
            f"bench-merchant-{top.merchant_id}@bench.odr",
            role=Role.MERCHANT,
            organisation=top.merchant,
            country=top.merchant.country,
            display_name="Bench merchant",
        )
    busiest = (
        Case.objects.filter(consumer__role=Role.CONSUMER)
        .values("consumer_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "consumer_id")
        .first()
    )
    consumer = User.objects.get(pk=busiest["consumer_id"])
    pair = (
        CaseCell.objects.values("consumer_country", "merchant_country")
        .annotate(n=Sum("cases"))
        .order_by("-n", "consumer_country", "merchant_country")
        .first()
    )
    today = dt.date.today().replace(day=1)
    end = (today - dt.timedelta(days=1)).replace(day=1)  # the last full month
    start = end
    for _ in range(11):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return {
        "operator": Token.objects.get_or_create(user=operator)[0].key,
        "merchant": {
            "id": top.merchant_id,
            "name": top.merchant.legal_name,
            "cases": top.cases,
            "user": merchant_user.pk,
            "token": Token.objects.get_or_create(user=merchant_user)[0].key,
            "visible": Case.objects.filter(merchant_id=top.merchant_id).exclude(status="draft").count(),
        },
        "typical_merchant": {"id": typical.merchant_id, "cases": typical.cases},
        "consumer": {
            "id": consumer.pk,
            "cases": busiest["n"],
            "token": Token.objects.get_or_create(user=consumer)[0].key,
        },
        "pair": [pair["consumer_country"], pair["merchant_country"], pair["n"]],
        "months": [start.strftime("%Y-%m"), end.strftime("%Y-%m")],
    }


def _filters(params: dict):
    from oversight.api.stats import filters_from

    return filters_from(params)


def _raw_where(params: dict) -> tuple[str, list]:
    from oversight.stats import next_month

    where, args = ["status <> 'draft'", "filed_at IS NOT NULL"], []
    f = _filters(params)
    if f.start:
        where.append("filed_at >= %s")
        args.append(dt.datetime.combine(f.start, dt.time(), dt.UTC))
    if f.end:
        where.append("filed_at < %s")
        args.append(dt.datetime.combine(next_month(f.end), dt.time(), dt.UTC))
    for column in ("consumer_country", "merchant_country"):
        if getattr(f, column):
            where.append(f"{column} = %s")
            args.append(getattr(f, column))
    if f.merchant:
        where.append("merchant_id = %s")
        args.append(f.merchant)
    return " AND ".join(where), args


def _timed(fn, runs: int) -> list[float]:
    fn()  # warm-up, not counted
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _w_compare(payload: dict) -> dict:
    from django.core.serializers.json import DjangoJSONEncoder
    from django.db import connection

    from oversight import stats
    from oversight.api.stats import overview_json

    runs = payload["runs"]

    def sql(query, args=()):
        def go():
            with connection.cursor() as cursor:
                cursor.execute(query, args)
                return cursor.fetchall()

        return go

    out = {"overviews": {}, "merchants": {}}
    for label, params in payload["overviews"].items():
        f = _filters(params)
        where, args = _raw_where(params)
        result = overview_json(stats.overview(f, source="cases"))
        out["overviews"][label] = {
            "cases": _timed(lambda f=f: stats.overview(f, source="cases"), runs),
            "summary": _timed(lambda f=f: stats.overview(f), runs),
            "status": _timed(sql(f"SELECT status, count(*) FROM cases_case WHERE {where} GROUP BY status", args), runs),
            "pair": _timed(
                sql(
                    "SELECT consumer_country, merchant_country, count(*) FROM cases_case "
                    f"WHERE {where} GROUP BY consumer_country, merchant_country",
                    args,
                ),
                runs,
            ),
            "result": json.loads(json.dumps(result, cls=DjangoJSONEncoder)),
        }
    plain = (
        "SELECT merchant_id, count(*) AS n FROM cases_case WHERE status <> 'draft' AND filed_at IS NOT NULL "
        "GROUP BY merchant_id ORDER BY n DESC, merchant_id LIMIT 50"
    )
    out["merchants"]["plain"] = _timed(sql(plain), runs)
    out["merchants"]["plain_top"] = [list(r) for r in sql(plain)()]
    for ordering in ("risk", "cases"):
        keys = stats.MERCHANT_ORDERINGS[ordering]
        out["merchants"][ordering] = _timed(
            lambda k=keys: stats.merchant_json(stats.merchant_rows().order_by(*k)[:50]), runs
        )
    return out


def _w_explain(payload: dict) -> dict:
    """EXPLAIN ANALYZE of the case lists' page query, as the selectors build it."""
    from django.db import connection

    from accounts.models import User
    from cases.selectors import case_list_for

    plans = {}
    for label, user_id in payload["users"].items():
        qs = case_list_for(User.objects.get(pk=user_id))[:51]
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plans[label] = [r[0] for r in cursor.fetchall()]
    return plans


WORKER_COMMANDS = {"status": _w_status, "actors": _w_actors, "compare": _w_compare, "explain": _w_explain}


def _worker_main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")
    import django

    django.setup()
    command, payload = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    result = WORKER_COMMANDS[command](payload)
    print(JSON_MARK + json.dumps(result, default=str))
    return 0


# --- the benchmark ------------------------------------------------------------------------------------


def _ensure_database(cfg: dict) -> bool:
    import psycopg

    with psycopg.connect(f"{cfg['server']}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["name"]]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{cfg["name"]}"')
    return not exists


def _vacuum(cfg: dict) -> None:
    import psycopg

    with psycopg.connect(cfg["url"], autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")


def _prepare(cfg: dict, env: dict, lines: list[str]) -> dict:
    from bench._server import manage

    if _ensure_database(cfg):
        lines.append(f"created database {cfg['name']}")
    manage(["migrate", "--noinput", "-v0"], env)
    status = _worker(env, "status")
    if status["cases"] < cfg["cases"]:
        missing = cfg["cases"] - status["cases"]
        started = time.monotonic()
        manage(["seed_bulk", "--cases", str(missing)], env)
        seeded = time.monotonic() - started
        started = time.monotonic()
        _vacuum(cfg)
        lines.append(
            f"seeded {missing:,} cases with seed_bulk in {seeded:.0f} s "
            f"(VACUUM ANALYZE {time.monotonic() - started:.0f} s)"
        )
        status = _worker(env, "status")
    else:
        lines.append(f"reusing {cfg['name']}: {status['cases']:,} cases (>= {cfg['cases']:,} asked)")
    if any(status[total] != status["filed"] for total in ("cell_total", "merchant_total", "merchant_cell_total")):
        started = time.monotonic()
        out = manage(["stats_rebuild"], env)
        lines.append(f"stats_rebuild in {time.monotonic() - started:.0f} s: " + " / ".join(out.strip().splitlines()))
        _vacuum(cfg)
        status = _worker(env, "status")
    else:
        lines.append("summaries match the cases (no rebuild)")
    if status["cell_total"] != status["filed"]:
        raise RuntimeError(f"summaries still disagree with the cases: {status}")
    return status


def _measure(client, path: str, n: int, budget: float) -> tuple[dict, bytes]:
    """``n`` timed requests after 5 to warm up; fewer (at least 20) when they take over ``budget`` seconds."""
    body = b""
    for _ in range(5):
        status, body, _ms = client.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
    samples = []
    started = time.monotonic()
    for i in range(n):
        if i >= 20 and time.monotonic() - started > budget:
            break
        status, body, ms = client.get(path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:500]!r}")
        samples.append(ms)
    return _summary(samples), body


def _differences(api: dict, cases: dict) -> list[str]:
    skip = {"generated_at", "source"}
    return sorted(k for k in set(api) | set(cases) if k not in skip and api.get(k) != cases.get(k))


def run() -> list[str]:
    from bench._server import Client, Server, app_env

    cfg = _config()
    env = app_env(cfg["url"], ODR_THROTTLE_USER="1000000/min")
    lines = [
        f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        f"database: {cfg['url']} (target {cfg['cases']:,} cases)",
    ]
    status = _prepare(cfg, env, lines)
    actors = _worker(env, "actors")
    lines.append(
        "rows: "
        + ", ".join(f"{table} {n:,}" for table, n in status["tables"].items())
        + f"; filed cases {status['filed']:,}"
    )
    merchant, consumer = actors["merchant"], actors["consumer"]
    typical = actors["typical_merchant"]
    pair = actors["pair"]
    start, end = actors["months"]
    lines.append(
        f"largest merchant #{merchant['id']} ({merchant['cases']:,} filed cases), median merchant "
        f"#{typical['id']} ({typical['cases']:,}); consumer #{consumer['id']} "
        f"({consumer['cases']} cases); largest pair {pair[0]}-{pair[1]} ({pair[2]:,}); 12 months {start}..{end}"
    )
    overviews = {
        "overview (summary, no filter)": {},
        f"overview from={start} to={end}": {"from": start, "to": end},
        f"overview {pair[0]}->{pair[1]}": {"consumer_country": pair[0], "merchant_country": pair[1]},
        f"overview merchant=#{typical['id']} (median merchant)": {"merchant": str(typical["id"])},
        f"overview merchant=#{merchant['id']} (largest merchant)": {"merchant": str(merchant["id"])},
    }
    n = cfg["requests"]
    http_results, api_bodies = {}, {}
    with Server(env) as server:
        lines.append(f"server: uvicorn odr.asgi:application, 1 worker, DEBUG off, port {server.port}")
        operator = Client(server.port, actors["operator"])
        try:
            for label, params in overviews.items():
                path = "/api/v1/stats/overview/" + (f"?{urlencode(params)}" if params else "")
                http_results[label], body = _measure(operator, path, n, cfg["budget"])
                api_bodies[label] = json.loads(body)
            for ordering in ("risk", "cases"):
                path = f"/api/v1/stats/merchants/?ordering={ordering}"
                http_results[f"merchant table ordering={ordering}"], body = _measure(operator, path, n, cfg["budget"])
                if len(json.loads(body)["results"]) != min(50, status["tables"]["oversight_merchantstats"]):
                    raise RuntimeError(f"{path}: not a full first page")
        finally:
            operator.close()
        for label, who in (("merchant's case list", merchant), ("consumer's case list", consumer)):
            client = Client(server.port, who["token"])
            try:
                http_results[label], body = _measure(client, "/api/v1/cases/", n, cfg["budget"])
            finally:
                client.close()
            if not json.loads(body)["results"]:
                raise RuntimeError(f"{label}: empty first page")

    compare = _worker(
        env, "compare", {"overviews": overviews, "runs": cfg["compare_runs"]}
    )  # after the server stopped: the two do not share the cores
    lines.append(
        f"-- through the API (up to {n} sequential requests each after 5 to warm up; one keep-alive connection)"
    )
    for label in overviews:
        s = http_results[label]
        lines.append(_line(label, s) + "  " + _verdict(s, *OVERVIEW_TARGET))
        c = compare["overviews"][label]
        lines.append(_line("   same overview by plain GROUP BY (in-process)", _summary(c["cases"])))
        lines.append(_line("   same overview from summaries (in-process)", _summary(c["summary"])))
        lines.append(_line("   raw GROUP BY status", _summary(c["status"])))
        lines.append(_line("   raw GROUP BY consumer/merchant country", _summary(c["pair"])))
        diff = _differences(api_bodies[label], c["result"])
        lines.append("   API figures equal the plain GROUP BY's: " + ("yes" if not diff else f"NO, differ in {diff}"))
    for ordering in ("risk", "cases"):
        label = f"merchant table ordering={ordering}"
        s = http_results[label]
        lines.append(_line(label, s) + "  " + _verdict(s, *OVERVIEW_TARGET))
        lines.append(_line("   same page from MerchantStats (in-process)", _summary(compare["merchants"][ordering])))
    lines.append(
        _line("   plain GROUP BY merchant_id ORDER BY count LIMIT 50", _summary(compare["merchants"]["plain"]))
    )
    for label in ("merchant's case list", "consumer's case list"):
        s = http_results[label]
        lines.append(_line(label, s) + "  " + _verdict(s, LIST_TARGET, None))
    lines.append(
        f"   (merchant #{merchant['id']} sees {merchant['visible']:,} cases; consumer sees {consumer['cases']})"
    )
    if os.environ.get("ODR_BENCH_EXPLAIN"):
        plans = _worker(env, "explain", {"users": {"consumer": consumer["id"], "merchant": merchant["user"]}})
        for label, plan in plans.items():
            lines.append(f"-- EXPLAIN ANALYZE {label}'s case list page")
            lines.extend(f"   {row}" for row in plan)
    return lines


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        raise SystemExit(_worker_main(sys.argv[2:]))
    sys.path.insert(0, str(ROOT))
    print("\n".join(run()))
