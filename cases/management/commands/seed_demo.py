"""``manage.py seed_demo``: demo accounts for every role and a dozen cases across states, countries and
currencies, so a newcomer can log in at once and see every page filled.

Idempotent: when the demo accounts exist nothing is added. The passwords are public (README); never run
this against a production database.
"""

import datetime as dt
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts import services as accounts
from accounts.models import User
from cases import services
from cases.demo import People, drive
from cases.money import Money

DEMO_PASSWORD = "demo-pass-2026"
DEMO_USERS = [
    # email, role, display name, country, time zone, language, legal name
    ("consumer@demo.odr", "consumer", "Ana García", "ES", "Europe/Madrid", "en", None),
    ("consumer.cn@demo.odr", "consumer", "王芳", "CN", "Asia/Shanghai", "zh-hans", None),
    ("consumer.gb@demo.odr", "consumer", "Oliver Smith", "GB", "Europe/London", "en", None),
    ("merchant@demo.odr", "merchant", "Li Wei", "CN", "Asia/Shanghai", "zh-hans", "Shenzhen Gadget Co., Ltd."),
    ("merchant.de@demo.odr", "merchant", "Jonas Berg", "DE", "Europe/Berlin", "en", "Berg Elektronik GmbH"),
    ("merchant.jp@demo.odr", "merchant", "Sato Yuki", "JP", "Asia/Tokyo", "en", "Tokyo Kimono K.K."),
    ("merchant.us@demo.odr", "merchant", "Dana Miller", "US", "America/Los_Angeles", "en", "Portland Outdoor LLC"),
    ("mediator@demo.odr", "mediator", "Maeve Byrne", "IE", "Europe/Dublin", "en", None),
    ("arbitrator@demo.odr", "arbitrator", "Henri Dubois", "FR", "Europe/Paris", "en", None),
    ("operator@demo.odr", "operator", "Platform Operator", "IE", "UTC", "en", None),
]

# consumer, merchant, state, category, remedy, amount, currency, product, description
DEMO_CASES = [
    ("consumer@demo.odr", "merchant@demo.odr", "filed", "non_delivery", "refund", "59.99", "EUR",
     "Bluetooth speaker", "Ordered on 3 October; tracking stopped in transit and the shop does not reply."),
    ("consumer@demo.odr", "merchant.de@demo.odr", "jurisdiction", "defective", "repair", "249.00", "EUR",
     "Espresso machine", "The pump failed after two weeks; the shop asks me to pay the return shipping."),
    ("consumer.cn@demo.odr", "merchant.de@demo.odr", "negotiation", "not_as_described", "price_reduction",
     "899.00", "CNY", "Leather bag", "颜色和描述不符，卖家不回复邮件。"),
    ("consumer.gb@demo.odr", "merchant@demo.odr", "mediation", "counterfeit", "refund", "120.00", "GBP",
     "Branded headphones", "The headphones are counterfeit: the serial number is not recognised by the brand."),
    ("consumer.cn@demo.odr", "merchant.us@demo.odr", "arbitration", "refund_not_honoured", "refund", "150.00",
     "USD", "Hiking tent", "退货已签收一个月，退款仍未到账。"),
    ("consumer@demo.odr", "merchant.us@demo.odr", "settled", "non_delivery", "refund", "35.50", "USD",
     "Water bottle set", "The parcel was returned to the sender without any attempt to deliver."),
    ("consumer.cn@demo.odr", "merchant.jp@demo.odr", "awarded", "defective", "replacement", "12000", "JPY",
     "Silk kimono", "和服有破损，卖家拒绝更换。"),
    ("consumer.gb@demo.odr", "merchant.jp@demo.odr", "compliance", "not_as_described", "refund", "8000", "JPY",
     "Tea set", "The tea set arrived in a different pattern from the photographs."),
    ("consumer@demo.odr", "merchant.de@demo.odr", "closed", "unauthorised_charge", "refund", "19.99", "EUR",
     "Subscription", "I was charged for a subscription I never agreed to."),
    ("consumer.gb@demo.odr", "merchant.us@demo.odr", "withdrawn", "other", "compensation", "40.00", "GBP",
     "Camping stove", "Late delivery spoiled a planned trip."),
    ("consumer@demo.odr", "merchant@demo.odr", "defaulted", "non_delivery", "refund", "75.00", "EUR",
     "Smart watch", "Paid in full; no shipment and no answer to four messages."),
    ("consumer.gb@demo.odr", "merchant.de@demo.odr", "rejected", "data_privacy", "compensation", "10.00", "GBP",
     "Newsletter", "The shop keeps e-mailing me after I unsubscribed."),
    ("consumer@demo.odr", "merchant.us@demo.odr", "non_compliant", "non_delivery", "refund", "64.00", "USD",
     "Trail shoes", "The shop agreed to refund me in full and then never paid."),
    ("consumer@demo.odr", "merchant.jp@demo.odr", "draft", "defective", "repair", "5000", "JPY",
     "Ceramic bowl", "Cracked on arrival; photos attached later."),
]  # fmt: skip


