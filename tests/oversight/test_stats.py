"""The operator's statistics: every figure on a small data set built by hand through the real services,
the filters, the running summaries against a rebuild from the cases, access, bad input, CSV and the
merchant table.

The data set (``build``), eight cases filed at known moments (UTC) by consumers in Spain, Germany and the
United States against Alpha (China) and Beta (Germany):

====  =====  =======  ===================  ==========  ===========================================
case  pair   filed    category             claim       what happened
====  =====  =======  ===================  ==========  ===========================================
c1    ES-CN  03-02    non_delivery         EUR 100.00  accepted after 30 h (settled, 1 day); performed,
                                                       confirmed: closed after 5 days
c2    DE-CN  03-10    defective            EUR 50.00   offer of 30.00 after 8 h; accepted in
                                                       negotiation after 10 days: settled, performance due
c3    US-CN  03-15    non_delivery         USD 200.00  contested after 48 h; mediation, arbitration; award
                                                       of 200.00 after 30 days; the compliance deadline
                                                       passes (the sweep): non_compliant
c4    ES-DE  04-01    non_delivery         EUR 80.00   withdrawn after 4 days
c5    US-DE  04-10    not_as_described     USD 40.00   the merchant lets its response deadline pass (the
                                                       sweep): defaulted, then arbitration
c6    DE-DE  04-20    defective            EUR 60.00   contested after 27 h: jurisdiction
c7    ES-CN  05-04    counterfeit          EUR 25.50   rejected by the operator after 2 days
c8    ES-CN  05-10    non_delivery         EUR 10.00   filed, no answer yet
====  =====  =======  ===================  ==========  ===========================================
"""

import csv
import datetime as dt
import io
import types
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client, override_settings

from accounts.models import Role
from arbitration.services import submission_file
from cases import services
from cases.deadlines import deadline_sweep
from cases.models import Case, Deadline
from cases.money import Money
from oversight import risk, summaries
from oversight.api.stats import overview_json
from oversight.models import (
    CELL_AMOUNTS,
    CELL_COUNTS,
    BreachCell,
    CaseCell,
    DurationCell,
    MerchantBreachCell,
    MerchantCell,
    MerchantResponseCell,
    MerchantStats,
    RiskAlert,
    Sanction,
)
from oversight.stats import Filters, overview
from tests.conftest import client_for
from tests.factories import file_case, filing_body, user

from .stats_helpers import ALERTS, MERCHANTS, OVERVIEW, assert_error, at, get_ok, utc

pytestmark = pytest.mark.django_db


# --- the data set -----------------------------------------------------------------------------------------
def file(consumer, merchant, *, category="non_delivery", claim="100.00", currency="EUR", submit=True) -> Case:
    """File through the filing service at the clock's current moment (``submit=False``: keep a draft)."""
    case, created = services.case_file(
        consumer=consumer,
        merchant_id=merchant.organisation_id,
        order={
            "reference": "ORD-1",
            "date": dt.date(2026, 1, 15),
            "platform": "MarketPlace",
            "product": "Headphones",
            "price": Money(Decimal(claim), currency),
        },
        category=category,
        description="It went wrong.",
        remedy="refund",
        claim=Money(Decimal(claim), currency),
        language="en",
        submit=submit,
    )
    assert created
    return case


def people():
    return types.SimpleNamespace(
        es=user(Role.CONSUMER, country="ES", time_zone="Europe/Madrid"),
        de=user(Role.CONSUMER, country="DE", time_zone="Europe/Berlin"),
        us=user(Role.CONSUMER, country="US", time_zone="America/New_York"),
        alpha=user(Role.MERCHANT, country="CN", time_zone="Asia/Shanghai", legal_name="Alpha Trading Ltd"),
        beta=user(Role.MERCHANT, country="DE", time_zone="Europe/Berlin", legal_name="Beta Versand GmbH"),
        mediator=user(Role.MEDIATOR, country="IE", time_zone="Europe/Dublin"),
        arbitrator=user(Role.ARBITRATOR, country="DE", time_zone="Europe/Berlin"),
        operator=user(Role.OPERATOR, country="IE", time_zone="UTC"),
    )


def running(case, kind) -> Deadline:
    return Deadline.objects.get(case=case, kind=kind, status="running")


def sweep_at(moment) -> list[tuple]:
    """Run the deadline sweep at ``moment``; return what it fired (case, kind)."""
    before = set(Deadline.objects.filter(status="fired").values_list("pk", flat=True))
    with at(moment):
        deadline_sweep()
    return list(Deadline.objects.filter(status="fired").exclude(pk__in=before).values_list("case_id", "kind"))


