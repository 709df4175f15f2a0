"""Test data made through the same services users call (STYLE.md rule 8)."""

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import Decimal

from accounts import services as accounts
from accounts.models import Role, User
from cases import services
from cases.demo import People, drive
from cases.models import Case
from cases.money import Money

PASSWORD = "Correct-Horse-42"
_seq = itertools.count(1)


def user(role: str, *, country="ES", time_zone="Europe/Madrid", language="en", legal_name=None, **extra) -> User:
    n = next(_seq)
    if role == Role.MERCHANT and legal_name is None:
        legal_name = f"Shop {n} Ltd"
    return accounts.user_create(
        email=f"{role}{n}@example.test",
        password=PASSWORD,
        role=role,
        display_name=f"{role.title()} {n}",
        country=country,
        time_zone=time_zone,
        language=language,
        legal_name=legal_name,
        **extra,
    )


def merchant_colleague(merchant: User) -> User:
    """A second user of the same merchant organisation."""
    n = next(_seq)
    return User.objects.create_user(
        email=f"colleague{n}@example.test",
        password=PASSWORD,
        role=Role.MERCHANT,
        display_name=f"Colleague {n}",
        country=merchant.organisation.country,
        time_zone=merchant.organisation.time_zone,
        organisation=merchant.organisation,
    )


@dataclass
class Cast:
    """Everyone who can touch a case, plus outsiders of every role."""

    consumer: User
    merchant: User
    mediator: User
    arbitrator: User
    operator: User

    @classmethod
    def make(cls) -> "Cast":
        return cls(
            consumer=user(Role.CONSUMER),
            merchant=user(Role.MERCHANT, country="CN", time_zone="Asia/Shanghai", language="zh-hans"),
            mediator=user(Role.MEDIATOR, country="IE", time_zone="Europe/Dublin"),
            arbitrator=user(Role.ARBITRATOR, country="DE", time_zone="Europe/Berlin"),
            operator=user(Role.OPERATOR, country="IE", time_zone="UTC"),
        )


def filing_body(merchant_id: int, **overrides) -> dict:
    """A valid ``POST /api/v1/cases/`` body."""
    body = {
        "merchant": merchant_id,
        "order": {
            "reference": "ORD-1001",
            "date": "2026-10-01",
            "platform": "MarketPlace",
            "product": "Wireless headphones",
            "price": {"amount": "89.90", "currency": "EUR"},
        },
        "category": "non_delivery",
        "description": "Paid on 1 October, the parcel never arrived and the shop stopped answering.",
        "remedy": "refund",
        "claim": {"amount": "89.90", "currency": "EUR"},
        "language": "en",
        "submit": True,
    }
    body.update(overrides)
    return body


def file_case(cast: Cast, *, submit=True, claim="89.90", currency="EUR") -> Case:
    case, _created = services.case_file(
        consumer=cast.consumer,
        merchant_id=cast.merchant.organisation_id,
        order={
            "reference": "ORD-1001",
            "date": dt.date(2026, 10, 1),
            "platform": "MarketPlace",
            "product": "Wireless headphones",
            "price": Money(Decimal(claim), currency),
        },
        category="non_delivery",
        description="The parcel never arrived.",
        remedy="refund",
        claim=Money(Decimal(claim), currency),
        language="en",
        submit=submit,
    )
    return case


def case_in(state: str, cast: Cast, *, merchant_offer: bool = False, heard: bool = False) -> Case:
    """A case of ``cast`` driven through the services to ``state`` (see ``cases.demo.drive``).

    ``merchant_offer=True`` makes the merchant respond with an offer, so an open offer awaits the consumer.
    ``heard=True``: in arbitration with both parties' submissions filed, so the award may be issued.
    """
    if state == "draft":
        return file_case(cast, submit=False)
    people = People(cast.consumer, cast.merchant, cast.mediator, cast.arbitrator, cast.operator)
    return drive(file_case(cast), state, people, merchant_offer=merchant_offer, heard=heard)


ALL_STATES = [
    "draft", "filed", "jurisdiction", "negotiation", "mediation", "arbitration", "settled", "awarded",
    "compliance", "closed", "withdrawn", "rejected", "defaulted", "non_compliant",
]  # fmt: skip
