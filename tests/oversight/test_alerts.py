"""The risk alerts: the Poisson tail and the robust z-score, a constructed complaint spike and category
burst against steady and noisy merchants, falling rates, the operator's acknowledgement and sanction from
an alert, and the risk score that orders the merchant table.

The alert job reads the cases table, so the many cases these tests need go in by bulk insert with their
filing moments (as ``seed_bulk`` does); ``summaries.rebuild`` then makes the merchant table's rows.
"""

import datetime as dt
import io
import itertools
import math
from decimal import Decimal

import pytest
from django.core.management import call_command

from accounts.models import MerchantOrganisation, Role
from cases.models import Case
from notifications.models import Notification
from oversight import risk
from oversight.models import RiskAlert, Sanction
from oversight.risk import count_test, poisson_tail, robust_z
from tests.conftest import client_for
from tests.factories import user

from .stats_helpers import ALERTS, MERCHANTS, assert_error, at, get_ok, utc

pytestmark = pytest.mark.django_db

#: When the scans run: a Wednesday noon. "This week" is 10 to 16 September 2026.
NOW = utc(2026, 9, 16, 12)
THIS_WEEK_STARTS = utc(2026, 9, 10)
CONSUMER_COUNTRIES = ["ES", "FR", "IT", "DE", "PL"]
_seq = itertools.count(1)


def pmf(k: int, lam: float) -> float:
    """P(X = k) for X ~ Poisson(lam), in log space (so that large k and lam stay finite)."""
    return math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1))


# --- building cases in bulk --------------------------------------------------------------------------------
def shop(name: str, country: str) -> MerchantOrganisation:
    return MerchantOrganisation.objects.create(legal_name=name, country=country, time_zone="UTC")


@pytest.fixture
def consumer(db):
    return user(Role.CONSUMER, country="ES", time_zone="Europe/Madrid")


def insert(
    consumer, merchant, moments, *, category="non_delivery", consumer_country=None, status="filed", **fields
) -> list[Case]:
    """One filed case per moment, straight into the cases table. Consumers' countries take turns among five
    unless given, so that no country pair bursts when one merchant's count does."""
    rows = []
    for i, moment in enumerate(moments):
        n = next(_seq)
        rows.append(
            Case(
                reference=f"RISK-{n:07d}",
                status=status,
                consumer=consumer,
                merchant=merchant,
                consumer_country=consumer_country or CONSUMER_COUNTRIES[i % len(CONSUMER_COUNTRIES)],
                merchant_country=merchant.country,
                category=category,
                remedy="refund",
                description="Bulk case for the risk tests.",
                order_reference=f"O-{n}",
                order_date=moment.date(),
                order_product="Gadget",
                order_price_amount=Decimal("10.00"),
                order_price_currency="EUR",
                claim_amount=Decimal("10.00"),
                claim_currency="EUR",
                created_at=moment,
                filed_at=moment,
                **fields,
            )
        )
    return Case.objects.bulk_create(rows)


def week_moments(week: int, count: int) -> list[dt.datetime]:
    """``count`` filing moments in week ``week`` before NOW (0: this week, up to an hour before NOW; k: the
    middle of the k-th week before, three days before its last day)."""
    if week == 0:
        return [NOW - dt.timedelta(minutes=1 + 30 * i) for i in range(count)]
    return [NOW - dt.timedelta(days=7 * week + 3, minutes=10 * i) for i in range(count)]


def weekly(consumer, merchant, counts: list[int], **fields) -> dict[int, list[Case]]:
    """``counts[0]`` cases this week, ``counts[k]`` in the k-th week before."""
    return {week: insert(consumer, merchant, week_moments(week, n), **fields) for week, n in enumerate(counts) if n}