def build():
    """The eight cases of the module's table, each moved through the services at its own moments.

    The two cases whose deadlines the sweep fires are built first, so that no other case has a clock
    running when the sweep looks."""
    p = people()

    # c3: to arbitration, an award, and the compliance deadline missed.
    with at(utc(2026, 3, 15, 9)):
        c3 = file(p.us, p.alpha, claim="200.00", currency="USD")
    with at(utc(2026, 3, 17, 9)):
        services.case_respond(actor=p.alpha, case_id=c3.pk, position="contest", statement="Delivered.")
    with at(utc(2026, 3, 18, 10)):
        services.case_accept_jurisdiction(actor=p.us, case_id=c3.pk)
        services.case_accept_jurisdiction(actor=p.alpha, case_id=c3.pk)
    with at(utc(2026, 3, 20, 10)):
        services.case_request_mediation(actor=p.us, case_id=c3.pk)
        services.case_assign_mediator(actor=p.operator, case_id=c3.pk, user_id=p.mediator.pk)
    with at(utc(2026, 3, 30, 10)):
        services.case_escalate(actor=p.us, case_id=c3.pk)
        services.case_assign_arbitrator(actor=p.operator, case_id=c3.pk, user_id=p.arbitrator.pk)
    with at(utc(2026, 4, 2, 10)):  # both heard: the award need not wait for the end of their time
        submission_file(actor=p.us, case_id=c3.pk, statement="It never came.", evidence_ids=[])
        submission_file(actor=p.alpha, case_id=c3.pk, statement="Delivered.", evidence_ids=[])
    with at(utc(2026, 4, 14, 9)):
        services.case_issue_award(
            actor=p.arbitrator,
            case_id=c3.pk,
            decision="granted",
            amount=Money(Decimal("200.00"), "USD"),
            remedy="refund",
            reasons="The merchant did not prove delivery.",
        )
    fired = sweep_at(running(c3, "compliance").due_at + dt.timedelta(minutes=1))
    assert fired == [(c3.pk, "compliance")]

    # c5: the merchant stays silent.
    with at(utc(2026, 4, 10, 0)):
        c5 = file(p.us, p.beta, category="not_as_described", claim="40.00", currency="USD")
    fired = sweep_at(running(c5, "merchant_response").due_at + dt.timedelta(minutes=1))
    assert fired == [(c5.pk, "merchant_response")]

    # c1: accepted, performed, confirmed.
    with at(utc(2026, 3, 2, 10)):
        c1 = file(p.es, p.alpha, claim="100.00")
    with at(utc(2026, 3, 3, 16)):
        services.case_respond(actor=p.alpha, case_id=c1.pk, position="accept", statement="We refund.")
    with at(utc(2026, 3, 5, 12)):
        services.case_report_compliance(actor=p.alpha, case_id=c1.pk, reference="REFUND-1")
    with at(utc(2026, 3, 7, 10)):
        services.case_confirm_compliance(actor=p.es, case_id=c1.pk)

    # c2: an offer, accepted in negotiation.
    with at(utc(2026, 3, 10, 12)):
        c2 = file(p.de, p.alpha, category="defective", claim="50.00")
    with at(utc(2026, 3, 10, 20)):
        services.case_respond(
            actor=p.alpha,
            case_id=c2.pk,
            position="offer",
            statement="Thirty back.",
            offer=Money(Decimal("30.00"), "EUR"),
        )
    with at(utc(2026, 3, 11, 9)):
        services.case_accept_jurisdiction(actor=p.de, case_id=c2.pk)
        services.case_accept_jurisdiction(actor=p.alpha, case_id=c2.pk)
    with at(utc(2026, 3, 20, 12)):
        services.case_accept_settlement(actor=p.de, case_id=c2.pk)

    # c4: withdrawn.
    with at(utc(2026, 4, 1, 8)):
        c4 = file(p.es, p.beta, claim="80.00")
    with at(utc(2026, 4, 5, 8)):
        services.case_withdraw(actor=p.es, case_id=c4.pk, reason="Found it.")

    # c6: contested.
    with at(utc(2026, 4, 20, 10)):
        c6 = file(p.de, p.beta, category="defective", claim="60.00")
    with at(utc(2026, 4, 21, 13)):
        services.case_respond(actor=p.beta, case_id=c6.pk, position="contest", statement="No.")

    # c7: rejected.
    with at(utc(2026, 5, 4, 10)):
        c7 = file(p.es, p.alpha, category="counterfeit", claim="25.50")
    with at(utc(2026, 5, 6, 10)):
        services.case_reject(actor=p.operator, case_id=c7.pk, reason="Not a consumer purchase.")

    # c8: filed.
    with at(utc(2026, 5, 10, 10)):
        c8 = file(p.es, p.alpha, claim="10.00")

    cases = {
        name: Case.objects.get(pk=c.pk) for name, c in zip("12345678", (c1, c2, c3, c4, c5, c6, c7, c8), strict=True)
    }
    expected_status = {
        "1": "closed", "2": "settled", "3": "non_compliant", "4": "withdrawn",
        "5": "arbitration", "6": "jurisdiction", "7": "rejected", "8": "filed",
    }  # fmt: skip
    assert {n: c.status for n, c in cases.items()} == expected_status
    p.cases = cases
    return p


@pytest.fixture(scope="class")
def data(django_db_setup, django_db_blocker):
    """The data set, built once for the tests of a class in a transaction rolled back after them (each
    test runs in a savepoint of its own inside it, so what one test changes the next does not see)."""
    with (
        django_db_blocker.unblock(),
        override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]),
        transaction.atomic(),
    ):
        yield build()
        transaction.set_rollback(True)


ZERO_STATUSES = dict.fromkeys(
    ["filed", "jurisdiction", "negotiation", "mediation", "arbitration", "defaulted", "settled", "awarded",
     "compliance", "non_compliant", "closed", "withdrawn", "rejected"], 0
)  # fmt: skip
NO_DURATION = {"cases": 0, "median": None, "p90": None}


def statuses(**counts) -> dict:
    return {**ZERO_STATUSES, **counts}


def comparable(body: dict) -> dict:
    """An overview without when and from where it was made, or the filters that asked for it."""
    return {k: v for k, v in body.items() if k not in ("generated_at", "source", "filters")}


