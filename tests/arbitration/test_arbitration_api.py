"""Arbitration through the API: from escalation to a closed case, and who may do what on the way.

The Cast's consumer writes English (Europe/Madrid), its merchant Chinese (Asia/Shanghai).
"""

import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import Role
from arbitration.models import Award, Submission
from cases.calendars import deadline_after
from cases.events import chain_verify
from cases.models import Case, CaseEvent
from mediation.models import Appointment
from mediation.services import neutral_profile_set
from tests.conftest import client_for
from tests.factories import Cast, case_in, user

from .helpers import (
    CHINESE_REASONS,
    act,
    acted,
    api_events,
    award_body,
    correct,
    error,
    fetch_pdf,
    pdf_text,
    running,
    set_timetable,
    sha256,
    squeeze,
    submit,
    upload_png,
    url,
)

#: A Tuesday morning; the tests run on a clock that starts here (and ticks).
START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
MADRID = zoneinfo.ZoneInfo("Europe/Madrid")


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(START):
        yield


def test_a_case_goes_from_mediation_through_arbitration_to_a_closed_case(cast):
    neutral_profile_set(user=cast.arbitrator, languages=["en", "zh-hans"])
    case = case_in("mediation", cast)
    assert case.mediator_id == cast.mediator.pk

    # Escalation appoints the arbitrator on the roster at once.
    body = acted(cast.consumer, case, "escalate", {"reason": "Mediation got nowhere."})
    assert body["status"] == "arbitration"
    assert body["arbitrator"]["id"] == cast.arbitrator.pk
    appointment = Appointment.objects.get(case=case, role=Role.ARBITRATOR, status="active")
    assert appointment.automatic and appointment.neutral_id == cast.arbitrator.pk
    assert "disclose" in client_for(cast.arbitrator).get(url(case)).json()["allowed_actions"]

    # Disclosure, a challenge by the merchant, and the operator dismisses it: the arbitrator stays.
    acted(cast.arbitrator, case, "disclose", {"statement": "I have never acted for or against either party."})
    assert "challenge_neutral" in client_for(cast.merchant).get(url(case)).json()["allowed_actions"]
    acted(cast.merchant, case, "challenge_neutral", {"reason": "The arbitrator lives in the consumer's EU."})
    assert "decide_challenge" in client_for(cast.operator).get(url(case)).json()["allowed_actions"]
    body = acted(cast.operator, case, "decide_challenge", {"upheld": False, "reason": "Residence is no conflict."})
    assert body["arbitrator"]["id"] == cast.arbitrator.pk
    assert "challenge_neutral" not in client_for(cast.merchant).get(url(case)).json()["allowed_actions"]

    # The timetable: the last day for submissions ends at 23:59:59 in Madrid (the later of the two zones).
    day = START.date() + dt.timedelta(days=21)
    response = set_timetable(cast.arbitrator, case, day)
    assert response.status_code == 200, response.content
    due = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=MADRID)
    assert running(case, "arbitration_submissions").due_at == due
    assert response.json()["submissions"]["due_at"] == due.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    shown = {d["kind"]: d for d in client_for(cast.consumer).get(url(case)).json()["deadlines"]}
    assert shown["arbitration_submissions"]["due_at"] == response.json()["submissions"]["due_at"]

    # Both parties file; the consumer relies on a receipt uploaded to the vault.
    evidence = upload_png(cast.consumer, case)
    response = submit(cast.consumer, case, "The parcel never came.", [evidence["id"]])
    assert response.status_code == 201, response.content
    assert response.json()["party"] == "consumer"
    assert response.json()["evidence"] == [
        {"id": evidence["id"], "filename": evidence["filename"], "sha256": evidence["sha256"]}
    ]
    response = submit(cast.merchant, case, "我们已发货。We shipped it.")
    assert response.status_code == 201, response.content
    listed = client_for(cast.arbitrator).get(url(case, "submissions/")).json()
    assert [(s["party"], s["statement"]) for s in listed] == [
        ("consumer", "The parcel never came."),
        ("merchant", "我们已发货。We shipped it."),
    ]

    # The award, partly granted, with Chinese in its reasons.
    body = acted(cast.arbitrator, case, "issue_award", award_body("partly_granted", "45.00", comply_within_days=7))
    assert body["status"] == "awarded"

    award = client_for(cast.consumer).get(url(case, "award/")).json()
    assert award["number"] == 1 and award["corrects"] is None and award["history"] == [1]
    assert award["decision"] == "partly_granted"
    assert award["amount"] == {"amount": "45.00", "currency": "EUR"}
    assert award["remedy"] == "refund" and award["reasons"] == CHINESE_REASONS
    assert award["late"] is False
    # Seven business days to comply, in the merchant's calendar; the compliance clock runs to that moment.
    issued_at = dt.datetime.fromisoformat(award["issued_at"].replace("Z", "+00:00"))
    comply_by = deadline_after(issued_at, 7, "CN", "Asia/Shanghai")
    assert award["comply_by"] == comply_by.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert running(case, "compliance").due_at == comply_by
    assert award["arbitrator"]["id"] == cast.arbitrator.pk
    jurisdiction = Case.objects.get(pk=case.pk).jurisdiction
    assert award["forum"] == jurisdiction["forum"] and award["applicable_law"] == jurisdiction["applicable_law"]
    assert award["applicable_law"]
    documents = {d["language"]: d for d in award["documents"]}
    assert set(documents) == {"en", "zh-hans"}
    # Each reader is pointed at the document in their own language.
    assert award["pdf_sha256"] == documents["en"]["sha256"]
    merchant_view = client_for(cast.merchant).get(url(case, "award/")).json()
    assert merchant_view["pdf_sha256"] == documents["zh-hans"]["sha256"]

    # The record: the event on the chain carries the documents' hashes.
    [issued] = [e for e in api_events(cast.consumer, case) if e["type"] == "issue_award"]
    recorded = {d["language"]: d["sha256"] for d in issued["payload"]["award"]["documents"]}
    assert recorded == {language: d["sha256"] for language, d in documents.items()}

    reference = Case.objects.get(pk=case.pk).reference
    texts = {}
    for language in ("en", "zh-hans"):
        response = fetch_pdf(cast.consumer, case, language=language)
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        content = response.content
        assert content.startswith(b"%PDF")
        assert sha256(content) == response["X-Content-SHA256"] == recorded[language]
        assert documents[language]["size"] == len(content)
        texts[language] = squeeze(pdf_text(content))
    for text in texts.values():
        assert reference in text
        for name in (cast.consumer.display_name, cast.merchant.organisation.legal_name, cast.arbitrator.display_name):
            assert squeeze(name) in text
        assert "45.00EUR" in text
        assert "商家未能证明已交付" in text
    assert "Partlygranted" in texts["en"] and "Arbitralaward" in texts["en"]
    assert "consumer:1,merchant:1" in texts["en"] and "filednosubmission" not in texts["en"]
    assert "部分支持" in texts["zh-hans"] and "仲裁裁决书" in texts["zh-hans"]

    # The merchant reports performance, the consumer confirms: the case closes.
    body = acted(cast.merchant, case, "report_compliance", {"reference": "REFUND-7731", "kind": "refund"})
    assert body["status"] == "compliance"
    assert body["outcome"]["performance"]["reference"] == "REFUND-7731"
    body = acted(cast.consumer, case, "confirm_compliance")
    assert body["status"] == "closed"

    # The chain holds, in the service and in the command an auditor runs.
    report = chain_verify(case)
    assert report.ok, report
    out = io.StringIO()
    call_command("verify_case", reference, stdout=out)
    assert out.getvalue().startswith(f"ok {reference}")
    types = [e["type"] for e in api_events(cast.operator, case)]
    for expected in (
        "escalate",
        "assign_arbitrator",
        "disclose",
        "challenge_neutral",
        "decide_challenge",
        "timetable_set",
        "submission",
        "issue_award",
        "report_compliance",
        "confirm_compliance",
    ):
        assert expected in types, expected
    assert types.index("timetable_set") < types.index("submission") < types.index("issue_award")


