"""The case lifecycle as a Hypothesis state machine, driven through the HTTP API.

Random users (the cast of a case, a colleague of the merchant, a second operator, spare neutrals and
outsiders of every role) take random lifecycle actions, with valid and sometimes invalid bodies, on one
to three cases. After every step we check what a user of the API would check:

- nothing forbidden succeeds: a 2xx answer only for an action ``allowed_actions`` listed just before, and
  every listed action with a valid body does succeed;
- a refusal (4xx) changes nothing: neither the status, nor the other lifecycle fields, nor the event log;
- a success appends one event, of the action's type, by the acting user, whose payload ``from`` and
  ``to`` are the status before and after, and the new status is one the lifecycle allows; where the
  platform then asks the roster for a neutral (``request_mediation``, ``escalate``, an upheld
  ``decide_challenge``) and nobody is on it, a ``neutral_unavailable`` event by the system follows;
- the neutrals' appointments change as the rules say (an assignment opens a challenge window of
  ODR_CHALLENGE_DAYS and replaces the appointment before it, naming a challenge that it leaves
  undecided; a challenge is pending until the operator decides it, and the award waits for that; a
  disclosure restarts the window unless a challenge is pending, an upheld challenge removes the neutral,
  a dismissed one closes the window; the case leaving mediation or arbitration ends its neutral's
  appointment) and no other action, and no refusal, touches them;
- a user who may not see the case always gets 404, whatever they try;
- ``allowed_actions`` (from ``cases.policies`` and in the API) agrees with the lifecycle written out
  independently below (``MOVES``, ``WHO``, ``spec_allows``);
- invariant: each case's hash chain verifies and its status is the ``to`` of its last transition event;
  the neutral of the stage the case is in has exactly one active appointment, and nobody else has one.

Most steps are "guided" (a user picks one of the actions open to them, forward moves weighted above
terminal and sideways ones), and a second case often starts in a state the factories reach, so examples
regularly get to mediation, arbitration, the award, compliance, the consumer's dispute of the reported
performance and its decision, and non-compliance; the test asserts at the end that they did. Now and then
days pass (``time_machine``), so that challenge windows close and disclosures reopen them, and dates to
comply pass (the operator may then declare the outcome not complied with). No deadline sweep runs here:
every move is a user's. Nobody is on the neutrals' roster (no ``NeutralProfile``), so the platform never
appoints anybody by itself here. Each example runs in a savepoint rolled back at its teardown, with fresh
users.
"""

import datetime as dt
from collections import Counter

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from accounts.models import Role
from arbitration.models import Submission
from cases import policies, services
from cases.events import chain_verify
from cases.models import ACTIONS, Case, CaseEvent, Deadline
from mediation.models import Appointment
from tests.conftest import client_for
from tests.factories import ALL_STATES, Cast, case_in, filing_body, merchant_colleague, user

# --- the lifecycle, written out independently of cases.models and cases.policies ---------------------
OPEN = ("filed", "jurisdiction", "negotiation", "mediation", "arbitration", "defaulted")
TERMINAL = ("closed", "withdrawn", "rejected")

#: action -> {status before: statuses it may lead to}
MOVES = {
    "submit": {"draft": {"filed"}},
    "withdraw": {s: {"withdrawn"} for s in ("draft", *OPEN)},
    "respond": {"filed": {"jurisdiction", "settled"}},
    "declare_default": {"filed": {"defaulted"}},
    "accept_jurisdiction": {"jurisdiction": {"jurisdiction", "negotiation"}},
    "contest_jurisdiction": {"jurisdiction": {"jurisdiction"}},
    "decide_jurisdiction": {"jurisdiction": {"negotiation"}},
    "request_mediation": {"negotiation": {"mediation"}},
    "accept_settlement": {s: {"settled"} for s in ("negotiation", "mediation", "arbitration")},
    "escalate": {s: {"arbitration"} for s in ("negotiation", "mediation", "defaulted")},
    "assign_mediator": {"mediation": {"mediation"}},
    "assign_arbitrator": {"arbitration": {"arbitration"}},
    "challenge_neutral": {"mediation": {"mediation"}, "arbitration": {"arbitration"}},
    "issue_award": {"arbitration": {"awarded", "closed"}},
    # A non-compliant merchant may still perform (late).
    "report_compliance": {s: {"compliance"} for s in ("settled", "awarded", "non_compliant")},
    "confirm_compliance": {"compliance": {"closed"}},
    # The dispute waits in compliance for the operator's decision.
    "dispute_compliance": {"compliance": {"compliance"}},
    "reject": {s: {"rejected"} for s in ("filed", "jurisdiction")},
    "close": {s: {"closed"} for s in ("settled", "awarded", "compliance", "defaulted", "non_compliant")},
    "disclose": {"mediation": {"mediation"}, "arbitration": {"arbitration"}},
    "decide_challenge": {"mediation": {"mediation"}, "arbitration": {"arbitration"}},
    # Upheld: not complied with; dismissed: the performance stands and the case closes.
    "decide_compliance": {"compliance": {"non_compliant", "closed"}},
    "declare_non_compliance": {s: {"non_compliant"} for s in ("settled", "awarded")},
}
assert set(MOVES) == set(ACTIONS)