class Command(BaseCommand):
    help = "Create the demo accounts of every role and a dozen demo cases (idempotent); print the passwords."

    def handle(self, *args, **opts):
        # The demo's own notices (dozens of e-mails) go to memory, not to the console of `make run`.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            self._seed()
        self.stdout.write(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
        for email, role, *_rest in DEMO_USERS:
            self.stdout.write(f"  {role:<10} {email}")

    @transaction.atomic
    def _seed(self):
        fresh = not User.objects.filter(email="operator@demo.odr").exists()
        users = {}
        for email, role, name, country, tz, lang, legal in DEMO_USERS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = accounts.user_create(
                    email=email, password=DEMO_PASSWORD, role=role, display_name=name, country=country,
                    time_zone=tz, language=lang, legal_name=legal,
                )  # fmt: skip
            if role == "operator" and not user.is_superuser:
                user.is_superuser = True  # the demo operator may use the whole admin
                user.save(update_fields=["is_superuser"])
            if role in ("mediator", "arbitrator"):
                from mediation.services import neutral_profile_set

                neutral_profile_set(user=user, languages=["en", "zh-hans"], max_load=20)
            users[email] = user
        if fresh:
            for number, row in enumerate(DEMO_CASES, start=1):
                self._case(users, number, *row)
            # The merchant that did not pay is warned, and shows on the public compliance register.
            from oversight.services import sanction_apply

            sanction_apply(
                actor=users["operator@demo.odr"],
                merchant_id=users["merchant.us@demo.odr"].organisation_id,
                level=None,
                reason="Did not pay a refund it had agreed to, by the date set.",
            )

    def _case(self, users, number, consumer, merchant, state, category, remedy, amount, currency, product, text):
        consumer, merchant = users[consumer], users[merchant]
        money = Money(Decimal(amount), currency)
        case, _created = services.case_file(
            consumer=consumer,
            merchant_id=merchant.organisation_id,
            order={
                "reference": f"ORD-{2026_1000 + number}",
                "date": dt.date(2026, 10, number),
                "platform": "GlobalMarket",
                "product": product,
                "price": money,
            },
            category=category,
            description=text,
            remedy=remedy,
            claim=money,
            language=consumer.language,
            submit=state != "draft",
            # The shops shipped abroad and sold in the buyer's language: activity directed to the
            # consumer's country, so the jurisdiction engine proposes the consumer's courts and law.
            jurisdiction_facts={
                "directing_indicators": ["delivers_to_consumer_country", "consumer_language"],
                "contract": "goods",
                "consumer_odr_agreement": False,
            },
        )
        if state != "draft":
            people = People(
                consumer, merchant, users["mediator@demo.odr"], users["arbitrator@demo.odr"], users["operator@demo.odr"]
            )
            offer = str((money.amount / 2).quantize(Decimal(1) if currency == "JPY" else Decimal("0.01")))
            drive(case, state, people, merchant_offer=state == "negotiation", offer=offer)
            if state == "mediation":
                self._mediation_demo(case, people)
            if state == "arbitration":
                from arbitration.services import submission_file

                submission_file(
                    actor=consumer, case_id=case.pk, statement="退货已于10月签收，附物流记录。", evidence_ids=[]
                )

    def _mediation_demo(self, case, people):
        """A mediation in progress: a disclosure, a session tomorrow and a few words in each room."""
        from cases.services import case_disclose
        from mediation import services as mediation

        mediator = people.mediator
        case_disclose(actor=mediator, case_id=case.pk, statement="I have no link with either party.")
        mediation.session_schedule(
            actor=mediator,
            case_id=case.pk,
            starts_at=timezone.now().replace(minute=0, second=0, microsecond=0) + dt.timedelta(days=1),
            minutes=60,
        )
        for author, room, body in (
            (mediator, "joint", "Welcome. I will meet each of you privately first, then together."),
            (people.consumer, "joint", "Thank you. The serial number is not recognised by the brand."),
            (people.merchant, "joint", "We buy from an authorised distributor; we can send the invoice."),
            (mediator, "caucus-consumer", "What outcome would you accept if the invoice is genuine?"),
            (mediator, "caucus-merchant", "Could you share the distributor's invoice in the evidence panel?"),
        ):
            mediation.message_post(actor=author, case_id=case.pk, room=room, body=body)
