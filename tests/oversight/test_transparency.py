"""The public transparency page: anonymised totals and outcomes by quarter of filing.

Four cases filed through the services in two quarters: in 2026-Q2 one accepted by the merchant (settled
after 2 days, then carried out) and one withdrawn after 5 days; in 2026-Q3 one settled on acceptance after
10 days and one still open. The page and its JSON count them by quarter, name no one, and need no log-in.
"""

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Role
from cases import services
from cases.services.compliance import case_confirm_compliance, case_report_compliance
from tests.factories import user

from .stats_helpers import at, utc
from .test_stats import file

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarters():
    cache.clear()
    spain = user(Role.CONSUMER, country="ES", time_zone="Europe/Madrid")
    shop = user(Role.MERCHANT, country="CN", time_zone="Asia/Shanghai", legal_name="Secret Shop Ltd")
    with at(utc(2026, 4, 1, 9)):
        settled = file(spain, shop)
        withdrawn = file(spain, shop)
    with at(utc(2026, 4, 3, 9)):
        services.case_respond(actor=shop, case_id=settled.pk, position="accept", statement="Sorry.")
    with at(utc(2026, 4, 4, 9)):
        case_report_compliance(actor=shop, case_id=settled.pk, reference="R-1", kind="refund")
        case_confirm_compliance(actor=spain, case_id=settled.pk)
    with at(utc(2026, 4, 6, 9)):
        services.case_withdraw(actor=spain, case_id=withdrawn.pk, reason="Resolved elsewhere")
    with at(utc(2026, 8, 1, 9)):
        late = file(spain, shop, claim="50.00")
        file(spain, shop, claim="20.00")
    with at(utc(2026, 8, 11, 9)):
        services.case_respond(actor=shop, case_id=late.pk, position="accept", statement="Fine.")
    with at(utc(2026, 9, 1)):
        yield spain


def test_the_transparency_figures_by_quarter(quarters):
    body = Client().get("/api/v1/transparency/").json()
    assert [q["quarter"] for q in body["quarters"]] == ["2026-Q3", "2026-Q2"]
    q3, q2 = body["quarters"]
    assert q2["filed"] == 2
    assert q2["outcomes"] == {
        "settled": 1, "awarded": 0, "dismissed": 0, "withdrawn": 1, "rejected": 0, "closed": 0,
    }  # fmt: skip
    assert q2["still_open"] == 0
    assert q2["settlement_rate"] == 0.5
    assert q2["compliance_rate"] == 1.0
    assert q2["median_days_to_resolution"] == 3.5  # 2 and 5 days
    assert q3["filed"] == 2
    assert q3["outcomes"]["settled"] == 1
    assert q3["still_open"] == 1
    assert q3["settlement_rate"] == 1.0
    assert q3["compliance_rate"] is None  # nothing carried out or declared not complied with yet
    assert q3["median_days_to_resolution"] == 10.0


def test_the_page_is_public_and_names_no_one(quarters):
    consumer = quarters
    response = Client().get("/transparency/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "2026-Q2" in page and "2026-Q3" in page
    for private in ("Secret Shop", consumer.display_name, consumer.email, "ODR-2026"):
        assert private not in page.split("<footer")[0].split("<main")[-1]
    api = Client().get("/api/v1/transparency/").content.decode()
    for private in ("Secret Shop", consumer.display_name, consumer.email, "ODR-2026", '"ES"', '"CN"'):
        assert private not in api
