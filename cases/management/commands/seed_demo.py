"""``manage.py seed_demo``: demo accounts for every role (and a filed case) so a newcomer can log in at once.

Idempotent: existing demo accounts are left as they are. The passwords are public (README); never run
this against a production database.
"""

import datetime as dt
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts import services as accounts
from accounts.models import User
from cases import services
from cases.money import Money

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    # email, role, display name, country, time zone, language, legal name
    ("consumer@demo.odr", "consumer", "Ana García", "ES", "Europe/Madrid", "en", None),
    ("consumer.cn@demo.odr", "consumer", "王芳", "CN", "Asia/Shanghai", "zh-hans", None),
    ("merchant@demo.odr", "merchant", "Li Wei", "CN", "Asia/Shanghai", "zh-hans", "Shenzhen Gadget Co., Ltd."),
    ("merchant.de@demo.odr", "merchant", "Jonas Berg", "DE", "Europe/Berlin", "en", "Berg Elektronik GmbH"),
    ("mediator@demo.odr", "mediator", "Maeve Byrne", "IE", "Europe/Dublin", "en", None),
    ("arbitrator@demo.odr", "arbitrator", "Henri Dubois", "FR", "Europe/Paris", "en", None),
    ("operator@demo.odr", "operator", "Platform Operator", "IE", "UTC", "en", None),
]


class Command(BaseCommand):
    help = "Create the demo accounts of every role (idempotent) and print their passwords."

    @transaction.atomic
    def handle(self, *args, **opts):
        created = {}
        for email, role, name, country, tz, lang, legal in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = accounts.user_create(
                    email=email, password=DEMO_PASSWORD, role=role, display_name=name, country=country,
                    time_zone=tz, language=lang, legal_name=legal,
                )  # fmt: skip
                created[email] = user
            if role == "operator" and not user.is_superuser:
                user.is_superuser = True  # the demo operator may use the whole admin
                user.save(update_fields=["is_superuser"])
        if "consumer@demo.odr" in created:
            consumer = created["consumer@demo.odr"]
            merchant = User.objects.get(email="merchant@demo.odr")
            services.case_file(
                consumer=consumer,
                merchant_id=merchant.organisation_id,
                order={
                    "reference": "SZ-88412",
                    "date": dt.date(2026, 10, 3),
                    "platform": "GlobalMarket",
                    "product": "Bluetooth speaker",
                    "price": Money(Decimal("59.99"), "EUR"),
                },
                category="non_delivery",
                description="Ordered on 3 October; tracking stopped in transit and the shop does not reply.",
                remedy="refund",
                claim=Money(Decimal("59.99"), "EUR"),
                language="en",
                submit=True,
            )
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for email, role, *_rest in DEMO_USERS:
            self.stdout.write(f"  {role:<10} {email}")