class TestTheHandBuiltCases:
    """Every figure and filter on the data set of the module's table."""

    # --- 1. every figure on the hand-built data set ------------------------------------------------------------
    def test_every_figure_of_the_overview_on_the_hand_built_cases(self, data):
        body = get_ok(data.operator, OVERVIEW)

        assert body["source"] == "summary"
        assert body["total"] == 8
        assert body["by_status"] == statuses(
            closed=1, settled=1, non_compliant=1, withdrawn=1, arbitration=1, jurisdiction=1, rejected=1, filed=1
        )
        assert body["by_category"] == {"non_delivery": 4, "defective": 2, "not_as_described": 1, "counterfeit": 1}
        assert body["by_country_pair"] == [
            {"consumer_country": "ES", "merchant_country": "CN", "cases": 3},
            {"consumer_country": "DE", "merchant_country": "CN", "cases": 1},
            {"consumer_country": "DE", "merchant_country": "DE", "cases": 1},
            {"consumer_country": "ES", "merchant_country": "DE", "cases": 1},
            {"consumer_country": "US", "merchant_country": "CN", "cases": 1},
            {"consumer_country": "US", "merchant_country": "DE", "cases": 1},
        ]
        assert body["by_month"] == [
            {"month": "2026-03", "cases": 3, "settled": 2, "awarded": 1, "non_compliant": 1},
            {"month": "2026-04", "cases": 3, "settled": 0, "awarded": 0, "non_compliant": 0},
            {"month": "2026-05", "cases": 2, "settled": 0, "awarded": 0, "non_compliant": 0},
        ]
        assert body["outcomes"] == {
            "settled": 2,
            "awarded": 1,
            "dismissed": 0,
            "withdrawn": 1,
            "rejected": 1,
            "closed": 0,
        }
        assert body["compliance"] == {"pending": 1, "confirmed": 1, "late": 0, "non_compliant": 1}
        # 2 settled of 5 ended; of 5 merchants' answers due, 4 answered (c1, c2, c3, c6) and 1 defaulted (c5);
        # of 2 outcomes whose performance was decided, 1 carried out (c1) and 1 not (c3).
        assert body["settlement_rate"] == 0.4
        assert body["response_rate"] == 0.8
        assert body["default_rate"] == 0.2
        assert body["compliance_rate"] == 0.5

        durations = body["durations"]
        # Hours to answer: 8, 27, 30, 48 -> an even count: the median is (27 + 30) / 2; the 90th percentile
        # lies 0.7 of the way from 30 to 48 (rank 0.9 x 3 = 2.7).
        assert durations["response_hours"] == {"cases": 4, "median": 28.5, "p90": pytest.approx(42.6)}
        # Days to the end of the dispute: 1 (c1), 2 (c7), 4 (c4) at filing; 10 (c2) in negotiation; 30 (c3) in
        # arbitration. p90: rank 3.6 -> 10 + 0.6 x (30 - 10).
        resolution = durations["resolution_days"]
        assert resolution["all"] == {"cases": 5, "median": 4.0, "p90": pytest.approx(22.0)}
        assert resolution["filed"] == {"cases": 3, "median": 2.0, "p90": pytest.approx(3.6)}
        assert resolution["negotiation"] == {"cases": 1, "median": 10.0, "p90": 10.0}
        assert resolution["arbitration"] == {"cases": 1, "median": 30.0, "p90": 30.0}
        for stage in ("jurisdiction", "mediation", "defaulted"):
            assert resolution[stage] == NO_DURATION, stage
        # Days to closing: 2 (c7), 4 (c4), 5 (c1).
        assert durations["close_days"] == {"cases": 3, "median": 4.0, "p90": pytest.approx(4.8)}
        assert body["median_days_to_close"] == 4.0

        assert body["deadline_breaches"] == {
            "total": 2,
            "by_kind": {"merchant_response": 1, "final_notice": 0, "compliance": 1, "award": 0},
        }
        # Each currency on its own row, summed in its own units: euros never include the dollars.
        assert body["amounts"] == [
            {
                "currency": "EUR",
                "cases": 6,
                "claimed": {"amount": "325.50", "currency": "EUR"},  # 100 + 50 + 80 + 60 + 25.50 + 10
                "settled": {"amount": "130.00", "currency": "EUR"},  # 100 (c1) + 30 (c2)
                "awarded": {"amount": "0.00", "currency": "EUR"},
            },
            {
                "currency": "USD",
                "cases": 2,
                "claimed": {"amount": "240.00", "currency": "USD"},  # 200 + 40
                "settled": {"amount": "0.00", "currency": "USD"},
                "awarded": {"amount": "200.00", "currency": "USD"},
            },
        ]
        assert body["generated_at"].endswith("Z")
        assert body["filters"] == {
            "from": None, "to": None, "consumer_country": None, "merchant_country": None,
            "country": None, "category": None, "merchant": None,
        }  # fmt: skip

    # --- 2. filters --------------------------------------------------------------------------------------------
    def test_months_narrow_every_figure_to_the_cases_filed_in_them(self, data):
        april = get_ok(data.operator, OVERVIEW, **{"from": "2026-04", "to": "2026-04"})

        # c4 (withdrawn), c5 (defaulted, then arbitration), c6 (jurisdiction).
        assert april["filters"]["from"] == "2026-04" and april["filters"]["to"] == "2026-04"
        assert april["total"] == 3
        assert april["by_status"] == statuses(withdrawn=1, arbitration=1, jurisdiction=1)
        assert april["by_category"] == {"non_delivery": 1, "not_as_described": 1, "defective": 1}
        assert april["by_month"] == [{"month": "2026-04", "cases": 3, "settled": 0, "awarded": 0, "non_compliant": 0}]
        assert april["outcomes"] == {
            "settled": 0,
            "awarded": 0,
            "dismissed": 0,
            "withdrawn": 1,
            "rejected": 0,
            "closed": 0,
        }
        assert (april["settlement_rate"], april["response_rate"], april["default_rate"]) == (0.0, 0.5, 0.5)
        assert april["compliance_rate"] is None  # nothing owed
        assert april["durations"]["response_hours"] == {"cases": 1, "median": 27.0, "p90": 27.0}
        assert april["durations"]["resolution_days"]["all"] == {"cases": 1, "median": 4.0, "p90": 4.0}
        assert april["durations"]["close_days"] == {"cases": 1, "median": 4.0, "p90": 4.0}
        assert april["deadline_breaches"]["by_kind"] == {
            "merchant_response": 1,
            "final_notice": 0,
            "compliance": 0,
            "award": 0,
        }
        assert [(a["currency"], a["cases"], a["claimed"]["amount"]) for a in april["amounts"]] == [
            ("EUR", 2, "140.00"),
            ("USD", 1, "40.00"),
        ]

        # Open-ended on either side; a date is taken as its month.
        assert get_ok(data.operator, OVERVIEW, **{"from": "2026-04"})["total"] == 5
        assert get_ok(data.operator, OVERVIEW, **{"from": "2026-04-28"})["total"] == 5
        assert get_ok(data.operator, OVERVIEW, to="2026-03")["total"] == 3
        assert get_ok(data.operator, OVERVIEW, **{"from": "2026-06"})["total"] == 0

    def test_a_country_pair_narrows_the_counts_and_the_durations(self, data):
        body = get_ok(data.operator, OVERVIEW, consumer_country="ES", merchant_country="CN")

        # c1 (closed), c7 (rejected), c8 (filed).
        assert body["total"] == 3
        assert body["by_status"] == statuses(closed=1, rejected=1, filed=1)
        assert body["by_country_pair"] == [{"consumer_country": "ES", "merchant_country": "CN", "cases": 3}]
        assert body["by_category"] == {"non_delivery": 2, "counterfeit": 1}
        assert body["outcomes"]["settled"] == 1 and body["outcomes"]["rejected"] == 1
        assert body["compliance"] == {"pending": 0, "confirmed": 1, "late": 0, "non_compliant": 0}
        durations = body["durations"]
        assert durations["response_hours"] == {"cases": 1, "median": 30.0, "p90": 30.0}
        # 1 day (c1) and 2 days (c7): the median of two is their mean.
        assert durations["resolution_days"]["all"] == {"cases": 2, "median": 1.5, "p90": pytest.approx(1.9)}
        assert durations["close_days"] == {"cases": 2, "median": 3.5, "p90": pytest.approx(4.7)}  # 2 and 5
        assert body["deadline_breaches"]["total"] == 0
        assert body["amounts"] == [
            {
                "currency": "EUR",
                "cases": 3,
                "claimed": {"amount": "135.50", "currency": "EUR"},
                "settled": {"amount": "100.00", "currency": "EUR"},
                "awarded": {"amount": "0.00", "currency": "EUR"},
            }
        ]
        # The reverse pair has no case.
        assert get_ok(data.operator, OVERVIEW, consumer_country="CN", merchant_country="ES")["total"] == 0

    def test_a_country_matches_either_party_and_counts_a_domestic_case_once(self, data):
        body = get_ok(data.operator, OVERVIEW, country="DE")

        # c2 (German consumer), c4 and c5 (German merchant), c6 (both German).
        assert body["total"] == 4
        assert body["by_country_pair"] == [
            {"consumer_country": "DE", "merchant_country": "CN", "cases": 1},
            {"consumer_country": "DE", "merchant_country": "DE", "cases": 1},
            {"consumer_country": "ES", "merchant_country": "DE", "cases": 1},
            {"consumer_country": "US", "merchant_country": "DE", "cases": 1},
        ]
        assert body["durations"]["response_hours"] == {"cases": 2, "median": 17.5, "p90": pytest.approx(25.1)}  # 8, 27
        assert body["durations"]["resolution_days"]["all"]["median"] == 7.0  # 4 (c4), 10 (c2)
        assert body["deadline_breaches"]["by_kind"]["merchant_response"] == 1
        assert [
            (a["currency"], a["cases"], a["claimed"]["amount"], a["settled"]["amount"]) for a in body["amounts"]
        ] == [
            ("EUR", 3, "190.00", "30.00"),
            ("USD", 1, "40.00", "0.00"),
        ]
        assert get_ok(data.operator, OVERVIEW, country="US")["total"] == 2  # consumers' side only
        assert get_ok(data.operator, OVERVIEW, country="CN")["total"] == 5  # merchants' side only

    def test_a_category_narrows_the_figures_and_combines_with_months(self, data):
        body = get_ok(data.operator, OVERVIEW, category="non_delivery")

        # c1, c3, c4, c8.
        assert body["total"] == 4
        assert body["by_status"] == statuses(closed=1, non_compliant=1, withdrawn=1, filed=1)
        assert body["by_category"] == {"non_delivery": 4}
        assert body["durations"]["response_hours"] == {"cases": 2, "median": 39.0, "p90": pytest.approx(46.2)}  # 30, 48
        assert body["durations"]["resolution_days"]["all"]["median"] == 4.0  # 1, 4, 30
        assert body["durations"]["close_days"]["median"] == 4.5  # 4, 5
        assert body["deadline_breaches"]["by_kind"]["compliance"] == 1
        assert body["amounts"] == [
            {
                "currency": "EUR",
                "cases": 3,
                "claimed": {"amount": "190.00", "currency": "EUR"},
                "settled": {"amount": "100.00", "currency": "EUR"},
                "awarded": {"amount": "0.00", "currency": "EUR"},
            },
            {
                "currency": "USD",
                "cases": 1,
                "claimed": {"amount": "200.00", "currency": "USD"},
                "settled": {"amount": "0.00", "currency": "USD"},
                "awarded": {"amount": "200.00", "currency": "USD"},
            },
        ]
        both = get_ok(data.operator, OVERVIEW, category="non_delivery", **{"from": "2026-04"})
        assert both["total"] == 2 and both["by_status"] == statuses(withdrawn=1, filed=1)  # c4, c8

    def test_one_merchants_figures_come_from_its_cells_and_match_the_whole_for_the_same_cases(self, data):
        beta = data.beta.organisation_id
        alpha = data.alpha.organisation_id

        by_merchant = get_ok(data.operator, OVERVIEW, merchant=beta)

        assert by_merchant["source"] == "summary"
        assert by_merchant["filters"]["merchant"] == beta
        assert by_merchant["total"] == 3  # c4, c5, c6
        assert by_merchant["response_rate"] == 0.5 and by_merchant["default_rate"] == 0.5
        assert by_merchant["deadline_breaches"]["total"] == 1
        # Beta is the only German merchant and Alpha the only Chinese one: the same cases, from CaseCell.
        by_country = get_ok(data.operator, OVERVIEW, merchant_country="DE")
        assert by_country["source"] == "summary"
        assert comparable(by_merchant) == comparable(by_country)
        assert comparable(get_ok(data.operator, OVERVIEW, merchant=alpha)) == comparable(
            get_ok(data.operator, OVERVIEW, merchant_country="CN")
        )
        # With months as well.
        assert comparable(get_ok(data.operator, OVERVIEW, merchant=alpha, to="2026-03")) == comparable(
            get_ok(data.operator, OVERVIEW, merchant_country="CN", to="2026-03")
        )

    def test_a_merchants_cells_hold_its_cases_and_add_up_to_the_cells_of_all(self, data):
        beta = data.beta.organisation_id
        alpha = data.alpha.organisation_id
        april = dt.date(2026, 4, 1)

        cells = MerchantCell.objects.filter(merchant_id=beta).order_by("consumer_country")
        assert list(
            cells.values_list(
                "month", "consumer_country", "merchant_country", "category", "currency", "cases", "claimed_minor"
            )
        ) == [
            (april, "DE", "DE", "defective", "EUR", 1, 6000),  # c6
            (april, "ES", "DE", "non_delivery", "EUR", 1, 8000),  # c4
            (april, "US", "DE", "not_as_described", "USD", 1, 4000),  # c5
        ]
        assert [(c.st_jurisdiction, c.st_withdrawn, c.st_arbitration, c.defaulted, c.responded) for c in cells] == [
            (1, 0, 0, 0, 1),
            (0, 1, 0, 0, 0),
            (0, 0, 1, 1, 0),
        ]
        breaches = MerchantBreachCell.objects.order_by("merchant_id")
        assert list(
            breaches.values_list(
                "merchant_id", "month", "consumer_country", "merchant_country", "category", "kind", "count"
            )
        ) == sorted(
            [
                (alpha, dt.date(2026, 3, 1), "US", "CN", "non_delivery", "compliance", 1),  # c3
                (beta, april, "US", "DE", "not_as_described", "merchant_response", 1),  # c5
            ]
        )
        # Alpha's five cases differ in month, pair or category: a cell each.
        assert MerchantCell.objects.filter(merchant_id=alpha).count() == 5

        # Summed over the merchants, the merchants' cells are the cells.
        key, counters = summaries.CELL_KEY, CELL_COUNTS + CELL_AMOUNTS
        summed: dict[tuple, dict] = {}
        for row in MerchantCell.objects.values(*key, *counters):
            total = summed.setdefault(tuple(row[k] for k in key), dict.fromkeys(counters, 0))
            for name in counters:
                total[name] += row[name]
        cells = {
            tuple(r[k] for k in key): {n: r[n] for n in counters} for r in CaseCell.objects.values(*key, *counters)
        }
        assert summed == cells

    def test_a_merchants_cells_and_its_cases_give_the_same_overview_under_every_filter(self, data):
        alpha, beta = data.alpha.organisation_id, data.beta.organisation_id
        for f in (
            Filters(merchant=alpha),
            Filters(merchant=beta),
            Filters(merchant=alpha, start=dt.date(2026, 3, 1), end=dt.date(2026, 4, 1)),
            Filters(merchant=alpha, consumer_country="ES", merchant_country="CN"),
            Filters(merchant=alpha, consumer_country="US", merchant_country="CN", end=dt.date(2026, 3, 1)),
            Filters(merchant=alpha, consumer_country="ES", merchant_country="CN", start=dt.date(2026, 5, 1)),
            Filters(merchant=beta, country="DE"),
            Filters(merchant=beta, category="not_as_described", start=dt.date(2026, 4, 1)),
            Filters(merchant=alpha, merchant_country="DE"),  # none
        ):
            from_cells = overview(f)
            from_cases = overview(f, source="cases")
            assert (from_cells["source"], from_cases["source"]) == ("summary", "cases")
            assert comparable(from_cells) == comparable(from_cases), f

        # The merchant, a pair and months together, by hand: c7 (rejected after 2 days) and c8 (filed).
        body = get_ok(
            data.operator, OVERVIEW, merchant=alpha, consumer_country="ES", merchant_country="CN", **{"from": "2026-05"}
        )
        assert body["source"] == "summary"
        assert body["total"] == 2
        assert body["by_status"] == statuses(rejected=1, filed=1)
        assert body["by_category"] == {"counterfeit": 1, "non_delivery": 1}
        assert body["by_month"] == [{"month": "2026-05", "cases": 2, "settled": 0, "awarded": 0, "non_compliant": 0}]
        assert body["durations"]["resolution_days"]["all"] == {"cases": 1, "median": 2.0, "p90": 2.0}
        assert body["deadline_breaches"]["total"] == 0
        assert [(a["currency"], a["cases"], a["claimed"]["amount"]) for a in body["amounts"]] == [("EUR", 2, "35.50")]
        # Alpha's missed deadline is on c3 (US-CN, March): in its breaches under that pair, not under ES-CN.
        us = get_ok(data.operator, OVERVIEW, merchant=alpha, consumer_country="US")
        assert us["deadline_breaches"]["by_kind"] == {
            "merchant_response": 0,
            "final_notice": 0,
            "compliance": 1,
            "award": 0,
        }
        assert get_ok(data.operator, OVERVIEW, merchant=alpha, **{"from": "2026-04"})["deadline_breaches"]["total"] == 0

    # --- 4. the running summaries against a rebuild from the cases ------------------------------------------
    def test_a_rebuild_from_the_cases_gives_exactly_the_rows_the_moves_kept(self, data):
        kept = summary_rows()
        assert all(kept.values()), [name for name, rows in kept.items() if not rows]

        summaries.rebuild()

        assert summary_rows() == kept

    def test_the_cases_table_and_the_summaries_give_the_same_overview(self, data):
        for f in (
            Filters(),
            Filters(start=dt.date(2026, 4, 1), end=dt.date(2026, 4, 1)),
            Filters(end=dt.date(2026, 3, 1)),
            Filters(consumer_country="ES", merchant_country="CN"),
            Filters(country="DE"),
            Filters(category="non_delivery", start=dt.date(2026, 4, 1)),
        ):
            from_summaries = overview(f)
            from_cases = overview(f, source="cases")
            assert (from_summaries["source"], from_cases["source"]) == ("summary", "cases")
            assert comparable(from_cases) == comparable(from_summaries), f

    # --- 7. CSV ---------------------------------------------------------------------------------------------
    def test_the_overview_as_csv_carries_the_same_figures(self, data):
        response = client_for(data.operator).get(OVERVIEW, {"format": "csv"})

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"] == 'attachment; filename="odr-statistics.csv"'
        header, *rows = csv_rows(response)
        assert header == ["section", "key", "value"]
        figures = {(section, key): value for section, key, value in rows}
        assert len(figures) == len(rows)  # one row per figure
        assert figures[("total", "cases")] == "8"
        assert figures[("by_status", "settled")] == "1" and figures[("by_status", "mediation")] == "0"
        assert figures[("by_category", "non_delivery")] == "4"
        assert figures[("by_country_pair", "ES-CN")] == "3" and figures[("by_country_pair", "US-DE")] == "1"
        assert figures[("by_month", "2026-03")] == "3" and figures[("by_month", "2026-05")] == "2"
        assert figures[("outcomes", "withdrawn")] == "1"
        assert figures[("compliance", "non_compliant")] == "1"
        assert figures[("rate", "settlement_rate")] == "0.4"
        assert figures[("rate", "response_rate")] == "0.8"
        assert figures[("rate", "compliance_rate")] == "0.5"
        assert figures[("durations", "response_hours.median")] == "28.5"
        assert figures[("durations", "response_hours.cases")] == "4"
        assert figures[("durations", "resolution_days.all.median")] == "4.0"
        assert figures[("durations", "resolution_days.mediation.median")] == ""  # none ended there
        assert figures[("durations", "close_days.median")] == "4.0"
        assert figures[("deadline_breaches", "total")] == "2"
        assert figures[("deadline_breaches", "compliance")] == "1"
        assert figures[("amounts.claimed", "EUR")] == "325.50"
        assert figures[("amounts.claimed", "USD")] == "240.00"
        assert figures[("amounts.settled", "EUR")] == "130.00"
        assert figures[("amounts.awarded", "USD")] == "200.00"
        assert figures[("filter", "country")] == ""
        # Every count of the JSON is on a row of the CSV.
        body = get_ok(data.operator, OVERVIEW)
        for section in ("by_status", "by_category", "outcomes", "compliance"):
            for key, value in body[section].items():
                assert figures[(section, key)] == str(value), (section, key)

        narrowed = {
            (s, k): v
            for s, k, v in csv_rows(client_for(data.operator).get(OVERVIEW, {"country": "DE", "format": "csv"}))
        }
        assert narrowed[("filter", "country")] == "DE"
        assert narrowed[("total", "cases")] == "4"

    def test_the_merchant_table_as_csv(self, data):
        response = client_for(data.operator).get(MERCHANTS, {"format": "csv", "ordering": "cases"})

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"] == 'attachment; filename="odr-merchants.csv"'
        header, *rows = csv_rows(response)
        assert header == [
            "merchant_id", "legal_name", "country", "cases", "open", "recent_cases", "response_rate",
            "median_response_hours", "compliance_rate", "non_compliant", "non_compliant_now", "deadline_breaches",
            "sanction", "risk_score", "risk_flags",
        ]  # fmt: skip
        assert rows == [
            [str(data.alpha.organisation_id), "Alpha Trading Ltd", "CN", "5", "1", "0", "1.0", "30.0", "0.5",
             "1", "1", "1", "", "0.0", ""],
            [str(data.beta.organisation_id), "Beta Versand GmbH", "DE", "3", "2", "0", "0.5", "27.0", "",
             "0", "0", "1", "", "0.0", ""],
        ]  # fmt: skip

    # --- 8. the merchant table -----------------------------------------------------------------------------
    def test_the_merchant_table_figures_sanction_and_risk(self, data):
        alpha, beta = data.alpha.organisation_id, data.beta.organisation_id

        body = get_ok(data.operator, MERCHANTS, ordering="cases")

        assert body["results"] == [
            {
                "merchant": {"id": alpha, "legal_name": "Alpha Trading Ltd", "country": "CN"},
                "cases": 5,
                "open": 1,  # c8
                "recent_cases": 0,
                "response_rate": 1.0,  # c1, c2, c3 answered; none defaulted
                "median_response_hours": 30.0,  # 8, 30, 48
                "compliance_rate": 0.5,  # c1 carried out, c3 not
                "non_compliant": 1,
                "non_compliant_now": 1,
                "deadline_breaches": 1,  # c3's compliance
                "sanction": None,
                "risk_score": 0.0,
                "risk_flags": [],
            },
            {
                "merchant": {"id": beta, "legal_name": "Beta Versand GmbH", "country": "DE"},
                "cases": 3,
                "open": 2,  # c5, c6
                "recent_cases": 0,
                "response_rate": 0.5,  # c6 answered, c5 defaulted
                "median_response_hours": 27.0,
                "compliance_rate": None,  # nothing owed
                "non_compliant": 0,
                "non_compliant_now": 0,
                "deadline_breaches": 1,  # c5's response
                "sanction": None,
                "risk_score": 0.0,
                "risk_flags": [],
            },
        ]
        assert body["next"] is None

        sanction = client_for(data.operator).post(
            f"/api/v1/merchants/{alpha}/sanctions/", {"reason": "Award not paid."}, format="json"
        )
        assert sanction.status_code == 201, sanction.content
        with at(utc(2026, 12, 1)):  # long after the cases: no spike, no rate window
            assert risk.scan() == []

        rows = {r["merchant"]["id"]: r for r in get_ok(data.operator, MERCHANTS)["results"]}
        assert rows[alpha]["sanction"] == "warning" and rows[beta]["sanction"] is None
        # 10 x (1 - 1.0) + 10 x (1 - 0.5) + 2 x 1 case not complied with; 10 x (1 - 0.5).
        assert (rows[alpha]["risk_score"], rows[alpha]["risk_flags"]) == (7.0, ["non_compliant"])
        assert (rows[beta]["risk_score"], rows[beta]["risk_flags"]) == (5.0, [])

        def order(**params):
            return [r["merchant"]["id"] for r in get_ok(data.operator, MERCHANTS, **params)["results"]]

        assert order(ordering="risk") == [alpha, beta]
        assert order() == [alpha, beta]  # risk is the default
        assert order(ordering="response_rate") == [beta, alpha]  # lowest first
        assert order(ordering="median_response_hours") == [alpha, beta]  # slowest first
        assert order(ordering="non_compliant") == [alpha, beta]
        assert order(country="DE") == [beta]
        assert order(search="alpha trading") == [alpha]
        assert order(merchant=beta) == [beta]
        assert order(search="nobody") == []

    def test_the_merchant_table_pages_with_a_cursor(self, data):
        seen = []
        page = get_ok(data.operator, MERCHANTS, ordering="cases", page_size=1)
        assert page["previous"] is None
        while True:
            assert len(page["results"]) == 1
            seen.append(page["results"][0]["merchant"]["id"])
            if page["next"] is None:
                break
            assert "cursor=" in page["next"]
            response = client_for(data.operator).get(page["next"])
            assert response.status_code == 200, response.content
            page = response.json()
            assert page["previous"] is not None
        assert seen == [data.alpha.organisation_id, data.beta.organisation_id]

    def test_the_merchant_table_pages_through_merchants_without_a_rate(self, data):
        seen = []
        response = client_for(data.operator).get(MERCHANTS, {"ordering": "compliance_rate", "page_size": 1})
        for _ in range(5):
            assert response.status_code == 200, response.content[:500]
            page = response.json()
            seen += [r["merchant"]["id"] for r in page["results"]]
            if page["next"] is None:
                break
            response = client_for(data.operator).get(page["next"])
        # Beta has no compliance rate (nothing owed): it is still a row of the table.
        assert sorted(seen) == sorted([data.alpha.organisation_id, data.beta.organisation_id])


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8"))))