# --- the tests' arithmetic ---------------------------------------------------------------------------------
def test_the_poisson_tail_matches_the_sum_of_the_probabilities():
    # P(X >= 5 | 1) = 1 - e^-1 (1 + 1 + 1/2 + 1/6 + 1/24)
    by_hand = 1 - math.exp(-1) * (1 + 1 + 1 / 2 + 1 / 6 + 1 / 24)
    assert by_hand == pytest.approx(0.0036598468, rel=1e-8)
    assert poisson_tail(5, 1.0) == pytest.approx(by_hand, rel=1e-12)
    assert poisson_tail(0, 4.0) == 1.0
    assert poisson_tail(1, 2.0) == pytest.approx(1 - math.exp(-2), rel=1e-12)
    assert poisson_tail(3, 0.5) == pytest.approx(1 - math.exp(-0.5) * (1 + 0.5 + 0.125), rel=1e-12)
    assert poisson_tail(12, 3.0) == pytest.approx(sum(pmf(k, 3.0) for k in range(12, 80)), rel=1e-6)
    # Each more complaint is less likely.
    tails = [poisson_tail(x, 3.0) for x in range(0, 40)]
    assert all(a > b for a, b in itertools.pairwise(tails))


def test_far_in_the_tail_the_probability_stays_small_but_positive():
    for x, lam in ((20, 1.0), (40, 3.0), (60, 1.0), (150, 1.0), (200, 50.0)):
        by_hand = sum(pmf(k, lam) for k in range(x, x + 300))
        tail = poisson_tail(x, lam)
        assert 0 < tail < 1e-12, (x, lam, tail)
        assert tail == pytest.approx(by_hand, rel=1e-9), (x, lam)


def test_the_poisson_tail_with_a_large_baseline():
    by_hand = sum(pmf(k, 800.0) for k in range(1000, 1600))  # about 7 standard deviations above
    assert by_hand < 1e-9
    assert poisson_tail(1000, 800.0) == pytest.approx(by_hand, rel=1e-6)


def test_the_robust_z_score_scales_by_the_median_absolute_deviation():
    # Median 3; deviations 1, 0, 0, 1, 7 -> MAD 1, scaled to 1.4826.
    assert robust_z(9, [2, 3, 3, 4, 10], lam=4.4) == pytest.approx(6 / 1.4826)
    # A baseline that never varied: the Poisson scale sqrt(lambda).
    assert robust_z(20, [3] * 12, lam=3.0) == pytest.approx(17 / math.sqrt(3))


def test_the_count_test_needs_the_poisson_test_the_z_score_and_the_minimum_count():
    spike = count_test([20] + [3] * 12)
    assert (spike.observed, spike.expected, spike.baseline) == (20, 3.0, [3] * 12)
    assert spike.p_value == pytest.approx(1 - sum(pmf(k, 3.0) for k in range(20)), rel=1e-4)
    assert spike.z == pytest.approx(17 / math.sqrt(3))
    assert spike.flagged(5) and not spike.flagged(21)
    # No history: lambda is floored at 0.5, and one complaint is nothing unusual.
    first = count_test([1] + [0] * 12)
    assert first.expected == 0.5
    assert first.p_value == pytest.approx(1 - math.exp(-0.5))
    assert not first.flagged(1)
    # A merchant whose weeks swing between 0 and 20: 25 is unlikely under Poisson(10) but like its usual
    # bad weeks (median 10, MAD 10): not flagged.
    swinging = count_test([25] + [0, 20] * 6)
    assert swinging.p_value < 0.001
    assert swinging.z == pytest.approx(15 / (1.4826 * 10))
    assert not swinging.flagged(5)


# --- complaint spikes and category bursts ---------------------------------------------------------------------
def alerts_now() -> list[RiskAlert]:
    return list(RiskAlert.objects.order_by("id"))


