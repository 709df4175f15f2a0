"""``manage.py rotate_evidence_keys``: re-wrap every evidence file key, and seal every webhook secret again,
under the current master key.

Rotation: generate a key (``--new-key``), put it first in ODR_EVIDENCE_KEYS keeping the old ones after
it, restart, run this command; once it reports no file left under an old key, drop the old keys.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from cases.evidence import crypto
from cases.evidence.services import evidence_rotate_keys
from cases.models import Evidence
from notifications.services import webhook_secrets_reseal


class Command(BaseCommand):
    help = "Re-wrap every evidence file key and re-seal every webhook secret under the first key of ODR_EVIDENCE_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--new-key", metavar="ID", help="only print a fresh key line 'ID:base64' and stop")

    def handle(self, *args, new_key=None, **opts):
        if new_key:
            self.stdout.write(crypto.new_key_line(new_key))
            return
        current = crypto.current_key()
        try:
            count = evidence_rotate_keys()
        except crypto.VaultKeyMissing as exc:
            raise CommandError(
                f"{exc}: keep every key still wrapping a file in ODR_EVIDENCE_KEYS until rotation finishes"
            ) from None
        self.stdout.write(f"{count} file keys re-wrapped under {current.id}")
        try:
            secrets = webhook_secrets_reseal()
        except crypto.VaultKeyMissing as exc:
            raise CommandError(
                f"webhook secrets: {exc}: keep it in ODR_EVIDENCE_KEYS until rotation finishes"
            ) from None
        except crypto.VaultIntegrityError as exc:
            raise CommandError(f"webhook secrets: {exc} (altered in the database); none was sealed again") from None
        self.stdout.write(f"{secrets} webhook secrets sealed again under {current.id}")
        left = (
            Evidence.objects.filter(wrapped_key__isnull=False)
            .exclude(key_id=current.id)
            .values("key_id")
            .annotate(n=Count("pk"))
        )
        for row in left:
            self.stdout.write(f"still under {row['key_id']}: {row['n']} (locked by another process; run again)")
        if not left:
            self.stdout.write("no file is left under an older key: the older keys may be removed")