SUMMARY_TABLES = {
    "cells": CaseCell,
    "durations": DurationCell,
    "breaches": BreachCell,
    "merchant_cells": MerchantCell,
    "merchant_breaches": MerchantBreachCell,
    "merchants": MerchantStats,
    "responses": MerchantResponseCell,
}
#: The risk job's columns (written by ``risk.scan``, not by the summaries).
RISK_COLUMNS = {"risk_score", "risk_flags", "recent_cases", "risk_updated_at"}


def summary_rows() -> dict:
    """Every row of every summary table, without ids, sorted: what to compare row by row."""
    rows = {}
    for name, model in SUMMARY_TABLES.items():
        columns = [f.attname for f in model._meta.concrete_fields if f.attname != "id" and f.name not in RISK_COLUMNS]
        rows[name] = sorted(model.objects.values_list(*columns), key=repr)
    return rows


# --- 3. a case moving moves the figures ----------------------------------------------------------------------
def test_each_move_of_a_case_moves_the_figures_at_once(db, api):
    es = user(Role.CONSUMER, country="ES", time_zone="Europe/Madrid")
    alpha = user(Role.MERCHANT, country="CN", time_zone="Asia/Shanghai", legal_name="Alpha Trading Ltd")
    operator = user(Role.OPERATOR, country="IE", time_zone="UTC")
    shop = alpha.organisation_id

    def figures():
        return get_ok(operator, OVERVIEW)

    def merchant_row():
        [row] = get_ok(operator, MERCHANTS, merchant=shop)["results"]
        return row

    # Filed (service), 100 EUR.
    with at(utc(2026, 10, 5, 9)):
        c = file(es, alpha, claim="100.00")
    body = figures()
    assert body["total"] == 1 and body["by_status"] == statuses(filed=1)
    assert body["response_rate"] is None and body["durations"]["response_hours"] == NO_DURATION
    assert body["amounts"][0]["claimed"]["amount"] == "100.00" and body["amounts"][0]["settled"]["amount"] == "0.00"
    assert merchant_row()["open"] == 1

    # The merchant accepts after 5 hours: answered, settled on 100 EUR.
    with at(utc(2026, 10, 5, 14)):
        services.case_respond(actor=alpha, case_id=c.pk, position="accept", statement="Refund.")
    body = figures()
    assert body["total"] == 1 and body["by_status"] == statuses(settled=1)
    assert body["outcomes"]["settled"] == 1 and body["settlement_rate"] == 1.0
    assert body["response_rate"] == 1.0
    assert body["durations"]["response_hours"] == {"cases": 1, "median": 5.0, "p90": 5.0}
    assert body["durations"]["resolution_days"]["filed"] == {"cases": 1, "median": 0.0, "p90": 0.0}
    assert body["compliance"]["pending"] == 1
    assert body["amounts"][0]["settled"] == {"amount": "100.00", "currency": "EUR"}
    assert body["by_month"] == [{"month": "2026-10", "cases": 1, "settled": 1, "awarded": 0, "non_compliant": 0}]
    row = merchant_row()
    assert (row["open"], row["response_rate"], row["median_response_hours"]) == (0, 1.0, 5.0)

    # A second complaint, filed through the API (40 EUR), answered with an offer after 20 hours, withdrawn.
    with at(utc(2026, 10, 6, 9)):
        response = api(es).post(
            "/api/v1/cases/",
            filing_body(shop, claim={"amount": "40.00", "currency": "EUR"}, category="defective"),
            format="json",
        )
        assert response.status_code == 201, response.content
    d = response.json()["id"]
    body = figures()
    assert body["total"] == 2 and body["by_status"] == statuses(filed=1, settled=1)
    assert body["by_category"] == {"non_delivery": 1, "defective": 1}
    assert body["amounts"][0]["claimed"]["amount"] == "140.00"
    with at(utc(2026, 10, 7, 5)):
        services.case_respond(
            actor=alpha, case_id=d, position="offer", statement="Half.", offer=Money(Decimal("20.00"), "EUR")
        )
    body = figures()
    assert body["by_status"] == statuses(jurisdiction=1, settled=1)
    assert body["durations"]["response_hours"] == {"cases": 2, "median": 12.5, "p90": pytest.approx(18.5)}  # 5, 20
    assert merchant_row()["median_response_hours"] == 12.5  # its histogram: 5 h and 20 h
    with at(utc(2026, 10, 8, 9)):
        services.case_withdraw(actor=es, case_id=d, reason="Sorted out.")
    body = figures()
    assert body["total"] == 2 and body["by_status"] == statuses(withdrawn=1, settled=1)
    assert body["outcomes"]["withdrawn"] == 1 and body["settlement_rate"] == 0.5
    assert body["durations"]["resolution_days"]["jurisdiction"] == {"cases": 1, "median": 2.0, "p90": 2.0}
    assert body["durations"]["close_days"] == {"cases": 1, "median": 2.0, "p90": 2.0}
    assert body["amounts"][0]["settled"]["amount"] == "100.00"  # an offer is not a settlement

    # The comply-by date passes (the sweep): not complied with, and a missed deadline.
    due = running(c, "compliance").due_at
    assert due < utc(2026, 11, 19)
    assert sweep_at(due + dt.timedelta(minutes=1)) == [(c.pk, "compliance")]
    body = figures()
    assert body["by_status"] == statuses(withdrawn=1, non_compliant=1)
    assert body["compliance"] == {"pending": 0, "confirmed": 0, "late": 0, "non_compliant": 1}
    assert body["compliance_rate"] == 0.0
    assert body["deadline_breaches"]["by_kind"]["compliance"] == 1
    assert body["by_month"][0]["non_compliant"] == 1
    row = merchant_row()
    assert (row["non_compliant_now"], row["compliance_rate"], row["deadline_breaches"]) == (1, 0.0, 1)

    # Late, the merchant performs and the consumer confirms: carried out late, closed after 46 days.
    with at(utc(2026, 11, 19, 9)):
        services.case_report_compliance(actor=alpha, case_id=c.pk, reference="REFUND-LATE")
    body = figures()
    assert body["by_status"] == statuses(withdrawn=1, compliance=1)
    assert body["compliance"] == {"pending": 1, "confirmed": 0, "late": 0, "non_compliant": 0}
    with at(utc(2026, 11, 20, 9)):
        services.case_confirm_compliance(actor=es, case_id=c.pk)
    body = figures()
    assert body["total"] == 2 and body["by_status"] == statuses(withdrawn=1, closed=1)
    assert body["compliance"] == {"pending": 0, "confirmed": 0, "late": 1, "non_compliant": 0}
    assert body["compliance_rate"] == 1.0  # late is still carried out
    assert body["outcomes"] == {"settled": 1, "awarded": 0, "dismissed": 0, "withdrawn": 1, "rejected": 0, "closed": 0}
    assert body["durations"]["close_days"] == {"cases": 2, "median": 24.0, "p90": pytest.approx(41.6)}  # 2, 46
    assert body["deadline_breaches"]["total"] == 1
    row = merchant_row()
    assert (row["non_compliant_now"], row["compliance_rate"], row["open"]) == (0, 1.0, 0)

    # A draft is no complaint yet; submitted, it is.
    with at(utc(2026, 11, 21, 9)):
        draft = file(es, alpha, claim="15.00", submit=False)
    body = figures()
    assert body["total"] == 2 and body["amounts"][0]["claimed"]["amount"] == "140.00"
    assert merchant_row()["cases"] == 2
    with at(utc(2026, 11, 23, 9)):
        services.case_submit(actor=es, case_id=draft.pk)
    body = figures()
    assert body["total"] == 3 and body["by_status"] == statuses(withdrawn=1, closed=1, filed=1)
    assert body["amounts"][0]["claimed"]["amount"] == "155.00"
    assert body["by_month"][-1] == {"month": "2026-11", "cases": 1, "settled": 0, "awarded": 0, "non_compliant": 0}
    assert (merchant_row()["cases"], merchant_row()["open"]) == (3, 1)

    # What the moves kept is what a rebuild from the cases finds.
    kept = summary_rows()
    summaries.rebuild()
    assert summary_rows() == kept
    assert comparable(overview(Filters(), source="cases")) == comparable(overview(Filters()))