# --- who may act as the arbitrator ---------------------------------------------------------------
def test_only_the_cases_arbitrator_sets_the_timetable_and_decides(cast):
    case = case_in("arbitration", cast)
    day = (START + dt.timedelta(days=14)).date()
    for who in (cast.consumer, cast.merchant, cast.mediator, cast.operator):
        response = act(who, case, "issue_award", award_body("granted", "89.90", reasons="I decide."))
        assert response.status_code == 403, who
        assert error(response)["code"] == "forbidden"
        assert "issue_award" not in client_for(who).get(url(case)).json()["allowed_actions"]
        response = set_timetable(who, case, day)
        assert response.status_code == 403, who
        assert error(response)["code"] == "forbidden"
    # An arbitrator of another case does not learn that this one exists.
    stranger = user(Role.ARBITRATOR, country="FR", time_zone="Europe/Paris")
    assert act(stranger, case, "issue_award", award_body("granted", "89.90")).status_code == 404
    assert set_timetable(stranger, case, day).status_code == 404
    assert not Award.objects.filter(case=case).exists()
    assert "timetable_set" not in CaseEvent.objects.filter(case=case).values_list("type", flat=True)
    assert Case.objects.get(pk=case.pk).status == "arbitration"
    # The arbitrator decides once both parties are heard.
    assert "issue_award" not in client_for(cast.arbitrator).get(url(case)).json()["allowed_actions"]
    assert submit(cast.consumer, case, "Never arrived.").status_code == 201
    assert submit(cast.merchant, case, "Delivered.").status_code == 201
    assert "issue_award" in client_for(cast.arbitrator).get(url(case)).json()["allowed_actions"]


