"""``make bench``: run every benchmark in bench/ and print its figures (median and spread of several runs).

Each benchmark module has ``run() -> list[str]`` returning printable lines. The suite grows with issue 10
(concurrent filing against pgbench, listing at a million cases, chat fan-out, the deadline sweep).
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
    names = sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "bench")]) if m.name.startswith("bench_"))
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        for line in module.run():
            print(f"   {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