def test_a_move_changes_its_merchants_figures_and_no_other_merchants(db):
    es = user(Role.CONSUMER, country="ES", time_zone="Europe/Madrid")
    de = user(Role.CONSUMER, country="DE", time_zone="Europe/Berlin")
    alpha = user(Role.MERCHANT, country="CN", time_zone="Asia/Shanghai", legal_name="Alpha Trading Ltd")
    beta = user(Role.MERCHANT, country="DE", time_zone="Europe/Berlin", legal_name="Beta Versand GmbH")
    operator = user(Role.OPERATOR, country="IE", time_zone="UTC")
    shops = {"alpha": alpha.organisation_id, "beta": beta.organisation_id}

    def figures(name):
        body = get_ok(operator, OVERVIEW, merchant=shops[name])
        assert body["source"] == "summary"
        # Its cells agree with its cases at every step.
        assert comparable(body) == comparable(overview_json(overview(Filters(merchant=shops[name]), source="cases")))
        return comparable(body)

    with at(utc(2026, 6, 1, 9)):
        a = file(es, alpha, claim="100.00")
    with at(utc(2026, 6, 2, 9)):
        b = file(de, beta, category="defective", claim="60.00")
    alpha_filed, beta_filed = figures("alpha"), figures("beta")
    assert alpha_filed["total"] == 1 and alpha_filed["by_status"] == statuses(filed=1)
    assert beta_filed["total"] == 1 and beta_filed["by_status"] == statuses(filed=1)
    assert beta_filed["by_category"] == {"defective": 1}

    # Alpha accepts after 6 hours: its case is settled; Beta's figures do not move.
    with at(utc(2026, 6, 1, 15)):
        services.case_respond(actor=alpha, case_id=a.pk, position="accept", statement="Refund.")
    alpha_settled = figures("alpha")
    assert alpha_settled["by_status"] == statuses(settled=1)
    assert alpha_settled["outcomes"]["settled"] == 1 and alpha_settled["response_rate"] == 1.0
    assert alpha_settled["amounts"][0]["settled"] == {"amount": "100.00", "currency": "EUR"}
    assert alpha_settled["durations"]["response_hours"] == {"cases": 1, "median": 6.0, "p90": 6.0}
    assert figures("beta") == beta_filed

    # Beta lets its response deadline pass (the sweep): a missed deadline of Beta's, none of Alpha's.
    assert sweep_at(running(b, "merchant_response").due_at + dt.timedelta(minutes=1)) == [(b.pk, "merchant_response")]
    beta_defaulted = figures("beta")
    assert beta_defaulted["deadline_breaches"] == {
        "total": 1,
        "by_kind": {"merchant_response": 1, "final_notice": 0, "compliance": 0, "award": 0},
    }
    assert beta_defaulted["default_rate"] == 1.0
    assert figures("alpha") == alpha_settled
    assert get_ok(operator, OVERVIEW)["deadline_breaches"]["total"] == 1  # the whole platform's, from BreachCell

    # What the moves and the sweep kept is what a rebuild from the cases finds.
    kept = summary_rows()
    assert kept["merchant_cells"] and kept["merchant_breaches"]
    summaries.rebuild()
    assert summary_rows() == kept


