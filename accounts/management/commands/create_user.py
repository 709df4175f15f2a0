"""``manage.py create_user --role R --email E --password P``: accounts for operators and neutrals."""

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import Role
from odr.errors import DomainError


class Command(BaseCommand):
    help = "Create a user (operator, mediator, arbitrator; consumer or merchant too)."

    def add_arguments(self, parser):
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--display-name", default="")
        parser.add_argument("--country", default="IE", help="ISO 3166-1 alpha-2 code")
        parser.add_argument("--time-zone", default="UTC", help="IANA time zone, e.g. Europe/Madrid")
        parser.add_argument("--language", default="en")
        parser.add_argument("--legal-name", default=None, help="merchants only: the organisation's legal name")

    def handle(self, *args, **opts):
        try:
            user = services.user_create(
                email=opts["email"],
                password=opts["password"],
                role=opts["role"],
                display_name=opts["display_name"],
                country=opts["country"].upper(),
                time_zone=opts["time_zone"],
                language=opts["language"],
                legal_name=opts["legal_name"],
            )
        except DomainError as exc:
            details = "; ".join(f"{field}: {' '.join(map(str, msgs))}" for field, msgs in exc.fields.items())
            raise CommandError(f"{exc.message} {details}".strip()) from exc
        self.stdout.write(f"created {user.role} {user.email} (id {user.pk})")