def test_a_spike_raises_one_alert_tells_every_operator_and_is_not_raised_again_within_a_week(
    consumer, django_capture_on_commit_callbacks
):
    operators = [user(Role.OPERATOR, country="IE", time_zone="UTC") for _ in range(2)]
    retired = user(Role.OPERATOR, country="IE", time_zone="UTC")
    retired.is_active = False
    retired.save(update_fields=["is_active"])
    user(Role.MEDIATOR, country="IE", time_zone="Europe/Dublin")
    spiky = shop("Spiky Gadgets", "CN")
    steady = shop("Steady Shoes", "DE")
    noisy = shop("Noisy Novelties", "US")
    swinging = shop("Swinging Sales", "GB")
    spike = weekly(consumer, spiky, [20] + [3] * 12)[0]
    weekly(consumer, steady, [8] * 13)  # the same count every week, this one too
    weekly(consumer, noisy, [10, 6, 4, 7, 5, 9, 6, 3, 8, 5, 7, 6, 4])  # Poisson-like; 10 is a bad week for it
    weekly(consumer, swinging, [25] + [0, 20] * 6)  # its weeks always swing

    with at(NOW), django_capture_on_commit_callbacks(execute=True) as pushed:
        raised = risk.scan()

    [alert] = raised
    assert alerts_now() == [alert]
    assert alert.kind == "complaint_spike"
    assert alert.merchant_id == spiky.pk
    assert (alert.category, alert.consumer_country, alert.merchant_country) == ("", "", "")
    assert (alert.observed, alert.expected) == (20, 3.0)
    assert alert.score == pytest.approx(17 / math.sqrt(3), abs=1e-3)
    assert alert.p_value == pytest.approx(1 - sum(pmf(k, 3.0) for k in range(20)), rel=1e-4)
    assert (alert.window_start, alert.window_end) == (THIS_WEEK_STARTS, NOW)
    assert alert.details["baseline_weeks"] == [3] * 12
    assert alert.status == "open" and alert.created_at == NOW
    assert all(THIS_WEEK_STARTS <= c.filed_at <= NOW for c in spike)
    # Every active operator is told, in the app; nobody else.
    notices = Notification.objects.filter(alert=alert)
    assert sorted(n.user_id for n in notices) == sorted(o.pk for o in operators)
    assert all(n.case_id is None and n.type == "risk_alert" and n.read_at is None for n in notices)
    assert Notification.objects.filter(type="risk_alert").count() == 2
    assert len(pushed) == 2  # to each operator's open pages, once the alert is committed
    [notice] = get_ok(operators[0], "/api/v1/notifications/")["results"]
    assert (notice["type"], notice["alert"], notice["case"]) == ("risk_alert", alert.pk, None)
    [listed] = get_ok(operators[0], ALERTS, status="open")["results"]
    assert listed["id"] == alert.pk and listed["merchant"]["id"] == spiky.pk
    assert (listed["observed"], listed["expected"]) == (20, 3.0)

    # Two days later the spike is still this week's, but it was raised already.
    with at(NOW + dt.timedelta(days=2)):
        assert risk.scan() == []
    assert alerts_now() == [alert]
    assert Notification.objects.filter(type="risk_alert").count() == 2
    # A week and a day later, another twenty: a new alert.
    later = NOW + dt.timedelta(days=8)
    insert(consumer, spiky, [later - dt.timedelta(minutes=1 + 30 * i) for i in range(20)])
    with at(later):
        [again] = risk.scan()
    assert (again.kind, again.merchant_id, again.observed) == ("complaint_spike", spiky.pk, 20)
    assert again.details["baseline_weeks"] == [20] + [3] * 11


def test_a_burst_of_one_category_in_one_country_pair_needs_twice_the_minimum_count(consumer):
    hk = [shop(f"HK Shop {i}", "HK") for i in range(10)]
    kr = [shop(f"KR Shop {i}", "KR") for i in range(10)]
    # One counterfeit complaint a week for twelve weeks in each pair, from one shop or another...
    for week in range(1, 13):
        insert(consumer, hk[week % 10], week_moments(week, 1), category="counterfeit", consumer_country="PL")
        insert(consumer, kr[week % 10], week_moments(week, 1), category="counterfeit", consumer_country="SE")
    # ...then, this week, ten from Poland against Hong Kong shops and nine from Sweden against Korean ones,
    # one per shop (no shop's own count is unusual).
    for i, moment in enumerate(week_moments(0, 10)):
        insert(consumer, hk[i], [moment], category="counterfeit", consumer_country="PL")
    for i, moment in enumerate(week_moments(0, 9)):
        insert(consumer, kr[i], [moment], category="counterfeit", consumer_country="SE")

    with at(NOW):
        raised = risk.scan()

    # Nine is far above one a week too, but a category burst needs 2 x 5 complaints.
    [alert] = raised
    assert alert.kind == "category_burst"
    assert alert.merchant_id is None
    assert (alert.category, alert.consumer_country, alert.merchant_country) == ("counterfeit", "PL", "HK")
    assert (alert.observed, alert.expected) == (10, 1.0)
    assert alert.score == pytest.approx(9.0)  # (10 - 1) / sqrt(1): the baseline never varied
    assert alert.details["baseline_weeks"] == [1] * 12
    with at(NOW + dt.timedelta(days=1)):
        assert risk.scan() == []


