"""Concurrent requests on one case, on real PostgreSQL: row locks keep two moves from both winning.

Each race starts its threads on a ``threading.Barrier`` so the requests leave together; every thread has
its own database connection (Django's connections are per thread) and closes it at the end. The races go
through the HTTP API, except the many-appends one, which calls the service directly to squeeze the
requests closer together. Each race runs for several rounds, each on a fresh case.
"""

import datetime as dt
import threading
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from django.utils import timezone

from cases import services
from cases.deadlines import deadline_sweep
from cases.events import GENESIS, chain_verify
from cases.models import Case, CaseEvent, Deadline
from tests.conftest import client_for, require_postgres
from tests.factories import Cast, case_in, file_case, merchant_colleague

ROUNDS = 10
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_together(calls):
    """Run each callable in its own thread, all released at once; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except BaseException as exc:  # reported by the test, not lost in the thread
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


def post_action(client, case_id, action, body):
    def call():
        response = client.post(f"/api/v1/cases/{case_id}/actions/{action}/", body, format="json")
        return response.status_code, response.json()

    return call


def assert_sequence_and_chain(case):
    events = list(CaseEvent.objects.filter(case=case).order_by("seq"))
    assert [e.seq for e in events] == list(range(1, len(events) + 1)), "gaps or duplicates in the sequence"
    assert events[0].prev_hash == GENESIS
    for previous, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == previous.hash
    report = chain_verify(case)
    assert report.ok, report
    assert report.count == len(events)
    return events


@dataclass
class Move:
    who: str  # an attribute of the race's users
    action: str
    body: dict
    target: str


@dataclass
class Race:
    start: str
    a: Move
    b: Move
    merchant_offer: bool = False
    id: str = ""
    #: What happens to the case after ``case_in`` and before the race: ``step(cast, case) -> case``.
    steps: tuple = ()


def _dispute_compliance(cast, case):
    return services.case_dispute_compliance(actor=cast.consumer, case_id=case.pk, reason="Nothing arrived.")


#: Pairs of moves that exclude each other: after either one, the other is no longer allowed.
RACES = [
    Race(
        "filed",
        Move("consumer", "withdraw", {"reason": "Sorted it out with my bank."}, "withdrawn"),
        Move("operator", "reject", {"reason": "Outside the platform's scope."}, "rejected"),
        id="withdraw-vs-reject",
    ),
    Race(
        "filed",
        Move("merchant", "respond", {"position": "contest", "statement": "It was delivered."}, "jurisdiction"),
        Move("operator", "declare_default", {}, "defaulted"),
        id="respond-vs-declare_default",
    ),
    Race(
        "filed",
        Move(
            "merchant",
            "respond",
            {"position": "offer", "statement": "Half back.", "offer": {"amount": "40.00", "currency": "EUR"}},
            "jurisdiction",
        ),
        Move("colleague", "respond", {"position": "accept", "statement": "We refund in full."}, "settled"),
        id="two-merchant-users-respond",
    ),
    Race(
        "negotiation",
        Move("consumer", "accept_settlement", {}, "settled"),
        Move("consumer", "accept_settlement", {}, "settled"),
        merchant_offer=True,
        id="accept_settlement-twice",
    ),
    Race(
        "mediation",
        Move("consumer", "accept_settlement", {}, "settled"),
        Move("merchant", "escalate", {"reason": "No progress."}, "arbitration"),
        merchant_offer=True,
        id="accept_settlement-vs-escalate",
    ),
    Race(
        "arbitration",
        Move("consumer", "withdraw", {}, "withdrawn"),
        Move(
            "arbitrator",
            "issue_award",
            {
                "decision": "granted",
                "amount": {"amount": "89.90", "currency": "EUR"},
                "remedy": "refund",
                "reasons": "x",
            },
            "awarded",
        ),
        id="withdraw-vs-issue_award",
    ),
    Race(
        "compliance",
        Move("consumer", "confirm_compliance", {}, "closed"),
        Move("operator", "close", {"reason": "Performed."}, "closed"),
        id="confirm_compliance-vs-close",
    ),
    # One dispute at a time: the second waits for the operator's decision of the first.
    Race(
        "compliance",
        Move("consumer", "dispute_compliance", {"reason": "Nothing arrived."}, "compliance"),
        Move("consumer", "dispute_compliance", {"reason": "The parcel was empty."}, "compliance"),
        id="dispute_compliance-twice",
    ),
    Race(
        "compliance",
        Move("consumer", "confirm_compliance", {}, "closed"),
        Move(
            "operator", "decide_compliance", {"upheld": True, "reason": "The carrier has no record."}, "non_compliant"
        ),
        steps=(_dispute_compliance,),
        id="confirm-vs-decide_compliance",
    ),
    Race(
        "compliance",
        Move("operator", "decide_compliance", {"upheld": True, "reason": "Not delivered."}, "non_compliant"),
        Move("operator", "decide_compliance", {"upheld": False, "reason": "Delivered."}, "closed"),
        steps=(_dispute_compliance,),
        id="decide_compliance-twice",
    ),
]


class Users:
    def __init__(self):
        self.cast = Cast.make()
        self.consumer, self.merchant, self.operator = self.cast.consumer, self.cast.merchant, self.cast.operator
        self.colleague = merchant_colleague(self.cast.merchant)
        self.clients = {name: client_for(getattr(self, name)) for name in ("consumer", "merchant", "colleague")}
        self.clients["operator"] = client_for(self.operator)
        self.clients["arbitrator"] = client_for(self.cast.arbitrator)


@pytest.mark.parametrize("race", RACES, ids=[race.id for race in RACES])
def test_conflicting_actions_exactly_one_wins(race):
    require_postgres()
    users = Users()
    for _round in range(ROUNDS):
        case = case_in(race.start, users.cast, merchant_offer=race.merchant_offer)
        for step in race.steps:
            case = step(users.cast, case)
        assert case.status == race.start
        events_before = case.events.count()
        moves = (race.a, race.b)
        results = run_together([post_action(users.clients[m.who], case.pk, m.action, m.body) for m in moves])

        codes = [code for code, _body in results]
        assert sorted(codes) == [200, 409], results
        winner, loser = (0, 1) if codes[0] == 200 else (1, 0)
        assert results[loser][1]["error"]["code"] == "invalid_state", results[loser]
        won = moves[winner]

        case = Case.objects.get(pk=case.pk)
        assert case.status == won.target
        assert results[winner][1]["status"] == won.target
        events = assert_sequence_and_chain(case)
        # The winner's event, and after an escalation the roster's answer (nobody on it in these tests).
        followers = ["neutral_unavailable"] if won.action == "escalate" else []
        assert [e.type for e in events[events_before:]] == [won.action, *followers], (
            "the loser must leave no trace in the log"
        )
        moved = events[events_before]
        assert moved.payload["from"] == race.start
        assert moved.payload["to"] == won.target


def test_both_parties_accepting_jurisdiction_at_once_both_count():
    """Two appends at once: both succeed, one after the other under the lock, and the chain has no gap."""
    require_postgres()
    users = Users()
    for _round in range(ROUNDS):
        case = case_in("jurisdiction", users.cast)
        before = case.events.count()
        results = run_together(
            [post_action(users.clients[who], case.pk, "accept_jurisdiction", {}) for who in ("consumer", "merchant")]
        )
        assert [code for code, _ in results] == [200, 200], results

        case = Case.objects.get(pk=case.pk)
        assert case.status == "negotiation"
        assert case.jurisdiction["status"] == "agreed"
        assert sorted(case.jurisdiction["accepted_by"]) == ["consumer", "merchant"]
        events = assert_sequence_and_chain(case)
        new = events[before:]
        assert [e.type for e in new] == ["accept_jurisdiction", "accept_jurisdiction"]
        assert sorted(e.payload["party"] for e in new) == ["consumer", "merchant"]
        # The first to get the lock found the proposal open; the second completed the agreement.
        assert [(e.payload["from"], e.payload["to"]) for e in new] == [
            ("jurisdiction", "jurisdiction"),
            ("jurisdiction", "negotiation"),
        ]
        assert [e.payload["jurisdiction_status"] for e in new] == ["proposed", "agreed"]


def test_many_concurrent_appends_keep_the_sequence_whole():
    """Eight disclosures by the mediator at once, straight through the service. The state does not change,
    so none may be refused: all eight succeed one after another, and the sequence has no gap or double."""
    require_postgres()
    users = Users()
    mediator = users.cast.mediator
    for _round in range(ROUNDS):
        case = case_in("mediation", users.cast)
        before = case.events.count()

        def disclose(n, case_id=case.pk):
            return lambda: services.case_disclose(actor=mediator, case_id=case_id, statement=f"Disclosure {n}")

        results = run_together([disclose(n) for n in range(8)])
        assert all(result.status == "mediation" for result in results)

        case = Case.objects.get(pk=case.pk)
        assert case.status == "mediation"
        events = assert_sequence_and_chain(case)
        assert len(events) == before + 8
        statements = sorted(e.payload["statement"] for e in events[before:])
        assert statements == sorted(f"Disclosure {n}" for n in range(8))


def test_the_sweep_leaves_a_clock_whose_case_someone_holds_for_a_later_sweep():
    """A party's move holds the case's row: the sweep does not wait for it (nor deadlock with it); it fires
    the other due clocks and this one once the row is free, once."""
    require_postgres()
    cast = Cast.make()
    held, free = file_case(cast), file_case(cast)
    past = timezone.now() - dt.timedelta(minutes=5)
    for case in (held, free):
        Deadline.objects.create(
            case=case, kind="award", party="arbitrator", started_at=past - dt.timedelta(days=1), due_at=past
        )
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Case.objects.select_for_update().get(pk=held.pk)
            locked.set()
            release.wait(timeout=20)

    def sweep():
        locked.wait(timeout=10)
        try:
            return deadline_sweep()
        finally:
            release.set()

    _held, fired_while_held = run_together([hold, sweep])
    assert fired_while_held == 1
    assert Deadline.objects.get(case=free, kind="award").status == "fired"
    assert Deadline.objects.get(case=held, kind="award").status == "running"
    assert deadline_sweep() == 1
    assert Deadline.objects.get(case=held, kind="award").status == "fired"
    for case in (held, free):
        assert CaseEvent.objects.filter(case=case, type="deadline_fired").count() == 1
        assert chain_verify(Case.objects.get(pk=case.pk)).ok