PARTIES = frozenset({"consumer", "merchant"})
#: action -> the relations to the case of the users who may take it
WHO = {
    "submit": {"consumer"},
    "withdraw": {"consumer"},
    "respond": {"merchant"},
    "declare_default": {"operator"},
    "accept_jurisdiction": PARTIES,
    "contest_jurisdiction": PARTIES,
    "decide_jurisdiction": {"operator", "mediator", "arbitrator"},
    "request_mediation": PARTIES,
    "accept_settlement": PARTIES,
    "escalate": PARTIES | {"operator", "mediator"},
    "assign_mediator": {"operator"},
    "assign_arbitrator": {"operator"},
    "challenge_neutral": PARTIES,
    "issue_award": {"arbitrator"},
    "report_compliance": {"merchant"},
    "confirm_compliance": {"consumer"},
    "dispute_compliance": {"consumer"},
    "reject": {"operator"},
    "close": {"operator"},
    # Only the neutral of the stage the case is in (see ``may``): the mediator in mediation, the
    # arbitrator in arbitration.
    "disclose": {"mediator", "arbitrator"},
    "decide_challenge": {"operator"},
    "decide_compliance": {"operator"},
    "declare_non_compliance": {"operator"},
}
assert set(WHO) == set(ACTIONS)

#: The stage's neutral, "the current neutral": whom a party may challenge, who discloses.
CURRENT_NEUTRAL = {"mediation": "mediator", "arbitration": "arbitrator"}


def challenge_window() -> dt.timedelta:
    """How long the parties may challenge a neutral after the appointment or the latest disclosure."""
    return dt.timedelta(days=django_settings.ODR_CHALLENGE_DAYS)


def relation(user, case) -> str | None:
    """How ``user`` stands to ``case``: a party, its current neutral, an operator, or None (outsider)."""
    if user.pk == case.consumer_id:
        return "consumer"
    if user.role == Role.MERCHANT and user.organisation_id == case.merchant_id:
        return "merchant"
    if user.role == Role.OPERATOR:
        return "operator"
    if user.pk == case.mediator_id:
        return "mediator"
    if user.pk == case.arbitrator_id:
        return "arbitrator"
    return None


def visible(user, case) -> bool:
    rel = relation(user, case)
    return rel == "consumer" or (rel is not None and case.status != "draft")


def may(rel, action, case) -> bool:
    """Whether this relation may ever take ``action`` on the case (no: 403)."""
    if action == "escalate" and case.status == "defaulted":
        return rel in {"consumer", "operator"}  # the silent merchant does not steer its own default
    if action == "disclose":
        # Only the current neutral: outside mediation and arbitration nobody is, so it is 403 for all,
        # and the mediator of a case gone on to arbitration is no longer it.
        return rel is not None and rel == CURRENT_NEUTRAL.get(case.status)
    return rel in WHO[action]


def current_neutral_id(case):
    role = CURRENT_NEUTRAL.get(case.status)
    return getattr(case, f"{role}_id") if role else None


def neutral_appointment(case):
    """The active appointment of the case's current neutral (what a challenge is about), or None."""
    neutral = current_neutral_id(case)
    if neutral is None:
        return None
    rows = list(
        Appointment.objects.filter(
            case_id=case.pk, neutral_id=neutral, role=CURRENT_NEUTRAL[case.status], status="active"
        )
    )
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def comply_by(case) -> dt.datetime | None:
    """When the settlement or award must be carried out, as its outcome states (None: it states none)."""
    value = (case.outcome or {}).get("comply_by")
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


_LOOK_IT_UP = object()


def parties_heard(case) -> bool:
    """The award waits while the merchant's final notice runs, and while the parties' time for submissions
    runs unless both have filed (a clock runs until the sweep closes it, due or not)."""
    running = set(
        Deadline.objects.filter(
            case=case, status="running", kind__in=("arbitration_submissions", "final_notice")
        ).values_list("kind", flat=True)
    )
    if "final_notice" in running:
        return False
    filed = set(Submission.objects.filter(case=case).values_list("party", flat=True))
    return "arbitration_submissions" not in running or filed >= PARTIES


def spec_allows(user, case, action, appointment=_LOOK_IT_UP) -> bool:
    """``appointment``: the current neutral's active appointment, when the caller has it already."""
    rel = relation(user, case)
    if not visible(user, case) or not may(rel, action, case) or case.status not in MOVES[action]:
        return False
    jurisdiction = case.jurisdiction or {}
    if action in ("accept_jurisdiction", "contest_jurisdiction") and jurisdiction.get("status") != "proposed":
        return False
    if action == "accept_jurisdiction":
        return rel not in jurisdiction.get("accepted_by", [])
    if action == "accept_settlement":
        return case.open_offer_party == ("merchant" if rel == "consumer" else "consumer")
    compliance = (case.outcome or {}).get("compliance")
    if action == "dispute_compliance":
        return compliance != "disputed"  # one dispute at a time: the operator decides it first
    if action == "decide_compliance":
        return compliance == "disputed"  # only a pending dispute is decided
    if action == "declare_non_compliance":
        # Only once the date to comply has passed (every settlement and award states one). The machine
        # makes no payments, so a refund under way never holds it here (test_payment_safety.py does).
        due = comply_by(case)
        return due is not None and timezone.now() > due
    if action in ("challenge_neutral", "decide_challenge", "issue_award"):
        if appointment is _LOOK_IT_UP:
            appointment = neutral_appointment(case)
        if action == "issue_award":  # not while a challenge against the arbitrator waits for the operator
            return (appointment is None or not appointment.challenged_by) and parties_heard(case)
        if appointment is None:  # no neutral (or, in older data, no appointment) to challenge
            return False
        if action == "decide_challenge":
            return bool(appointment.challenged_by)
        # One challenge at a time, and only within the window (which a dismissal closes).
        return not appointment.challenged_by and timezone.now() <= appointment.challenge_until
    return True