# --- falling rates ------------------------------------------------------------------------------------------
def answered(consumer, merchant, moments, *, responded: int):
    """Cases filed at ``moments``, the first ``responded`` answered after 10 hours, the rest defaulted."""
    cases = insert(consumer, merchant, moments[:responded], status="negotiation", response_position="contest")
    for case in cases:
        case.responded_at = case.filed_at + dt.timedelta(hours=10)
        case.response_hours = 10
    Case.objects.bulk_update(cases, ["responded_at", "response_hours"])
    insert(consumer, merchant, moments[responded:], status="defaulted", defaulted=True)


def spread(start: dt.datetime, count: int) -> list[dt.datetime]:
    return [start - dt.timedelta(hours=6 * i) for i in range(count)]


def test_a_response_rate_falling_between_the_windows_raises_an_alert(consumer):
    day = dt.timedelta(days=1)
    recent, prior = NOW - 20 * day, NOW - 60 * day  # filed 14 to 44 days ago; 44 to 134 days ago
    slipping = shop("Slipping Ltd", "CN")
    answered(consumer, slipping, spread(prior, 30), responded=30)  # 30 of 30 answered
    answered(consumer, slipping, spread(recent, 20), responded=10)  # then 10 of 20
    steady = shop("Steady Ltd", "CN")
    answered(consumer, steady, spread(prior, 30), responded=27)  # 0.9
    answered(consumer, steady, spread(recent, 20), responded=18)  # 0.9
    mild = shop("Mild Ltd", "CN")
    answered(consumer, mild, spread(prior, 30), responded=30)
    answered(consumer, mild, spread(recent, 20), responded=17)  # 0.85: a fall of 0.15
    thin = shop("Thin Ltd", "CN")
    answered(consumer, thin, spread(prior, 30), responded=30)
    answered(consumer, thin, spread(recent, 9), responded=3)  # too few recent cases to judge
    # Cases filed in the last 14 days have not had their full time to answer: not counted (with them, Mild's
    # recent rate would be 17 of 24, a fall of 0.29 and z = -3.2).
    answered(consumer, mild, spread(NOW - 2 * day, 4), responded=0)

    with at(NOW):
        raised = risk.scan()

    [alert] = raised
    assert (alert.kind, alert.merchant_id) == ("response_drop", slipping.pk)
    assert (alert.observed, alert.expected) == (0.5, 1.0)
    assert alert.details["recent"] == [10, 20] and alert.details["before"] == [30, 30]
    # Pooled 40 / 50; z = (0.5 - 1.0) / sqrt(0.8 x 0.2 x (1/20 + 1/30)).
    assert alert.score == pytest.approx(-0.5 / math.sqrt(0.8 * 0.2 * (1 / 20 + 1 / 30)), abs=1e-3)
    assert alert.p_value == pytest.approx(0.5 * math.erfc(4.3301 / math.sqrt(2)), rel=1e-3)
    assert (alert.window_start, alert.window_end) == (NOW - 44 * day, NOW - 14 * day)
    with at(NOW + 3 * day):
        assert risk.scan() == []


def test_a_compliance_rate_falling_raises_an_alert(consumer):
    day = dt.timedelta(days=1)

    def decided(merchant, when, *, confirmed: int, not_done: int):
        moments = spread(when, confirmed + not_done)
        for i, resolved in enumerate(moments):
            done = i < confirmed
            insert(
                consumer,
                merchant,
                [resolved - 20 * day],
                status="closed" if done else "non_compliant",
                resolution="settled",
                resolved_at=resolved,
                outcome={
                    "kind": "settlement",
                    "amount": {"amount": "10.00", "currency": "EUR"},
                    "compliance": "confirmed" if done else "non_compliant",
                },
            )

    failing = shop("Failing Ltd", "CN")
    decided(failing, NOW - 60 * day, confirmed=20, not_done=0)  # carried out 20 of 20
    decided(failing, NOW - 10 * day, confirmed=4, not_done=8)  # then 4 of 12
    reliable = shop("Reliable Ltd", "CN")
    decided(reliable, NOW - 60 * day, confirmed=20, not_done=0)
    decided(reliable, NOW - 10 * day, confirmed=12, not_done=0)

    with at(NOW):
        [alert] = risk.scan()

    assert (alert.kind, alert.merchant_id) == ("compliance_drop", failing.pk)
    assert (alert.observed, alert.expected) == (round(4 / 12, 4), 1.0)
    assert alert.details["recent"] == [4, 12] and alert.details["before"] == [20, 20]
    # Pooled 24 / 32 = 0.75.
    assert alert.score == pytest.approx((4 / 12 - 1) / math.sqrt(0.75 * 0.25 * (1 / 12 + 1 / 20)), abs=1e-3)


