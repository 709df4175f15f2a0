"""Double-blind bidding: the rule (settle at the midpoint when the merchant's offer reaches the consumer's
demand or comes within ODR_BLIND_BID_GAP of it), the rounds, and the secrecy: one party's figure never
reaches the other party, the neutral or the operator, by any route.
"""

import json
import re

import pytest
from channels.db import database_sync_to_async as sync_to_async
from django.contrib import admin
from django.core import mail
from django.db import connections

from accounts.models import Role
from cases.events import canonical, sha256
from cases.models import Case, CaseEvent
from cases.money import Money
from mediation.models import BlindBid, ChatMessage
from mediation.services import blind_midpoint, blind_settles
from tests.conftest import client_for
from tests.factories import Cast, case_in, user
from tests.mediation.helpers import case_in_currency, dec, money, page_client, session_cookie, unzip_all, url, ws


def bid(user_, case, amount, currency="EUR"):
    return client_for(user_).post(url(case, "blind-bids/"), {"amount": money(amount, currency)}, format="json")


# --- the rule -------------------------------------------------------------------------------------
THRESHOLDS = [
    # currency, demand (consumer), offer (merchant), settles at (None: no settlement)
    pytest.param("EUR", "100.00", "90.00", "95.00", id="exactly-at-the-gap"),
    pytest.param("EUR", "100.00", "89.99", None, id="a-cent-below-the-gap"),
    pytest.param("EUR", "100.00", "100.00", "100.00", id="offer-equals-demand"),
    pytest.param("EUR", "100.00", "120.00", "110.00", id="offer-above-demand"),
    pytest.param("EUR", "100.01", "100.00", "100.01", id="half-cent-rounds-up"),
    pytest.param("EUR", "100.03", "90.03", "95.03", id="half-cent-rounds-up-not-to-even"),
    pytest.param("JPY", "1001", "1000", "1001", id="jpy-half-yen-rounds-up"),
    pytest.param("JPY", "10000", "9000", "9500", id="jpy-at-the-gap"),
    pytest.param("JPY", "10000", "8999", None, id="jpy-a-yen-below"),
    pytest.param("KWD", "100.000", "90.001", "95.001", id="three-decimals-half-rounds-up"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("currency,demand,offer,settles_at", THRESHOLDS)
@pytest.mark.parametrize("consumer_first", [True, False], ids=["consumer-first", "merchant-first"])
def test_the_rule_at_its_threshold(currency, demand, offer, settles_at, consumer_first):
    cast = Cast.make()
    claim = {"EUR": "150.00", "JPY": "15000", "KWD": "150.000"}[currency]
    case = case_in_currency(cast, "negotiation", claim=claim, currency=currency)
    bids = [(cast.consumer, demand), (cast.merchant, offer)]
    if not consumer_first:
        bids.reverse()

    first = bid(bids[0][0], case, bids[0][1], currency)
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "waiting"
    second = bid(bids[1][0], case, bids[1][1], currency)
    assert second.status_code == 201, second.content
    result = second.json()

    case.refresh_from_db()
    if settles_at is None:
        assert result["status"] == "no_agreement"
        assert "amount" not in result
        assert case.status == "negotiation"
        assert not case.outcome
    else:
        assert result["status"] == "settled"
        assert result["amount"] == {"amount": settles_at, "currency": currency}
        assert case.status == "settled"
        assert case.outcome["source"] == "blind_bidding"
        assert case.outcome["amount"] == {"amount": settles_at, "currency": currency}
        assert case.outcome["round"] == 1
        assert case.outcome["remedy"] == case.remedy
        assert case.outcome["comply_by"]
        assert case.events.order_by("-seq").first().type == "blind_bidding_settled"
        state = client_for(cast.consumer).get(url(case, "blind-bids/")).json()
        assert state["settled"] is True and state["settlement"] == {"amount": settles_at, "currency": currency}
        assert state["current_round"] is None


@pytest.mark.parametrize(
    "demand,offer,currency,midpoint",
    [("100.01", "100.00", "EUR", "100.01"), ("1001", "1000", "JPY", "1001"), ("0.03", "0.02", "EUR", "0.03")],
)
def test_the_midpoint_rounds_half_up_to_the_currencys_minor_units(demand, offer, currency, midpoint):
    assert str(blind_midpoint(dec(demand), dec(offer), currency)) == midpoint


@pytest.mark.django_db
@pytest.mark.parametrize(
    "gap,offer,settles_at",
    [
        ("0.20", "80.00", "90.00"),
        ("0.20", "79.99", None),
        ("0.05", "95.00", "97.50"),
        ("0.05", "94.99", None),
        ("0.05", "90.00", None),  # would settle under the default 10 %
        ("0", "99.99", None),
        ("0", "100.00", "100.00"),
    ],
)
def test_the_threshold_follows_the_configured_gap(settings, cast, gap, offer, settles_at):
    settings.ODR_BLIND_BID_GAP = gap
    assert blind_settles(dec("100.00"), dec(offer)) is (settles_at is not None)
    case = case_in("negotiation", cast)
    bid(cast.consumer, case, "100.00")
    result = bid(cast.merchant, case, offer).json()
    if settles_at is None:
        assert result["status"] == "no_agreement"
    else:
        assert result["status"] == "settled"
        assert result["amount"]["amount"] == settles_at
    assert client_for(cast.consumer).get(url(case, "blind-bids/")).json()["gap"] == gap


# --- rounds ---------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_three_rounds_one_bid_per_party_each_then_no_more(cast):
    case = case_in("negotiation", cast)
    figures = [("900.00", "100.00"), ("800.00", "200.00"), ("700.00", "300.00")]
    for number, (demand, offer) in enumerate(figures, start=1):
        first = bid(cast.consumer, case, demand)
        assert first.status_code == 201
        assert first.json()["round"] == number and first.json()["status"] == "waiting"
        again = bid(cast.consumer, case, "1.00")
        assert again.status_code == 409  # one bid per party and round
        second = bid(cast.merchant, case, offer)
        assert second.status_code == 201
        assert second.json()["round"] == number
        assert second.json()["status"] == ("ended" if number == 3 else "no_agreement")
        assert second.json()["rounds_left"] == 3 - number
    fourth = bid(cast.merchant, case, "950.00")
    assert fourth.status_code == 409
    assert bid(cast.consumer, case, "100.00").status_code == 409
    assert BlindBid.objects.filter(case=case).count() == 6
    case.refresh_from_db()
    assert case.status == "negotiation"
    failed = list(case.events.filter(type="blind_bidding_round_failed").order_by("seq"))
    assert [e.payload for e in failed] == [
        {"round": 1, "rounds_left": 2, "ended": False},
        {"round": 2, "rounds_left": 1, "ended": False},
        {"round": 3, "rounds_left": 0, "ended": True},
    ]
    state = client_for(cast.merchant).get(url(case, "blind-bids/")).json()
    assert state["current_round"] is None and state["settled"] is False
    assert [r["complete"] for r in state["rounds"]] == [True, True, True]


@pytest.mark.django_db
def test_the_merchant_bidding_twice_in_a_round_is_refused_before_the_consumer_bids(cast):
    case = case_in("negotiation", cast)
    assert bid(cast.merchant, case, "50.00").status_code == 201
    assert bid(cast.merchant, case, "60.00").status_code == 409
    assert BlindBid.objects.get(case=case).amount == dec("50.00")


@pytest.mark.django_db
def test_a_failed_round_reveals_nothing_but_that_it_failed(cast):
    case = case_in("negotiation", cast)
    bid(cast.consumer, case, "8765.43")
    answer = bid(cast.merchant, case, "1234.56")
    assert answer.status_code == 201
    assert "8765" not in answer.content.decode()
    assert answer.json()["status"] == "no_agreement"
    for viewer, own, hidden in ((cast.consumer, "8765.43", "1234.56"), (cast.merchant, "1234.56", "8765.43")):
        state = client_for(viewer).get(url(case, "blind-bids/"))
        text = state.content.decode()
        assert hidden.split(".")[0] not in text
        round1 = state.json()["rounds"][0]
        assert round1 == {
            "round": 1,
            "mine": {"amount": own, "currency": "EUR"},
            "other_submitted": True,
            "complete": True,
        }
        assert state.json()["current_round"] == 2


@pytest.mark.django_db
def test_who_may_bid(cast):
    case = case_in("negotiation", cast)
    assert bid(cast.operator, case, "50.00").status_code == 403
    assert bid(user(Role.CONSUMER), case, "50.00").status_code == 404
    assert bid(user(Role.MEDIATOR), case, "50.00").status_code == 404
    assert bid(cast.consumer, case, "50.00", "USD").status_code == 400
    assert bid(cast.consumer, case, "0.00").status_code == 400
    assert bid(cast.consumer, case, "-5.00").status_code == 400
    assert not BlindBid.objects.filter(case=case).exists()
    mediation = case_in("mediation", cast)
    assert bid(cast.mediator, mediation, "50.00").status_code == 403
    for state in ("jurisdiction", "arbitration", "settled"):
        assert bid(cast.consumer, case_in(state, cast), "50.00").status_code == 409


@pytest.mark.django_db
def test_the_page_form_enters_a_hidden_figure(cast):
    case = case_in("negotiation", cast)
    consumer = page_client(cast.consumer)
    answer = consumer.post(f"/cases/{case.pk}/blind-bids/", {"amount": "105.00"})
    assert answer.status_code == 302
    assert answer["Location"] == f"/cases/{case.pk}/#h-blind"
    merchant = page_client(cast.merchant)
    assert "105.00" not in merchant.get(f"/cases/{case.pk}/").content.decode()
    merchant.post(f"/cases/{case.pk}/blind-bids/", {"amount": "99.00"})
    case.refresh_from_db()
    assert case.status == "settled"
    assert case.outcome["amount"] == {"amount": "102.00", "currency": "EUR"}


# --- the commitment -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_the_log_holds_a_salted_commitment_to_each_figure_and_not_the_figure(cast):
    case = case_in("negotiation", cast)
    bid(cast.consumer, case, "7777.77")
    bid(cast.merchant, case, "1234.56")
    events = {e.payload["party"]: e for e in CaseEvent.objects.filter(case=case, type="blind_bid")}
    assert set(events) == {"consumer", "merchant"}
    for party, figure in (("consumer", "7777.77"), ("merchant", "1234.56")):
        row = BlindBid.objects.get(case=case, party=party)
        event = events[party]
        assert set(event.payload) == {"party", "round", "commitment"}
        assert event.payload["round"] == 1
        assert len(row.salt) == 32
        expected = sha256(canonical({"amount": figure, "currency": "EUR", "salt": row.salt}))
        assert event.payload["commitment"] == expected == row.commitment
        # The commitment binds the figure: another figure or another salt gives another hash.
        assert sha256(canonical({"amount": "7777.78", "currency": "EUR", "salt": row.salt})) != expected
        assert sha256(canonical({"amount": figure, "currency": "EUR", "salt": "0" * 32})) != expected
        assert Money(row.amount, row.currency).as_dict()["amount"] == figure
        assert figure not in json.dumps(event.payload)
    assert (
        BlindBid.objects.get(case=case, party="consumer").salt != BlindBid.objects.get(case=case, party="merchant").salt
    )


# --- secrecy: the figures never leak --------------------------------------------------------------
def figure_pattern(figure: str) -> re.Pattern:
    """``7777.77`` as any rendering would show it: 7777.77, 7,777.77, 7777,77, 7.777,77, 7777.7700."""
    whole, cents = figure.split(".")
    grouped = whole[:-3] + r"[,.\u00a0 ]?" + whole[-3:] if len(whole) > 3 else whole
    return re.compile(grouped + r"[.,]" + cents)


def everything_visible_to(viewer, case) -> dict[str, str]:
    """Every surface ``viewer`` reads the case through, as text: API, events, notifications, page, export."""
    api = client_for(viewer)
    seen = {}
    for name, path in (
        ("blind-bids", url(case, "blind-bids/")),
        ("case", url(case)),
        ("offers", url(case, "offers/")),
        ("notifications", "/api/v1/notifications/"),
    ):
        answer = api.get(path)
        assert answer.status_code == 200, (name, answer.status_code)
        seen[name] = answer.content.decode()
    events, path = [], url(case, "events/")
    while path:
        page = api.get(path).json()
        events += page["results"]
        path = page.get("next")
    assert events
    seen["events"] = json.dumps([e["payload"] for e in events], ensure_ascii=False)
    browser = page_client(viewer)
    seen["case page"] = browser.get(f"/cases/{case.pk}/").content.decode()
    seen["notifications page"] = browser.get("/notifications/").content.decode()
    seen["emails"] = "\n".join(f"{m.subject}\n{m.body}" for m in mail.outbox if viewer.email in m.to)
    export = api.get(url(case, "export/"))
    assert export.status_code == 200
    for name, data in unzip_all(b"".join(export.streaming_content)).items():
        seen[f"export {name}"] = data.decode("utf-8", errors="replace")
    return seen


def assert_hidden(seen: dict[str, str], figures, who: str):
    for figure in figures:
        pattern = figure_pattern(figure)
        leaks = [name for name, text in seen.items() if pattern.search(text)]
        assert not leaks, f"{figure} is visible to the {who} in: {leaks}"


CONSUMER_FIGURES = ["7777.77", "6666.66", "4444.44"]
MERCHANT_FIGURES = ["1234.56", "2345.67", "4200.02"]
MIDPOINT = "4322.23"  # (4444.44 + 4200.02) / 2


@pytest.mark.django_db
def test_the_figures_never_leak_to_the_other_party_the_mediator_or_the_operator(cast):
    case = case_in("mediation", cast)  # the mediator can read the case
    colleague_free = [cast.merchant, cast.mediator, cast.operator]

    # Round 1: the consumer has bid; the merchant not yet.
    assert bid(cast.consumer, case, CONSUMER_FIGURES[0]).json()["status"] == "waiting"
    for viewer in colleague_free:
        assert_hidden(everything_visible_to(viewer, case), CONSUMER_FIGURES[:1], viewer.role)
    assert client_for(cast.merchant).get(url(case, "blind-bids/")).json()["rounds"][0]["other_submitted"] is True

    # Rounds 1 and 2 fail; round 3 settles.
    assert bid(cast.merchant, case, MERCHANT_FIGURES[0]).json()["status"] == "no_agreement"
    assert bid(cast.merchant, case, MERCHANT_FIGURES[1]).json()["status"] == "waiting"
    assert bid(cast.consumer, case, CONSUMER_FIGURES[1]).json()["status"] == "no_agreement"
    for viewer in (cast.consumer, cast.mediator, cast.operator):
        assert_hidden(everything_visible_to(viewer, case), MERCHANT_FIGURES[:2], viewer.role)
    for viewer in colleague_free:
        assert_hidden(everything_visible_to(viewer, case), CONSUMER_FIGURES[:2], viewer.role)

    bid(cast.consumer, case, CONSUMER_FIGURES[2])
    settled = bid(cast.merchant, case, MERCHANT_FIGURES[2]).json()
    assert settled["status"] == "settled"
    assert settled["amount"] == {"amount": MIDPOINT, "currency": "EUR"}
    assert Case.objects.get(pk=case.pk).status == "settled"

    # After settlement only the midpoint appears.
    for viewer, hidden in (
        (cast.consumer, MERCHANT_FIGURES),
        (cast.merchant, CONSUMER_FIGURES),
        (cast.mediator, CONSUMER_FIGURES + MERCHANT_FIGURES),
        (cast.operator, CONSUMER_FIGURES + MERCHANT_FIGURES),
    ):
        seen = everything_visible_to(viewer, case)
        assert_hidden(seen, hidden, viewer.role)
        assert MIDPOINT in seen["case"] and MIDPOINT in seen["events"] and MIDPOINT in seen["case page"]
        assert MIDPOINT in seen[next(n for n in seen if n.endswith("case.json"))]
    # Each party still sees their own figures (which also shows the search would find a leak).
    own = client_for(cast.consumer).get(url(case, "blind-bids/")).json()
    assert [r["mine"]["amount"] for r in own["rounds"]] == CONSUMER_FIGURES
    mine = everything_visible_to(cast.merchant, case)
    for figure in MERCHANT_FIGURES:
        assert figure_pattern(figure).search(mine["blind-bids"]) and figure_pattern(figure).search(mine["case page"])


def test_blind_bids_and_chat_messages_are_not_in_the_admin():
    assert BlindBid not in admin.site._registry
    assert ChatMessage not in admin.site._registry


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_figures_never_reach_the_other_partys_websockets():
    cast = await sync_to_async(Cast.make)()
    case = await sync_to_async(case_in)("mediation", cast)
    sockets = {}
    for party in ("consumer", "merchant", "mediator"):
        cookie = await sync_to_async(session_cookie)(getattr(cast, party))
        chat = ws(f"/ws/cases/{case.pk}/chat/joint/", cookie=cookie)
        notices = ws("/ws/notifications/", cookie=cookie)
        assert (await chat.connect())[0] and (await notices.connect())[0]
        sockets[party] = (chat, notices)

    heard = {party: [] for party in sockets}

    closed = set()

    async def drain():
        for party, pair in sockets.items():
            for socket in pair:
                while id(socket) not in closed and not await socket.receive_nothing(timeout=0.2):
                    output = await socket.receive_output(timeout=1)
                    heard[party].append(json.dumps(output, ensure_ascii=False))
                    if output["type"] == "websocket.close":
                        closed.add(id(socket))

    steps = [
        (cast.consumer, CONSUMER_FIGURES[0]),
        (cast.merchant, MERCHANT_FIGURES[0]),  # round 1 fails: both parties are told
        (cast.merchant, MERCHANT_FIGURES[2]),
        (cast.consumer, CONSUMER_FIGURES[2]),  # round 2 settles at (4444.44 + 4200.02) / 2
    ]
    for bidder, figure in steps:
        answer = await sync_to_async(bid)(bidder, case, figure)
        assert answer.status_code == 201
        await drain()

    assert any("notification" in m for m in heard["merchant"]), "the merchant's socket heard nothing at all"
    for party, hidden in (
        ("consumer", MERCHANT_FIGURES),
        ("merchant", CONSUMER_FIGURES),
        ("mediator", CONSUMER_FIGURES + MERCHANT_FIGURES),
    ):
        assert_hidden({f"{party} websocket": "\n".join(heard[party])}, hidden, party)
    for pair in sockets.values():
        for socket in pair:
            await socket.disconnect()
    await sync_to_async(connections.close_all)()
