"""Load generator for the filing benchmark, run as its own process by ``bench_filing``.

``loadgen_filing.py SPEC.json``: SPEC has ``ports`` (web processes, clients spread over them),
``clients`` (``[{token, merchant}]``, one thread and keep-alive connection each) and ``seconds``. Each
client files cases back to back through ``POST /api/v1/cases/`` for that long. Prints one JSON object:
``{filed, errors, seconds, latencies_ms, statuses}``.
"""

import datetime as dt
import http.client
import json
import sys
import threading
import time


def body(merchant: int, n: int) -> bytes:
    return json.dumps(
        {
            "merchant": merchant,
            "order": {
                "reference": f"LOAD-{n}",
                "date": (dt.date.today() - dt.timedelta(days=10)).isoformat(),
                "platform": "LoadMarket",
                "product": "Headphones",
                "price": {"amount": "89.90", "currency": "EUR"},
            },
            "category": "non_delivery",
            "description": "The parcel never arrived.",
            "remedy": "refund",
            "claim": {"amount": "89.90", "currency": "EUR"},
            "language": "en",
            "submit": True,
        }
    ).encode()


def client(port: int, token: str, merchant: int, until: float, out: dict, lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json", "Connection": "keep-alive"}
    latencies, statuses, n = [], {}, 0
    while time.monotonic() < until:
        n += 1
        start = time.perf_counter()
        try:
            conn.request("POST", "/api/v1/cases/", body=body(merchant, n), headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except (http.client.HTTPException, OSError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status = 0
        latencies.append((time.perf_counter() - start) * 1000)
        statuses[status] = statuses.get(status, 0) + 1
    conn.close()
    with lock:
        out["latencies_ms"].extend(latencies)
        for status, count in statuses.items():
            out["statuses"][str(status)] = out["statuses"].get(str(status), 0) + count


def main(argv: list[str]) -> int:
    with open(argv[1]) as f:
        spec = json.load(f)
    out = {"latencies_ms": [], "statuses": {}}
    lock = threading.Lock()
    start = time.monotonic()
    until = start + spec["seconds"]
    threads = [
        threading.Thread(
            target=client,
            args=(spec["ports"][i % len(spec["ports"])], c["token"], c["merchant"], until, out, lock),
        )
        for i, c in enumerate(spec["clients"])
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["seconds"] = time.monotonic() - start
    out["filed"] = out["statuses"].get("201", 0)
    out["errors"] = sum(n for s, n in out["statuses"].items() if s != "201")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