# --- 5. operators alone ---------------------------------------------------------------------------------------
def test_operators_alone_reach_the_statistics_and_the_alerts(cast):
    case = file_case(cast)
    shop = cast.merchant.organisation
    window = {"window_start": case.filed_at - dt.timedelta(days=1), "window_end": case.filed_at + dt.timedelta(hours=1)}
    first, second = (
        RiskAlert.objects.create(
            kind="complaint_spike", merchant=shop, observed=20, expected=3, score=9.8, p_value=1e-9, **window
        )
        for _ in range(2)
    )
    reads = [OVERVIEW, MERCHANTS, ALERTS, f"{OVERVIEW}?format=csv", f"{MERCHANTS}?format=csv"]
    acknowledge = f"{ALERTS}{first.pk}/acknowledge/"
    sanction = f"{ALERTS}{second.pk}/sanction/"

    for who in (cast.consumer, cast.merchant, cast.mediator, cast.arbitrator):
        for url in reads:
            assert_error(client_for(who).get(url), 403, "forbidden")
        assert_error(client_for(who).post(acknowledge, {"note": "Seen."}, format="json"), 403, "forbidden")
        assert_error(client_for(who).post(sanction, {"reason": "Spike."}, format="json"), 403, "forbidden")
    for url in reads:
        assert_error(client_for(None).get(url), 401, "not_authenticated")
    assert_error(client_for(None).post(acknowledge, {"note": "Seen."}, format="json"), 401, "not_authenticated")
    assert_error(client_for(None).post(sanction, {"reason": "Spike."}, format="json"), 401, "not_authenticated")
    assert set(RiskAlert.objects.values_list("status", flat=True)) == {"open"}
    assert not Sanction.objects.exists()

    # The dashboard page: the same rule (other roles do not learn it exists).
    for who in (cast.consumer, cast.merchant, cast.mediator, cast.arbitrator):
        browser = Client()
        browser.force_login(who)
        assert browser.get("/oversight/").status_code == 404
    assert Client().get("/oversight/").status_code == 302  # to the log-in page
    browser = Client()
    browser.force_login(cast.operator)
    assert browser.get("/oversight/").status_code == 200

    for url in reads:
        assert client_for(cast.operator).get(url).status_code == 200, url
    assert client_for(cast.operator).post(acknowledge, {"note": "Seen."}, format="json").status_code == 200
    assert client_for(cast.operator).post(sanction, {"reason": "Spike."}, format="json").status_code == 201
    assert Sanction.objects.filter(merchant=shop).count() == 1