# --- what the operator does with an alert ---------------------------------------------------------------------
@pytest.fixture
def spike_and_burst(consumer):
    """A complaint spike (Spiky Gadgets, 20 this week against 3 a week) and a category burst (Polish
    consumers against Hong Kong shops, 10 counterfeit complaints this week against 1 a week), scanned."""
    spiky = shop("Spiky Gadgets", "CN")
    weekly(consumer, spiky, [20] + [3] * 12)
    hk = [shop(f"HK Shop {i}", "HK") for i in range(10)]
    for week in range(1, 13):
        insert(consumer, hk[week % 10], week_moments(week, 1), category="counterfeit", consumer_country="PL")
    for i, moment in enumerate(week_moments(0, 10)):
        insert(consumer, hk[i], [moment], category="counterfeit", consumer_country="PL")
    with at(NOW):
        raised = risk.scan()
    alerts = {a.kind: a for a in raised}
    assert sorted(alerts) == ["category_burst", "complaint_spike"]
    this_week = Case.objects.filter(merchant=spiky, filed_at__gte=THIS_WEEK_STARTS)
    assert this_week.count() == 20
    return (
        alerts["complaint_spike"],
        alerts["category_burst"],
        spiky,
        set(this_week.values_list("pk", flat=True)),
    )


def test_acknowledging_an_alert_takes_it_off_the_open_list_once(spike_and_burst):
    spike, burst, _spiky, _cases = spike_and_burst
    operator = user(Role.OPERATOR, country="IE", time_zone="UTC")
    assert {a["id"] for a in get_ok(operator, ALERTS, status="open")["results"]} == {spike.pk, burst.pk}

    response = client_for(operator).post(f"{ALERTS}{burst.pk}/acknowledge/", {"note": "A known fake batch."})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "acknowledged" and body["note"] == "A known fake batch."
    assert body["handled_at"] is not None
    burst.refresh_from_db()
    assert (burst.status, burst.handled_by_id) == ("acknowledged", operator.pk)
    assert [a["id"] for a in get_ok(operator, ALERTS, status="open")["results"]] == [spike.pk]
    assert [a["id"] for a in get_ok(operator, ALERTS, status="acknowledged")["results"]] == [burst.pk]
    assert {a["id"] for a in get_ok(operator, ALERTS)["results"]} == {spike.pk, burst.pk}

    again = client_for(operator).post(f"{ALERTS}{burst.pk}/acknowledge/", {"note": "Again."})
    assert_error(again, 409, "invalid_state")
    burst.refresh_from_db()
    assert burst.note == "A known fake batch."
    assert_error(client_for(operator).post(f"{ALERTS}999999/acknowledge/", {}), 404, "not_found")


