"""``manage.py seed_bulk``: many realistic cases by bulk insert, in plausible proportions, with references
that later filings never collide with."""

from collections import Counter

import pytest
from django.core.management import call_command

from cases.models import Case, CaseEvent
from tests.factories import Cast, file_case

pytestmark = pytest.mark.django_db


def test_bulk_cases_come_in_plausible_proportions_and_keep_references_unique():
    call_command("seed_bulk", cases=2000, seed=7, verbosity=0)
    cases = list(Case.objects.all())
    assert len(cases) == 2000
    assert len({c.reference for c in cases}) == 2000
    statuses = Counter(c.status for c in cases)
    # Every state the lifecycle has shows up, and most complaints have ended.
    assert set(statuses) >= {"filed", "negotiation", "mediation", "arbitration", "closed", "non_compliant"}
    assert statuses["closed"] / 2000 > 0.3
    shops = Counter(c.merchant_id for c in cases)
    top, *_ = shops.most_common(1)
    assert top[1] > 5 * (2000 / len(shops))  # a Zipf head: one shop with many times the average
    assert Counter(c.category for c in cases).most_common(1)[0][0] == "non_delivery"
    for case in cases:
        assert case.claim_currency == case.order_price_currency
        assert case.consumer.country == case.consumer_country
        if case.outcome:
            assert case.outcome["amount"]["currency"] == case.claim_currency  # never mixed
            assert float(case.outcome["amount"]["amount"]) <= float(case.claim_amount)
        if case.closed_at:
            assert case.filed_at <= case.closed_at
    assert not CaseEvent.objects.exists()  # history, not cases anyone acts on

    # A complaint filed afterwards gets a reference of its own.
    later = file_case(Cast.make())
    assert later.reference not in {c.reference for c in cases}


def test_the_same_seed_gives_the_same_mix():
    call_command("seed_bulk", cases=300, seed=11, verbosity=0)
    first = Counter((c.status, c.category, c.claim_currency) for c in Case.objects.all())
    Case.objects.all().delete()
    call_command("seed_bulk", cases=300, seed=11, verbosity=0)
    assert Counter((c.status, c.category, c.claim_currency) for c in Case.objects.all()) == first
