"""``manage.py erase_party_data --email E``: a data-protection erasure (``cases.services.erasure``)."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from cases.events import chain_verify
from cases.models import Case
from cases.services.erasure import party_data_erase


class Command(BaseCommand):
    help = "Erase a person's data: evidence crypto-shredded, their event payloads emptied, account anonymised."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, email, yes, **opts):
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            raise CommandError(f"no user {email}")
        if not yes and input(f"Erase every personal datum of {email}? This cannot be undone. [y/N] ").lower() != "y":
            raise CommandError("cancelled")
        report = party_data_erase(user=user)
        for reference, erased in report.items():
            verified = chain_verify(Case.objects.get(reference=reference))
            state = "chain verifies" if verified.ok else f"CHAIN BROKEN at {verified.bad_seq}: {verified.problem}"
            self.stdout.write(f"{reference}: {erased['evidence']} files, {erased['events']} payloads erased; {state}")
        self.stdout.write(f"user {user.pk} anonymised; {len(report)} cases touched")
