"""``manage.py create_user --role R --email E --password P``: accounts for operators and neutrals."""

from django.core.management.base import BaseCommand, CommandError

from accounts import services
from accounts.models import NEUTRAL_ROLES, Role
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
        parser.add_argument(
            "--languages",
            default="",
            help="neutrals only: the languages they work in, e.g. en,zh-hans (default: --language)",
        )
        parser.add_argument("--countries", default="", help="neutrals only: ISO codes they cover (default: any)")
        parser.add_argument("--max-load", type=int, default=10, help="neutrals only: most cases at once")

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
        if user.role in NEUTRAL_ROLES:
            from mediation.services import neutral_profile_set

            neutral_profile_set(
                user=user,
                languages=[x.strip() for x in opts["languages"].split(",") if x.strip()] or [user.language],
                countries=[x.strip().upper() for x in opts["countries"].split(",") if x.strip()],
                max_load=opts["max_load"],
            )
        self.stdout.write(f"created {user.role} {user.email} (id {user.pk})")