def test_the_award_its_document_and_the_submissions_are_hidden_from_non_viewers(cast):
    case = case_in("arbitration", cast)
    assert submit(cast.consumer, case, "Never arrived.").status_code == 201
    assert submit(cast.merchant, case, "Delivered.").status_code == 201
    acted(cast.arbitrator, case, "issue_award", award_body("granted", "89.90", reasons="Delivery was not shown."))
    other_cast = Cast.make()
    outsiders = [
        user(Role.ARBITRATOR, country="FR", time_zone="Europe/Paris"),
        user(Role.MEDIATOR),
        other_cast.consumer,
        other_cast.merchant,
    ]
    for who in outsiders:
        client = client_for(who)
        for path in ("award/", "award.pdf", "submissions/"):
            response = client.get(url(case, path))
            assert response.status_code == 404, (who, path)
            assert error(response)["code"] == "not_found"
        assert fetch_pdf(who, case, language="en", number=1).status_code == 404
        assert submit(who, case, "Let me in.").status_code == 404
        assert correct(who, case).status_code == 404
    assert client_for(None).get(url(case, "award/")).status_code in (401, 403)
    # Everyone on the case reads them.
    for who in (cast.consumer, cast.merchant, cast.mediator, cast.arbitrator, cast.operator):
        client = client_for(who)
        assert client.get(url(case, "award/")).status_code == 200, who
        assert client.get(url(case, "award.pdf")).status_code == 200, who
        assert len(client.get(url(case, "submissions/")).json()) == 2, who


# --- submissions ----------------------------------------------------------------------------------
def test_a_submission_may_cite_only_this_cases_evidence(cast):
    case = case_in("arbitration", cast)
    elsewhere = case_in("mediation", Cast.make())
    foreign = upload_png(elsewhere.consumer, elsewhere)
    own = upload_png(cast.consumer, case)
    before = CaseEvent.objects.filter(case=case).count()

    response = submit(cast.consumer, case, "See the receipt.", [own["id"], foreign["id"]])
    assert response.status_code == 400
    fields = error(response)["fields"]
    assert list(fields) == ["evidence"]
    assert foreign["id"] in " ".join(fields["evidence"])
    assert own["id"] not in " ".join(fields["evidence"])
    assert not Submission.objects.filter(case=case).exists()
    assert CaseEvent.objects.filter(case=case).count() == before

    # The merchant may cite the consumer's evidence: it is the case's record.
    response = submit(cast.merchant, case, "Their own receipt shows a different address.", [own["id"]])
    assert response.status_code == 201, response.content
    [event] = CaseEvent.objects.filter(case=case, type="submission")
    assert event.payload["party"] == "merchant"
    assert event.payload["evidence"] == [{"id": own["id"], "sha256": own["sha256"]}]


def test_submissions_close_with_the_deadline(cast):
    from cases.deadlines import deadline_sweep

    case = case_in("arbitration", cast)
    assert submit(cast.consumer, case, "First word.").status_code == 201
    assert submit(cast.merchant, case, "Our word.").status_code == 201
    due = running(case, "arbitration_submissions").due_at
    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        deadline_sweep()
        for who in (cast.consumer, cast.merchant):
            response = submit(who, case, "One more thing.")
            assert response.status_code == 409, who
            assert error(response)["code"] == "invalid_state"
    assert Submission.objects.filter(case=case).count() == 2
    # Both filed: no final notice, the award is now due from the arbitrator.
    assert running(case, "award").party == "arbitrator"
    assert "final_notice" not in CaseEvent.objects.filter(case=case).values_list("type", flat=True)


def test_a_submission_after_the_due_time_is_refused_even_before_the_sweep_runs(cast):
    case = case_in("arbitration", cast)
    due = running(case, "arbitration_submissions").due_at
    with time_machine.travel(due + dt.timedelta(minutes=5), tick=False):
        response = submit(cast.consumer, case, "Too late, but let me in.")
    assert response.status_code == 409
    assert not Submission.objects.filter(case=case).exists()


