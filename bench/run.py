"""``make bench``: run every benchmark in bench/ and print its figures (median and spread of several runs).

Each benchmark module has ``run() -> list[str]`` returning printable lines: ``bench_chat`` (chat fan-out
across two ASGI processes against a bare websockets server), ``bench_filing`` (concurrent filing through
the API against pgbench's single-row inserts, and the processes' memory), ``bench_lifecycle`` (the
services in-process), ``bench_stats`` (the statistics and case lists at 1,000,000 cases against plain
GROUP BY) and ``bench_sweep`` (100,000 deadlines due at once, two workers). Each uses its own database on
the PostgreSQL at 127.0.0.1:5432 and keeps it for the next run (seeding a million cases is the slow
part: ~10-16 min the first time). ``make bench BENCH=stats`` runs only the modules whose name contains it.
"""

import importlib
import os
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "odr.settings")


def main() -> int:
    import django

    django.setup()
    only = os.environ.get("BENCH", "")
    names = sorted(
        m.name for m in pkgutil.iter_modules([str(ROOT / "bench")]) if m.name.startswith("bench_") and only in m.name
    )
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        for line in module.run():
            print(f"   {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