# --- 6. bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        (OVERVIEW, {"from": "2026-13"}, "from"),
        (OVERVIEW, {"to": "March"}, "to"),
        (OVERVIEW, {"from": "2026-02-30"}, "from"),
        (OVERVIEW, {"from": "2026-05", "to": "2026-03"}, "to"),
        (OVERVIEW, {"category": "fraudulent_shipping"}, "category"),
        (OVERVIEW, {"consumer_country": "XX"}, "consumer_country"),
        (OVERVIEW, {"merchant_country": "germany"}, "merchant_country"),
        (OVERVIEW, {"country": "ZZ"}, "country"),
        (OVERVIEW, {"merchant": "shop"}, "merchant"),
        (MERCHANTS, {"ordering": "bogus"}, "ordering"),
        (MERCHANTS, {"country": "XX"}, "country"),
        (ALERTS, {"status": "closed"}, "status"),
    ],
)
def test_bad_input_is_refused_in_the_error_shape_even_when_csv_is_asked_for(db, url, params, field):
    operator = user(Role.OPERATOR, country="IE", time_zone="UTC")
    asked = [{}] if url == ALERTS else [{}, {"format": "csv"}]  # the alerts have no CSV
    for extra in asked:
        response = client_for(operator).get(url, {**params, **extra})
        error = assert_error(response, 400, "invalid")
        assert "Content-Disposition" not in response  # no download of an error
        assert list(error["fields"]) == [field], error
        assert error["fields"][field][0]


def test_a_merchant_name_that_is_a_formula_is_written_to_csv_as_text(db):
    name = '=HYPERLINK("https://evil.example/refund","Get your refund")'
    consumer = user(Role.CONSUMER, country="ES", time_zone="Europe/Madrid")
    shop = user(Role.MERCHANT, country="CN", time_zone="Asia/Shanghai", legal_name=name)
    operator = user(Role.OPERATOR, country="IE", time_zone="UTC")
    with at(utc(2026, 6, 1, 9)):
        file(consumer, shop)

    response = client_for(operator).get(MERCHANTS, {"format": "csv"})

    assert response.status_code == 200
    _header, row = csv_rows(response)
    assert row[1] == "'" + name  # a spreadsheet shows it, never runs it
    assert row[2:5] == ["CN", "1", "1"]
    # The JSON keeps the name as it is.
    assert get_ok(operator, MERCHANTS)["results"][0]["merchant"]["legal_name"] == name
