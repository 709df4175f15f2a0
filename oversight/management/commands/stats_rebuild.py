"""``manage.py stats_rebuild``: recompute the statistics' summary rows from the cases (after ``seed_bulk``
or a restore), then rescore the merchants and run the risk tests (``--no-scan`` to skip that)."""

import time

from django.core.management.base import BaseCommand

from oversight import risk, summaries


class Command(BaseCommand):
    help = "Recompute the statistics' summaries from the cases table."

    def add_arguments(self, parser):
        parser.add_argument("--no-scan", action="store_true", help="do not run the risk scan afterwards")

    def handle(self, *args, no_scan=False, **opts):
        started = time.monotonic()
        counts = summaries.rebuild()
        self.stdout.write(
            f"stats_rebuild: {counts['cells']} cells, {counts['merchant_cells']} merchant cells, "
            f"{counts['durations']} duration rows, {counts['merchants']} merchants "
            f"in {time.monotonic() - started:.1f} s"
        )
        if not no_scan:
            started = time.monotonic()
            alerts = risk.scan()
            self.stdout.write(f"risk scan: {len(alerts)} new alerts in {time.monotonic() - started:.1f} s")