def test_a_sanction_from_a_merchant_alert_cites_the_cases_of_its_window(
    spike_and_burst, django_capture_on_commit_callbacks
):
    spike, burst, spiky, this_week = spike_and_burst
    operator = user(Role.OPERATOR, country="IE", time_zone="UTC")

    # Grounds the operator names must be the merchant's own cases; refused, the alert stays open.
    elsewhere = Case.objects.exclude(merchant=spiky).first()
    error = assert_error(
        client_for(operator).post(
            f"{ALERTS}{spike.pk}/sanction/", {"reason": "Spike.", "cases": [str(elsewhere.pk)]}, format="json"
        ),
        400,
        "invalid",
    )
    assert "cases" in error["fields"]
    spike.refresh_from_db()
    assert spike.status == "open" and not Sanction.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(operator).post(
            f"{ALERTS}{spike.pk}/sanction/", {"reason": "Twenty complaints in a week."}, format="json"
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "actioned"
    [sanction] = Sanction.objects.filter(merchant=spiky)
    assert body["sanction"] == sanction.pk
    assert (sanction.level, sanction.reason, sanction.imposed_by_id) == (
        "warning",
        "Twenty complaints in a week.",
        operator.pk,
    )
    # The grounds: the complaints filed in the alert's window (not the baseline weeks').
    assert set(sanction.cases.values_list("pk", flat=True)) == this_week
    spike.refresh_from_db()
    assert (spike.status, spike.sanction_id, spike.note) == ("actioned", sanction.pk, "Twenty complaints in a week.")
    assert get_ok(operator, ALERTS, status="open")["results"][0]["id"] == burst.pk
    [entry] = client_for(None).get("/api/v1/compliance-register/").json()["sanctioned_merchants"]
    assert entry["merchant"] == {"id": spiky.pk, "legal_name": "Spiky Gadgets", "country": "CN"}
    assert entry["level"] == "warning" and entry["reason"] == "Twenty complaints in a week."

    # Once actioned, an alert is done with.
    assert_error(client_for(operator).post(f"{ALERTS}{spike.pk}/sanction/", {"reason": "Again."}), 409, "invalid_state")
    assert_error(client_for(operator).post(f"{ALERTS}{spike.pk}/acknowledge/", {}), 409, "invalid_state")
    # A category burst names no merchant to sanction.
    assert_error(client_for(operator).post(f"{ALERTS}{burst.pk}/sanction/", {"reason": "Fakes."}), 409, "invalid_state")
    assert Sanction.objects.count() == 1
    # A sanction needs its reason.
    error = assert_error(client_for(operator).post(f"{ALERTS}{burst.pk}/sanction/", {}), 400, "invalid")
    assert "reason" in error["fields"]


# --- the risk score ---------------------------------------------------------------------------------------------
def test_the_merchant_table_lists_the_riskiest_merchants_first(consumer):
    spiky = shop("Spiky Gadgets", "CN")
    steady = shop("Steady Shoes", "DE")
    defaulter = shop("Never Pays", "US")
    weekly(consumer, spiky, [20] + [3] * 12)
    weekly(consumer, steady, [8] * 13)
    outcome = {
        "kind": "award",
        "amount": {"amount": "10.00", "currency": "EUR"},
        "compliance": "non_compliant",
        "non_compliant_at": "2026-08-01T00:00:00Z",
    }
    weekly(consumer, defaulter, [0, 0, 0, 0, 0, 3], status="non_compliant", resolution="awarded", outcome=outcome)
    operator = user(Role.OPERATOR, country="IE", time_zone="UTC")
    assert get_ok(operator, MERCHANTS)["results"] == []  # inserted in bulk: no summaries yet

    out = io.StringIO()
    with at(NOW):
        call_command("stats_rebuild", stdout=out)  # the summaries from the cases, then the risk scan

    assert "3 merchants" in out.getvalue() and "risk scan: 1 new alerts" in out.getvalue()

    rows = get_ok(operator, MERCHANTS, ordering="risk")["results"]
    assert [r["merchant"]["id"] for r in rows] == [defaulter.pk, spiky.pk, steady.pk]
    by_id = {r["merchant"]["id"]: r for r in rows}
    # Not one of its three awards carried out: 10 x (1 - 0) + 2 x 3.
    assert (by_id[defaulter.pk]["risk_score"], by_id[defaulter.pk]["risk_flags"]) == (16.0, ["non_compliant"])
    # This week's count as strong as it gets (-log10 p, at most 10).
    assert (by_id[spiky.pk]["risk_score"], by_id[spiky.pk]["risk_flags"]) == (10.0, ["complaint_spike"])
    assert by_id[spiky.pk]["recent_cases"] == 20
    assert 0 < by_id[steady.pk]["risk_score"] < 1 and by_id[steady.pk]["risk_flags"] == []
    # By size, the steady merchant comes first.
    by_cases = get_ok(operator, MERCHANTS, ordering="cases")["results"]
    assert [r["merchant"]["id"] for r in by_cases] == [steady.pk, spiky.pk, defaulter.pk]