def roster_requests(action, case, body) -> list[str]:
    """The roles the platform then asks the roster for: it finds nobody here, so each adds a
    ``neutral_unavailable`` event after the action's own."""
    if action == "request_mediation":
        return ["mediator"]
    if action == "escalate":
        return ["arbitrator"]
    if action == "decide_challenge" and body["upheld"]:
        return [CURRENT_NEUTRAL[case.status]]
    return []


def expected_targets(action, case, body, rel) -> set[str]:
    """Where a successful ``action`` with ``body`` must take ``case`` (as it was before)."""
    if action == "respond":
        return {"settled"} if body["position"] == "accept" else {"jurisdiction"}
    if action == "accept_jurisdiction":
        accepted = {*(case.jurisdiction or {}).get("accepted_by", []), rel}
        return {"negotiation"} if accepted >= PARTIES else {"jurisdiction"}
    if action == "issue_award":
        return {"closed"} if body["decision"] == "dismissed" else {"awarded"}
    if action == "decide_compliance":
        return {"non_compliant"} if body["upheld"] else {"closed"}
    return MOVES[action].get(case.status, set())


APPOINTMENT_FIELDS = (
    "id", "neutral_id", "role", "status", "automatic", "appointed_at", "disclosure", "disclosed_at",
    "challenge_until", "challenge_reason", "challenged_by",
)  # fmt: skip


def appointments(case_id) -> dict[int, dict]:
    """The case's appointments, by id."""
    rows = Appointment.objects.filter(case_id=case_id).values(*APPOINTMENT_FIELDS)
    return {row["id"]: row for row in rows}


def snapshot(case) -> tuple:
    """Everything an action may change on the case row (updated_at aside)."""
    return (
        case.status,
        case.jurisdiction,
        case.outcome,
        case.open_offer_party,
        case.response_position,
        case.mediator_id,
        case.arbitrator_id,
        case.filed_at,
        case.closed_at,
    )


# --- bodies --------------------------------------------------------------------------------------------
EUR = {"amount": "40.00", "currency": "EUR"}
EMPTY_INPUT = {
    "submit",
    "declare_default",
    "accept_jurisdiction",
    "request_mediation",
    "accept_settlement",
    "confirm_compliance",
    "declare_non_compliance",
}
OPTIONAL_REASON = {"withdraw", "escalate", "close"}
REQUIRED_REASON = {"contest_jurisdiction", "challenge_neutral", "dispute_compliance", "reject"}
TEXTS = ["Because.", "Der Artikel kam nie an.", "商品没有送达。"]

#: In guided steps, forward moves are picked far more often than the ones that end a case early or
#: go sideways, so that examples regularly get deep into the lifecycle. Challenges, their decisions and
#: disclosures are sideways moves, weighted up all the same so that examples walk them.
WEIGHTS = dict.fromkeys(ACTIONS, 6) | {
    "withdraw": 1,
    "reject": 1,
    "close": 1,
    "declare_default": 1,
    "contest_jurisdiction": 1,
    "challenge_neutral": 8,
    "decide_challenge": 12,
    "disclose": 7,
    "dispute_compliance": 8,
    "decide_compliance": 12,
    "declare_non_compliance": 12,
    "assign_mediator": 3,
    "assign_arbitrator": 3,
    "escalate": 4,
}
#: What one step of the machine does, and how often.
MODES = ["guided"] * 14 + ["anyone"] * 3 + ["outsider"] + ["file"] + ["wait"] * 2


