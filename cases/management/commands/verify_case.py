"""``manage.py verify_case REF``: recompute a case's hash chain; exit 0 with "ok" when it holds."""

from django.core.management.base import BaseCommand, CommandError

from cases.events import chain_verify
from cases.models import Case


class Command(BaseCommand):
    help = "Verify the hash chain of a case's event log."

    def add_arguments(self, parser):
        parser.add_argument("reference", help="the case reference, e.g. ODR-2026-000042")

    def handle(self, *args, reference, **opts):
        case = Case.objects.filter(reference=reference).first()
        if case is None:
            raise CommandError(f"no case {reference}")
        report = chain_verify(case)
        if not report.ok:
            raise CommandError(f"{reference}: event {report.bad_seq} does not verify: {report.problem}")
        self.stdout.write(f"ok {reference}: {report.count} events")