def test_a_merchant_answering_its_final_notice_is_heard_and_starts_the_award_clock(cast):
    from cases.deadlines import deadline_sweep

    case = case_in("arbitration", cast)
    assert submit(cast.consumer, case, "Never arrived.").status_code == 201
    due = running(case, "arbitration_submissions").due_at
    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        deadline_sweep()
    notice = running(case, "final_notice")
    assert notice.party == "merchant"
    assert not Case.objects.get(pk=case.pk).deadlines.filter(kind="award").exists()

    with time_machine.travel(notice.due_at - dt.timedelta(hours=1), tick=False):
        # The consumer's time is over; only the merchant is given this last chance.
        response = submit(cast.consumer, case, "And another thing.")
        assert response.status_code == 409
        response = submit(cast.merchant, case, "我们有发货记录。We have the shipping record.")
        assert response.status_code == 201, response.content
        assert response.json()["party"] == "merchant"
    notice.refresh_from_db()
    assert notice.status == "met"
    award = running(case, "award")
    assert award.party == "arbitrator"
    assert award.started_at == notice.due_at - dt.timedelta(hours=1)
    # Past the notice's end nothing fires any more and no default is recorded.
    with time_machine.travel(notice.due_at + dt.timedelta(seconds=1), tick=False):
        deadline_sweep()
    types = list(CaseEvent.objects.filter(case=case).values_list("type", flat=True))
    assert "final_notice" in types and "default_proceedings" not in types
    assert Submission.objects.filter(case=case, party="merchant").count() == 1


# --- the timetable -------------------------------------------------------------------------------
def test_the_timetable_moves_the_submissions_deadline_to_the_later_end_of_the_day(cast):
    from cases.models import Reminder

    case = case_in("arbitration", cast)
    # A consumer in New Zealand ends each day long before the merchant in Shanghai does.
    cast.consumer.time_zone = "Pacific/Auckland"
    cast.consumer.save(update_fields=["time_zone"])
    deadline = running(case, "arbitration_submissions")
    old_due = deadline.due_at
    day = START.date() + dt.timedelta(days=3)
    response = set_timetable(cast.arbitrator, case, day)
    assert response.status_code == 200, response.content
    due = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    deadline.refresh_from_db()
    assert deadline.due_at == due < old_due
    assert deadline.status == "running"
    # The reminders follow the new end: none is left planned for after it.
    pending = Reminder.objects.filter(deadline=deadline, status="pending")
    assert pending.exists()
    assert all(START < r.send_at < due for r in pending)
    [event] = CaseEvent.objects.filter(case=case, type="timetable_set")
    assert event.actor_id == cast.arbitrator.pk
    assert event.payload["date"] == day.isoformat()
    # Every viewer reads the timetable.
    for who in (cast.consumer, cast.merchant, cast.operator):
        body = client_for(who).get(url(case, "timetable/")).json()
        assert body["submissions"]["due_at"] == due.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert body["award"] is None and body["final_notice"] is None


def test_the_timetable_refuses_days_in_the_past_or_too_far_and_after_submissions_closed(cast):
    from cases.deadlines import deadline_sweep

    case = case_in("arbitration", cast)
    original = running(case, "arbitration_submissions").due_at
    today = START.date()
    for day in (today - dt.timedelta(days=1), today, today + dt.timedelta(days=61)):
        response = set_timetable(cast.arbitrator, case, day)
        assert response.status_code == 400, day
        assert list(error(response)["fields"]) == ["submissions_due"]
    assert running(case, "arbitration_submissions").due_at == original
    response = client_for(cast.arbitrator).post(url(case, "timetable/"), {"submissions_due": "soon"}, format="json")
    assert response.status_code == 400
    # The furthest day allowed is 60 days ahead.
    assert set_timetable(cast.arbitrator, case, today + dt.timedelta(days=60)).status_code == 200
    assert set_timetable(cast.consumer, case, today + dt.timedelta(days=5)).status_code == 403

    assert submit(cast.merchant, case, "Delivered.").status_code == 201
    due = running(case, "arbitration_submissions").due_at
    with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
        deadline_sweep()
        response = set_timetable(cast.arbitrator, case, (due + dt.timedelta(days=10)).date())
    assert response.status_code == 409
    assert error(response)["code"] == "invalid_state"
    assert CaseEvent.objects.filter(case=case, type="timetable_set").count() == 1


def test_a_challenged_arbitrator_cannot_decide_before_the_operator_rules_on_the_challenge(db):
    cast = Cast.make()
    neutral_profile_set(user=cast.arbitrator, languages=["en", "zh-hans"])
    case = case_in("mediation", cast)
    acted(cast.consumer, case, "escalate")
    acted(cast.arbitrator, case, "disclose", {"statement": "I once bought from this shop."})
    acted(cast.consumer, case, "challenge_neutral", {"reason": "A customer of the merchant cannot be impartial."})

    response = act(cast.arbitrator, case, "issue_award", award_body("dismissed", None, reasons="No case."))
    assert response.status_code == 409
    assert "issue_award" not in client_for(cast.arbitrator).get(url(case)).json()["allowed_actions"]
    body = acted(cast.operator, case, "decide_challenge", {"upheld": True, "reason": "Fair doubt."})
    assert body["status"] == "arbitration" and not Award.objects.filter(case=case).exists()