def valid_body(data, action, mediators, arbitrators, decided=0) -> dict:
    text = st.sampled_from(TEXTS)
    if action in EMPTY_INPUT:
        return data.draw(st.sampled_from([{}, {"note": "ignored"}]), label="body")
    if action in OPTIONAL_REASON:
        return data.draw(st.one_of(st.just({}), st.fixed_dictionaries({"reason": text})), label="body")
    if action in REQUIRED_REASON:
        return data.draw(st.fixed_dictionaries({"reason": text}), label="body")
    if action == "respond":
        position = data.draw(st.sampled_from(["offer", "offer", "offer", "contest", "contest", "accept"]))
        body = {"position": position, "statement": data.draw(text)}
        if position == "offer":
            body["offer"] = data.draw(st.sampled_from([EUR, {"amount": "12.5", "currency": "eur"}]))
        return body
    if action == "decide_jurisdiction":
        return data.draw(
            st.fixed_dictionaries(
                {
                    "forum": st.sampled_from(["odr", "ES", "cn"]),
                    "applicable_law": st.sampled_from(["ES", "cn", "DE"]),
                    "reason": text,
                }
            ),
            label="body",
        )
    if action == "assign_mediator":
        return {"user": data.draw(st.sampled_from(mediators), label="mediator")}
    if action == "assign_arbitrator":
        return {"user": data.draw(st.sampled_from(arbitrators), label="arbitrator")}
    if action == "issue_award":
        decision = data.draw(st.sampled_from(["granted", "granted", "partly_granted", "dismissed"]), label="decision")
        body = {"decision": decision, "remedy": "refund", "reasons": "The merchant did not prove delivery."}
        if decision != "dismissed":
            body["amount"] = {"amount": "89.90", "currency": "EUR"}
        return body
    if action == "report_compliance":
        return data.draw(
            st.sampled_from(
                [
                    {"reference": "REFUND-1"},
                    {"reference": "SEPA 2026-11-02", "kind": "refund"},
                    {"reference": "1Z999AA10123456784", "kind": "shipment", "carrier": "UPS", "note": "Signed for."},
                    {"reference": "Repaired", "kind": "other", "note": ""},
                ]
            ),
            label="body",
        )
    if action == "disclose":
        return data.draw(st.fixed_dictionaries({"statement": text}), label="body")
    if action in ("decide_challenge", "decide_compliance"):
        # Hypothesis strongly favours the first of sampled_from (and st.booleans() leans to False): which
        # outcome comes first alternates with the case's earlier decisions, so that runs walk both.
        upheld = st.sampled_from([True, False] if decided % 2 == 0 else [False, True])
        return data.draw(st.fixed_dictionaries({"upheld": upheld, "reason": text}), label="body")
    raise AssertionError(f"no body for {action}")


def invalid_body(data, action, wrong_users) -> object:
    """A body the action's input refuses (400 when the action is otherwise allowed)."""
    options: list[object] = [[1, 2]]  # not an object at all
    if action in OPTIONAL_REASON:
        options += [{"reason": {"nested": True}}, {"reason": "x" * 10_001}]
    if action in REQUIRED_REASON:
        options += [{}, {"reason": ""}, {"reason": ["a list"]}]
    if action == "respond":
        options += [
            {"position": "maybe", "statement": "x"},
            {"position": "offer", "statement": "x"},
            {"position": "contest"},
            {"position": "accept", "statement": "x", "offer": EUR},
            {"position": "offer", "statement": "x", "offer": {"amount": "-1", "currency": "EUR"}},
            {"position": "offer", "statement": "x", "offer": {"amount": "1.001", "currency": "EUR"}},
            {"position": "offer", "statement": "x", "offer": {"amount": "10", "currency": "ZZZ"}},
            {"position": "offer", "statement": "x", "offer": {"amount": 12.5, "currency": "EUR"}},
        ]
    if action == "decide_jurisdiction":
        options += [
            {"forum": "XX", "applicable_law": "ES", "reason": "x"},
            {"forum": "odr", "applicable_law": "odr", "reason": "x"},
            {"forum": "odr", "applicable_law": "ES"},
        ]
    if action in ("assign_mediator", "assign_arbitrator"):
        options += [{}, {"user": 0}, {"user": "someone"}, {"user": 2_000_000_000}]
        options += [{"user": pk} for pk in wrong_users[action]]
    if action == "issue_award":
        options += [
            {"decision": "granted", "remedy": "refund", "reasons": "x"},
            {"decision": "maybe", "remedy": "refund", "reasons": "x"},
            {"decision": "dismissed", "remedy": "bogus", "reasons": "x"},
            {"decision": "dismissed", "remedy": "refund"},
        ]
    if action == "report_compliance":
        options += [
            {},
            {"reference": "x" * 201},
            {"reference": "x", "kind": "cash"},
            {"reference": "x", "kind": "shipment", "carrier": "x" * 101},
        ]
    if action == "disclose":
        options += [{}, {"statement": ""}, {"statement": ["a list"]}]
    if action in ("decide_challenge", "decide_compliance"):
        options += [
            {"reason": "x"},
            {"upheld": "perhaps", "reason": "x"},
            {"upheld": None, "reason": "x"},
            {"upheld": True},
            {"upheld": False, "reason": ""},
        ]
    return data.draw(st.sampled_from(options), label="invalid body")


# --- the machine -----------------------------------------------------------------------------------------
INSIDERS = (
    "consumer",
    "merchant",
    "colleague",
    "mediator",
    "spare_mediator",
    "arbitrator",
    "spare_arbitrator",
    "operator",
    "operator2",
)
OUTSIDERS = ("outsider_consumer", "outsider_merchant", "outsider_mediator", "outsider_arbitrator")
EVERYONE = INSIDERS + OUTSIDERS
MAX_CASES = 3
#: Where a second case may start (None: no second case), deep states first.
START_STATES = (
    "mediation", "arbitration", "negotiation", "awarded", "compliance", "settled", "non_compliant",
    "jurisdiction", None,
)  # fmt: skip
START_STATES += tuple(state for state in ALL_STATES if state not in START_STATES)
#: States ``case_in`` can reach with the merchant's offer open.
OFFER_STATES = ("jurisdiction", "negotiation", "settled", "mediation", "arbitration", "awarded")
#: What may have happened to a second case before the machine takes it over. In mediation or
#: arbitration: its neutral was appointed "long ago" (the window to challenge has passed), or a party's
#: challenge of the neutral waits for the operator ("contested").
STORIES = ("long ago", "contested", None)
#: After the outcome there is one story to tell: a settlement or award starts made long ago, its date to
#: comply passed (fresh ones are reached by the steps often enough), and the consumer disputes the
#: reported performance unless the story drawn is None.
OUTCOME_STORIES = {"settled": "long ago", "awarded": "long ago", "compliance": "contested"}
#: Longer ago than any date to comply (``COMPLIANCE`` business days, holidays included) and than the
#: challenge window.
LONG_AGO = dt.timedelta(days=45)


class LifecycleMachine(RuleBasedStateMachine):
    #: Across all examples of one run (read by the test): statuses reached, actions that succeeded,
    #: challenges decided ("upheld", "dismissed"), and challenge windows that time closed ("passed") or
    #: a disclosure opened again ("reopened").
    reached: Counter = Counter()
    succeeded: Counter = Counter()
    decisions: Counter = Counter()  # (action, "upheld" | "dismissed")
    windows: Counter = Counter()

    def __init__(self):
        super().__init__()
        # Each example works in a savepoint rolled back at teardown, with fresh users and clean throttles.
        self._savepoint = transaction.savepoint()
        cache.clear()
        cast = Cast.make()
        self.cast = cast
        self.users = {
            "consumer": cast.consumer,
            "merchant": cast.merchant,
            "colleague": merchant_colleague(cast.merchant),
            "mediator": cast.mediator,
            "spare_mediator": user(Role.MEDIATOR, country="FR", time_zone="Europe/Paris"),
            "arbitrator": cast.arbitrator,
            "spare_arbitrator": user(Role.ARBITRATOR, country="IT", time_zone="Europe/Rome"),
            "operator": cast.operator,
            "operator2": user(Role.OPERATOR),
            "outsider_consumer": user(Role.CONSUMER),
            "outsider_merchant": user(Role.MERCHANT),
            "outsider_mediator": user(Role.MEDIATOR),
            "outsider_arbitrator": user(Role.ARBITRATOR),
        }
        self.clients = {name: client_for(u) for name, u in self.users.items()}
        pk = {name: u.pk for name, u in self.users.items()}
        self.mediator_pool = [pk["mediator"], pk["spare_mediator"]]
        self.arbitrator_pool = [pk["arbitrator"], pk["spare_arbitrator"]]
        self.wrong_assignees = {
            "assign_mediator": [pk["consumer"], pk["arbitrator"], pk["operator"]],
            "assign_arbitrator": [pk["merchant"], pk["mediator"], pk["operator2"]],
        }
        self.case_ids: list = []
        self._traveller = None  # the clock, once days have passed

    def teardown(self):
        transaction.savepoint_rollback(self._savepoint)
        if self._traveller is not None:
            self._traveller.stop()

    # --- filing ------------------------------------------------------------------------------------
    def _file(self, submit: bool):
        body = filing_body(self.cast.merchant.organisation_id, submit=submit)
        response = self.clients["consumer"].post("/api/v1/cases/", body, format="json")
        assert response.status_code == 201, response.content
        data = response.json()
        assert data["status"] == ("filed" if submit else "draft")
        types = list(CaseEvent.objects.filter(case_id=data["id"]).order_by("seq").values_list("type", flat=True))
        assert types == (["created", "submit"] if submit else ["created"])
        self.case_ids.append(data["id"])
        self.reached[data["status"]] += 1
        note(f"case {len(self.case_ids) - 1}: filed as {data['status']}")

    @initialize()
    def file_first_case(self):
        self._file(submit=True)

    @initialize(
        state=st.sampled_from(START_STATES),
        merchant_offer=st.booleans(),
        story=st.sampled_from(STORIES),
    )
    def maybe_start_a_case_further_on(self, state, merchant_offer, story):
        """Sometimes a second case starts in a state the factories reach, so deep paths get steps too
        (and, in mediation or arbitration, with its neutral already challenged, or appointed long ago; a
        settlement or award whose date to comply passed; a reported performance the consumer disputes)."""
        if state is None:
            return
        merchant_offer = merchant_offer and state in OFFER_STATES
        if state in ("settled", "awarded"):
            story = OUTCOME_STORIES[state]
        elif state in OUTCOME_STORIES:
            story = story and OUTCOME_STORIES[state]
        elif state not in CURRENT_NEUTRAL:
            story = None
        # A case the factories take to arbitration has both parties' submissions, but for a challenged
        # arbitrator; the machine's own escalations leave the parties' time running.
        heard = story != "contested"
        if story == "long ago":
            with time_machine.travel(timezone.now() - LONG_AGO, tick=True):
                case = case_in(state, self.cast, merchant_offer=merchant_offer, heard=heard)
        else:
            case = case_in(state, self.cast, merchant_offer=merchant_offer, heard=heard)
        if story == "contested" and state == "compliance":
            services.case_dispute_compliance(actor=self.cast.consumer, case_id=case.pk, reason="Nothing came.")
        elif story == "contested":
            services.case_challenge_neutral(actor=self.cast.merchant, case_id=case.pk, reason="Too close.")
        self.case_ids.append(str(case.pk))
        note(f"case {len(self.case_ids) - 1}: made {state} by the factories (offer: {merchant_offer}, {story})")

    # --- actions -----------------------------------------------------------------------------------
    def _pick_case(self, data, *, prefer_open: bool):
        cases = [Case.objects.get(pk=pk) for pk in self.case_ids]
        indices = list(range(len(cases)))
        if prefer_open:
            indices = [i for i, c in enumerate(cases) if c.status not in TERMINAL] or indices
        return self.case_ids[data.draw(st.sampled_from(indices), label="case")]

    def _body(self, data, case_id, action, *, valid: bool):
        if valid:
            decided = CaseEvent.objects.filter(case_id=case_id, type=action).count()
            return valid_body(data, action, self.mediator_pool, self.arbitrator_pool, decided), True
        return invalid_body(data, action, self.wrong_assignees), False

    @rule(data=st.data())
    def step(self, data):
        """Mostly a guided move; sometimes anybody tries anything, an outsider looks, or a case is filed."""
        mode = data.draw(st.sampled_from(MODES), label="mode")
        if mode == "file" and len(self.case_ids) < MAX_CASES:
            self._file(submit=data.draw(st.sampled_from([True, True, False]), label="submit"))
        elif mode == "anyone":
            self.anyone_tries_anything(data)
        elif mode == "outsider":
            self.outsider_looks(data)
        elif mode == "wait":
            self.let_days_pass(data)
        else:
            self.guided_action(data)

    def let_days_pass(self, data):
        """The clock moves on (and keeps ticking): a day, past a whole challenge window, or past any date
        to comply. Whole days, so that no challenge window ends within the few seconds an example takes;
        and never within minutes of a date to comply (those end at midnight in the merchant's zone)."""
        days = data.draw(st.sampled_from([django_settings.ODR_CHALLENGE_DAYS + 1, 30, 1]), label="days pass")
        moment = timezone.now() + dt.timedelta(days=days)
        dates = [comply_by(case) for case in Case.objects.filter(pk__in=self.case_ids)]
        if any(due is not None and abs(moment - due) < dt.timedelta(minutes=2) for due in dates):
            moment += dt.timedelta(minutes=10)
        if self._traveller is not None:
            self._traveller.stop()
        self._traveller = time_machine.travel(moment, tick=True)
        self._traveller.start()
        note(f"{days} day(s) pass")

    def guided_action(self, data):
        """A user takes one of the actions open to them now (forward moves preferred)."""
        case_id = self._pick_case(data, prefer_open=True)
        case = Case.objects.get(pk=case_id)
        if case.status == "arbitration" and not parties_heard(case) and self._submission(data, case):
            return
        open_to = {name: policies.allowed_actions(self.users[name], case) for name in INSIDERS}
        actions = [action for action in ACTIONS if any(action in allowed for allowed in open_to.values())]
        if actions:
            # Heaviest first: Hypothesis favours the first elements of sampled_from.
            actions.sort(key=lambda a: -WEIGHTS[a])
            action = data.draw(st.sampled_from([a for a in actions for _ in range(WEIGHTS[a])]), label="action")
            name = data.draw(st.sampled_from([n for n in INSIDERS if action in open_to[n]]), label="who")
        else:  # a finished case: somebody tries anyway
            action = data.draw(st.sampled_from(ACTIONS), label="action")
            name = data.draw(st.sampled_from(INSIDERS), label="who")
        valid = data.draw(st.sampled_from([True] * 9 + [False]), label="valid")
        body, valid = self._body(data, case_id, action, valid=valid)
        self._act(case_id, name, action, body, valid)

    def _submission(self, data, case) -> bool:
        """Mostly, the parties that have not filed yet file their submissions while their time runs (the
        award waits for both): whether they did. The machine runs no deadline sweep, so a case whose
        parties' time passes before both filed stays without an award (its final notice is never sent);
        ``tests/arbitration/test_default_and_late.py`` walks that path with the sweep."""
        running = Deadline.objects.filter(
            case=case, status="running", kind="arbitration_submissions", due_at__gt=timezone.now()
        ).exists()
        filed = set(Submission.objects.filter(case=case).values_list("party", flat=True))
        waiting = [party for party in ("consumer", "merchant") if party not in filed]
        if not running or not waiting or not data.draw(st.sampled_from([True, True, False]), label="parties file"):
            return False
        for party in waiting:
            response = self.clients[party].post(
                f"/api/v1/cases/{case.pk}/submissions/", {"statement": "My side of it."}, format="json"
            )
            assert response.status_code == 201, response.content
        note(f"{' and '.join(waiting)} file submissions on case {self.case_ids.index(str(case.pk))}")
        return True

    def anyone_tries_anything(self, data):
        """Anybody, outsiders included, tries any action with a valid or invalid body."""
        case_id = self._pick_case(data, prefer_open=False)
        name = data.draw(st.sampled_from(EVERYONE), label="who")
        action = data.draw(st.sampled_from(ACTIONS), label="action")
        body, valid = self._body(data, case_id, action, valid=data.draw(st.booleans(), label="valid"))
        self._act(case_id, name, action, body, valid)

    def outsider_looks(self, data):
        """An outsider reads the case, its events and their own list: 404, and the case is not listed."""
        case_id = self._pick_case(data, prefer_open=False)
        name = data.draw(st.sampled_from(OUTSIDERS), label="outsider")
        client = self.clients[name]
        for url in (f"/api/v1/cases/{case_id}/", f"/api/v1/cases/{case_id}/events/"):
            response = client.get(url)
            assert response.status_code == 404, (name, url, response.status_code)
            assert response.json()["error"]["code"] == "not_found"
        listed = client.get("/api/v1/cases/", {"page_size": 200})
        assert listed.status_code == 200
        assert not {row["id"] for row in listed.json()["results"]} & set(self.case_ids)

    def _act(self, case_id, name, action, body, valid):
        u = self.users[name]
        before = Case.objects.get(pk=case_id)
        rel = relation(u, before)
        sees = visible(u, before)
        allowed = policies.allowed_actions(u, before)
        events_before = list(CaseEvent.objects.filter(case_id=case_id).order_by("seq").values_list("seq", "hash"))
        appointments_before = appointments(case_id)
        challenged = neutral_appointment(before)
        if sees:
            shown = self.clients[name].get(f"/api/v1/cases/{case_id}/")
            assert shown.status_code == 200
            assert shown.json()["allowed_actions"] == allowed

        response = self.clients[name].post(f"/api/v1/cases/{case_id}/actions/{action}/", body, format="json")
        code = response.status_code
        note(f"{name} ({rel}) {action} {body!r} on {before.status}: {code}")

        after = Case.objects.get(pk=case_id)
        events = list(CaseEvent.objects.filter(case_id=case_id).order_by("seq"))
        assert code < 500, response.content
        error = response.json().get("error") if code >= 400 else None

        if not sees:
            assert code == 404, f"{name} cannot see the case but got {code}"
            assert error["code"] == "not_found"
        elif action in allowed and valid:
            assert 200 <= code < 300, f"{action} was allowed for {name} with a valid body, got {code}: {error}"
        elif action in allowed:
            assert code == 400, f"invalid body for allowed {action}: expected 400, got {code}"
            assert error["code"] == "invalid" and error["fields"], error
        else:
            assert code in (403, 409), f"{action} not allowed for {name}, got {code}"
            assert error["code"] == {403: "forbidden", 409: "invalid_state"}[code]
            # 403: this user may never take the action on this case; 409: not in this state.
            assert (code == 403) == (not may(rel, action, before)), (rel, action, before.status, code)

        if 200 <= code < 300:
            assert action in allowed, f"forbidden {action} by {name} succeeded"
            assert valid, f"{action} succeeded with an invalid body {body!r}"
            roles = roster_requests(action, before, body)
            new_events = events[len(events_before) :]
            assert [e.type for e in new_events] == [action] + ["neutral_unavailable"] * len(roles), new_events
            assert [(e.seq, e.hash) for e in events[: len(events_before)]] == events_before, "earlier events kept"
            for follower, role in zip(new_events[1:], roles, strict=True):
                assert (follower.actor_id, follower.actor_role, follower.payload) == (None, "system", {"role": role})
            event = new_events[0]
            assert (event.actor_id, event.actor_role) == (u.pk, u.role)
            assert event.payload["from"] == before.status
            assert event.payload["to"] == after.status
            assert after.status in expected_targets(action, before, body, rel), (action, before.status, after.status)
            data = response.json()
            assert data["status"] == after.status
            assert data["allowed_actions"] == policies.allowed_actions(u, after)
            self.check_appointments(action, before, after, body, rel, appointments_before, challenged, event)
            self.succeeded[action] += 1
            self.reached[after.status] += 1
            if action in ("decide_challenge", "decide_compliance"):
                self.decisions[action, "upheld" if body["upheld"] else "dismissed"] += 1
        else:
            assert snapshot(after) == snapshot(before), "a refused action changed the case"
            assert [(e.seq, e.hash) for e in events] == events_before, "a refused action changed the log"
            assert appointments(case_id) == appointments_before, "a refused action changed an appointment"

    def check_appointments(self, action, before, after, body, rel, rows_before, challenged, event):
        """What a successful ``action`` did to the case's appointments (and nothing else did)."""
        rows = appointments(before.pk)
        expected = {pk: dict(row) for pk, row in rows_before.items()}
        payload = event.payload
        if action in ("challenge_neutral", "disclose", "decide_challenge"):
            assert challenged is not None, f"{action} succeeded with no appointment of the current neutral"
        if action in ("assign_mediator", "assign_arbitrator"):
            role = action.removeprefix("assign_")
            (new,) = set(rows) - set(rows_before)
            row = rows[new]
            assert (row["neutral_id"], row["role"], row["status"], row["automatic"]) == (
                body["user"], role, "active", False,
            )  # fmt: skip
            assert row["challenge_until"] == row["appointed_at"] + challenge_window()
            assert (row["challenged_by"], row["disclosed_at"]) == ("", None)
            assert payload[role] == body["user"]
            expected[new] = row
            for old in expected.values():  # the one it replaces, if any
                if old["role"] == role and old["id"] != new and old["status"] == "active":
                    old["status"] = "replaced"
                    # A challenge left undecided by the replacement is named on the log.
                    assert payload.get("superseded_challenge", "") == old["challenged_by"], payload
        elif action == "challenge_neutral":
            assert payload["party"] == rel and payload["neutral"] == current_neutral_id(before)
            expected[challenged.pk] |= {"challenged_by": rel, "challenge_reason": body["reason"]}
        elif action == "disclose":
            row = rows[challenged.pk]
            assert row["disclosed_at"] is not None
            until = challenged.challenge_until
            if not challenged.challenge_reason:
                # With no challenge pending or decided, the window runs from the disclosure (one that
                # time closed opens again: the parties may challenge on what the neutral now discloses).
                # A pending challenge keeps the window, and a dismissal's closed window stays closed.
                until = row["disclosed_at"] + challenge_window()
                if challenged.challenge_until < row["disclosed_at"]:
                    self.windows["reopened"] += 1
            expected[challenged.pk] |= {
                "disclosure": body["statement"], "disclosed_at": row["disclosed_at"], "challenge_until": until,
            }  # fmt: skip
            assert payload["statement"] == body["statement"]
            assert dt.datetime.fromisoformat(payload["challenge_until"]) == until
        elif action == "decide_challenge":
            role = CURRENT_NEUTRAL[before.status]
            assert (payload["upheld"], payload["reason"]) == (body["upheld"], body["reason"])
            assert payload["neutral"] == challenged.neutral_id
            if body["upheld"]:  # the neutral leaves the case; nobody on the roster to replace them
                assert getattr(after, f"{role}_id") is None
                expected[challenged.pk] |= {"status": "replaced"}
            else:  # the neutral stays, the challenge is cleared and the window closed
                assert getattr(after, f"{role}_id") == challenged.neutral_id
                row = rows[challenged.pk]
                assert event.at - dt.timedelta(seconds=5) <= row["challenge_until"] <= event.at  # closed then
                expected[challenged.pk] |= {"challenged_by": "", "challenge_until": row["challenge_until"]}
        if before.status in CURRENT_NEUTRAL and after.status != before.status:
            # The case left the neutral's stage: that neutral's appointment has ended.
            for row in expected.values():
                if row["role"] == CURRENT_NEUTRAL[before.status] and row["status"] == "active":
                    row["status"] = "ended"
        assert rows == expected, action

    # --- invariants --------------------------------------------------------------------------------
    @invariant()
    def chains_verify(self):
        for case_id in self.case_ids:
            case = Case.objects.get(pk=case_id)
            report = chain_verify(case)
            assert report.ok, report
            moves = [e.payload for e in case.events.order_by("seq") if "to" in (e.payload or {})]
            assert (moves[-1]["to"] if moves else "draft") == case.status, "the log explains the status"

    @invariant()
    def allowed_actions_follow_the_lifecycle(self):
        for case_id in self.case_ids:
            case = Case.objects.get(pk=case_id)
            appointment = neutral_appointment(case)
            if appointment and not appointment.challenge_reason and appointment.challenge_until < timezone.now():
                self.windows["passed"] += 1  # with time, not by a dismissal
            for name, u in self.users.items():
                expected = [action for action in ACTIONS if spec_allows(u, case, action, appointment)]
                assert policies.allowed_actions(u, case) == expected, (name, relation(u, case), case.status)

    @invariant()
    def the_current_neutral_alone_has_an_active_appointment(self):
        for case_id in self.case_ids:
            case = Case.objects.get(pk=case_id)
            current = current_neutral_id(case)
            for role in ("mediator", "arbitrator"):
                active = Appointment.objects.filter(case_id=case_id, role=role, status="active")
                wanted = [current] if current and CURRENT_NEUTRAL[case.status] == role else []
                assert list(active.values_list("neutral_id", flat=True)) == wanted, (role, case.status)


DEEP_STATES = {"negotiation", "mediation", "arbitration", "settled", "awarded", "compliance", "closed", "non_compliant"}
FORWARD_ACTIONS = {
    "respond",
    "accept_jurisdiction",
    "request_mediation",
    "escalate",
    "assign_arbitrator",
    "issue_award",
    "report_compliance",
    "confirm_compliance",
    # Compliance disputed and decided, and declared not complied with once the date passed.
    "dispute_compliance",
    "decide_compliance",
    "declare_non_compliance",
    # The neutrals' appointments: a disclosure, a challenge and its decision.
    "disclose",
    "challenge_neutral",
    "decide_challenge",
}


@pytest.mark.slow
def test_lifecycle_state_machine_through_the_api(db):
    LifecycleMachine.reached.clear()
    LifecycleMachine.succeeded.clear()
    LifecycleMachine.decisions.clear()
    LifecycleMachine.windows.clear()
    run_state_machine_as_test(
        LifecycleMachine,
        settings=settings(
            max_examples=40,
            stateful_step_count=25,
            deadline=None,
            # The same walk on every run: the coverage asserted below must not hang on luck (a random
            # walk missed declare_non_compliance once in a full run).
            derandomize=True,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
    # The machine is only as good as the paths it walks: it must regularly get deep into the lifecycle.
    assert set(LifecycleMachine.reached) >= DEEP_STATES, LifecycleMachine.reached
    assert set(LifecycleMachine.succeeded) >= FORWARD_ACTIONS, LifecycleMachine.succeeded
    # ... and walk the neutrals' challenges and the compliance disputes: both decisions of each, windows
    # that time closed and disclosures reopened.
    assert set(LifecycleMachine.decisions) == {
        (action, decision)
        for action in ("decide_challenge", "decide_compliance")
        for decision in ("upheld", "dismissed")
    }, LifecycleMachine.decisions
    assert set(LifecycleMachine.windows) == {"passed", "reopened"}, LifecycleMachine.windows
