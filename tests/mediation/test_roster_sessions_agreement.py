"""The mediator's side: appointment from the roster (language, load, conflicts), disclosure and challenge,
live sessions (local times, the .ics file, the reminder sweep) and the settlement agreement, or the
impasse that sends the case to arbitration."""

import datetime as dt
import zoneinfo

import icalendar
import pytest
import time_machine
from django.utils import timezone

from accounts.models import Role, User
from cases.calendars import deadline_after
from cases.deadlines import sweep_all
from cases.models import Case
from mediation.models import Appointment, MediationSession, NeutralProfile, SettlementAgreement
from mediation.services import neutral_profile_set
from notifications.models import Notification
from tests.conftest import client_for
from tests.factories import Cast, case_in, user
from tests.mediation.helpers import money, page_client, url

pytestmark = pytest.mark.django_db


# --- the roster -----------------------------------------------------------------------------------
def on_roster(languages, *, max_load=10, countries=(), **extra) -> User:
    neutral = user(Role.MEDIATOR, **extra)
    neutral_profile_set(user=neutral, languages=languages, countries=list(countries), max_load=max_load)
    return neutral


def give_load(neutral: User, cases: int) -> None:
    """``neutral`` mediates ``cases`` cases of other merchants, still in mediation."""
    for _ in range(cases):
        other = Cast.make()
        other.mediator = neutral
        assert case_in("mediation", other).mediator_id == neutral.pk


def request_mediation(cast: Cast, case: Case) -> Case:
    answer = client_for(cast.consumer).post(url(case, "actions/request_mediation/"), {}, format="json")
    assert answer.status_code == 200, answer.content
    case.refresh_from_db()
    assert case.status == "mediation"
    return case


def test_the_least_loaded_mediator_speaking_both_languages_is_appointed(cast):
    # The consumer writes English, the merchant Chinese (tests.factories.Cast).
    busy = on_roster(["en", "zh-hans"])
    free = on_roster(["zh-hans", "en"])
    english_only = on_roster(["en"])
    give_load(busy, 1)
    case = request_mediation(cast, case_in("negotiation", cast))

    assert case.mediator_id == free.pk
    appointment = Appointment.objects.get(case=case, status="active")
    assert (appointment.neutral_id, appointment.role, appointment.automatic) == (free.pk, "mediator", True)
    event = case.events.order_by("-seq").first()
    assert event.type == "assign_mediator" and event.actor_id is None
    assert event.payload["mediator"] == free.pk and event.payload["automatic"] is True
    assert english_only.pk != case.mediator_id
    # The appointed mediator now sees the case; the others do not.
    assert client_for(free).get(url(case)).status_code == 200
    assert client_for(busy).get(url(case)).status_code == 404


def test_between_equals_the_lighter_load_wins_whatever_the_order(cast):
    first = on_roster(["en", "zh-hans"])
    second = on_roster(["en", "zh-hans"])
    give_load(first, 2)
    give_load(second, 1)
    assert request_mediation(cast, case_in("negotiation", cast)).mediator_id == second.pk


@pytest.mark.parametrize("platform_language", ["en", "zh-hans"])
def test_with_nobody_speaking_both_the_platform_language_decides(settings, cast, platform_language):
    settings.LANGUAGE_CODE = platform_language
    chinese_only = on_roster(["zh-hans"])
    english_only = on_roster(["en"])
    on_roster(["fr", "de"])
    case = request_mediation(cast, case_in("negotiation", cast))
    expected = english_only if platform_language == "en" else chinese_only
    assert case.mediator_id == expected.pk


def test_a_speaker_of_both_languages_beats_a_less_loaded_fallback(cast):
    both = on_roster(["en", "zh-hans"])
    on_roster(["en"])
    give_load(both, 3)
    assert request_mediation(cast, case_in("negotiation", cast)).mediator_id == both.pk


def test_nobody_speaking_a_partys_or_the_platform_language_means_nobody(cast):
    on_roster(["zh-hans"])  # speaks the merchant's language, not the consumer's nor the platform's
    on_roster(["fr"])
    case = request_mediation(cast, case_in("negotiation", cast))
    assert case.mediator_id is None
    assert case.events.order_by("-seq").first().type == "neutral_unavailable"


def test_a_mediator_at_their_maximum_load_is_skipped(cast):
    full = on_roster(["en", "zh-hans"], max_load=1)
    roomy = on_roster(["en", "zh-hans"], max_load=10)
    give_load(full, 1)
    give_load(roomy, 1)  # the same load: only the maximum tells them apart
    assert request_mediation(cast, case_in("negotiation", cast)).mediator_id == roomy.pk


def test_inactive_profiles_and_accounts_are_skipped(cast):
    paused = on_roster(["en", "zh-hans"])
    NeutralProfile.objects.filter(user=paused).update(active=False)
    gone = on_roster(["en", "zh-hans"])
    User.objects.filter(pk=gone.pk).update(is_active=False)
    taking = on_roster(["en", "zh-hans"])
    assert request_mediation(cast, case_in("negotiation", cast)).mediator_id == taking.pk


def _mediated_earlier_case_of_same_merchant(cast: Cast, neutral: User) -> Case:
    earlier = Cast(cast.consumer, cast.merchant, neutral, cast.arbitrator, cast.operator)
    case = case_in("arbitration", earlier)  # mediation ended at an impasse; the mediator stays on record
    assert case.mediator_id == neutral.pk
    return case


def test_a_mediator_of_another_case_of_the_same_merchant_within_a_year_is_skipped(cast):
    conflicted = on_roster(["en", "zh-hans"])
    independent = on_roster(["en", "zh-hans"])
    _mediated_earlier_case_of_same_merchant(cast, conflicted)
    assert request_mediation(cast, case_in("negotiation", cast)).mediator_id == independent.pk


def test_a_mediator_of_a_case_of_the_same_merchant_over_a_year_ago_may_be_appointed(cast):
    conflicted = on_roster(["en", "zh-hans"])
    on_roster(["en", "zh-hans"])
    earlier = _mediated_earlier_case_of_same_merchant(cast, conflicted)
    long_ago = timezone.now() - dt.timedelta(days=366)
    Case.objects.filter(pk=earlier.pk).update(created_at=long_ago)
    Appointment.objects.filter(case=earlier).update(appointed_at=long_ago)  # served over a year ago
    assert request_mediation(cast, case_in("negotiation", cast)).mediator_id == conflicted.pk


def test_a_mediator_from_the_merchants_organisation_is_skipped(cast):
    insider = on_roster(["en", "zh-hans"])
    User.objects.filter(pk=insider.pk).update(organisation=cast.merchant.organisation)
    outsider = on_roster(["en", "zh-hans"])
    assert request_mediation(cast, case_in("negotiation", cast)).mediator_id == outsider.pk


def test_a_mediator_covering_other_countries_only_is_skipped(cast):
    # The consumer is in ES, the merchant in CN.
    elsewhere = on_roster(["en", "zh-hans"], countries=["FR", "DE"])
    covering = on_roster(["en", "zh-hans"], countries=["CN"])
    case = request_mediation(cast, case_in("negotiation", cast))
    assert case.mediator_id == covering.pk != elsewhere.pk


def test_with_nobody_fitting_the_operators_are_told_and_assign_by_hand(cast):
    paused = on_roster(["en", "zh-hans"])
    NeutralProfile.objects.filter(user=paused).update(active=False)
    insider = on_roster(["en", "zh-hans"])
    User.objects.filter(pk=insider.pk).update(organisation=cast.merchant.organisation)
    case = request_mediation(cast, case_in("negotiation", cast))

    assert case.mediator_id is None
    event = case.events.order_by("-seq").first()
    assert (event.type, event.payload, event.actor_id) == ("neutral_unavailable", {"role": "mediator"}, None)
    assert not Appointment.objects.filter(case=case).exists()
    told = set(Notification.objects.filter(event=event).values_list("user", flat=True))
    assert cast.operator.pk in told
    answer = client_for(cast.operator).post(
        url(case, "actions/assign_mediator/"), {"user": cast.mediator.pk}, format="json"
    )
    assert answer.status_code == 200
    assert Appointment.objects.get(case=case, status="active").automatic is False


# --- disclosure and challenge -----------------------------------------------------------------------
T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def test_a_disclosure_restarts_the_challenge_window(settings, cast):
    assert settings.ODR_CHALLENGE_DAYS == 5
    neutral = on_roster(["en", "zh-hans"])
    case = case_in("negotiation", cast)
    with time_machine.travel(T0, tick=False):
        request_mediation(cast, case)
    appointment = Appointment.objects.get(case=case, neutral=neutral, status="active")
    assert appointment.challenge_until == T0 + dt.timedelta(days=5)

    with time_machine.travel(T0 + dt.timedelta(days=3), tick=False):
        answer = client_for(neutral).post(
            url(case, "actions/disclose/"), {"statement": "I once mediated for a seller on MarketPlace."}, format="json"
        )
        assert answer.status_code == 200, answer.content
        assert client_for(cast.consumer).post(url(case, "actions/disclose/"), {"statement": "x"}).status_code == 403
    appointment.refresh_from_db()
    assert appointment.disclosure == "I once mediated for a seller on MarketPlace."
    assert appointment.disclosed_at == T0 + dt.timedelta(days=3)
    assert appointment.challenge_until == T0 + dt.timedelta(days=8)
    event = case.events.filter(type="disclose").get()
    assert event.payload["challenge_until"].startswith("2026-12-09T09:00:00")

    # Six days after the appointment: too late by the first window, in time by the new one.
    with time_machine.travel(T0 + dt.timedelta(days=6), tick=False):
        challenge = client_for(cast.merchant).post(
            url(case, "actions/challenge_neutral/"), {"reason": "Too close to a competitor."}, format="json"
        )
    assert challenge.status_code == 200, challenge.content
    appointment.refresh_from_db()
    assert appointment.challenged_by == "merchant"


def test_without_a_disclosure_the_window_closes_after_the_challenge_days(cast):
    on_roster(["en", "zh-hans"])
    case = case_in("negotiation", cast)
    with time_machine.travel(T0, tick=False):
        request_mediation(cast, case)
    with time_machine.travel(T0 + dt.timedelta(days=6), tick=False):
        late = client_for(cast.consumer).post(
            url(case, "actions/challenge_neutral/"), {"reason": "Late."}, format="json"
        )
    assert late.status_code == 409


def test_an_upheld_challenge_replaces_the_mediator_from_the_roster(cast):
    challenged = on_roster(["en", "zh-hans"])
    successor = on_roster(["en", "zh-hans"])  # the same load: only the exclusion keeps the challenged one out
    case = request_mediation(cast, case_in("negotiation", cast))
    assert case.mediator_id == challenged.pk

    consumer, operator = client_for(cast.consumer), client_for(cast.operator)
    answer = consumer.post(url(case, "actions/challenge_neutral/"), {"reason": "Met the merchant."}, format="json")
    assert answer.status_code == 200, answer.content
    assert cast.operator.pk in set(
        Notification.objects.filter(event__case=case, type="challenge_neutral").values_list("user", flat=True)
    )
    decided = operator.post(
        url(case, "actions/decide_challenge/"), {"upheld": True, "reason": "A fair doubt."}, format="json"
    )
    assert decided.status_code == 200, decided.content

    case.refresh_from_db()
    assert case.status == "mediation"
    assert case.mediator_id == successor.pk
    statuses = dict(Appointment.objects.filter(case=case).values_list("neutral", "status"))
    assert statuses == {challenged.pk: "replaced", successor.pk: "active"}
    assert Appointment.objects.get(case=case, neutral=successor).automatic is True
    types = list(case.events.order_by("seq").values_list("type", flat=True))[-3:]
    assert types == ["challenge_neutral", "decide_challenge", "assign_mediator"]
    assert client_for(challenged).get(url(case)).status_code == 404


def test_an_upheld_challenge_with_nobody_else_on_the_roster_leaves_the_post_open(cast):
    challenged = on_roster(["en", "zh-hans"])
    case = request_mediation(cast, case_in("negotiation", cast))
    client_for(cast.merchant).post(url(case, "actions/challenge_neutral/"), {"reason": "Biased."}, format="json")
    client_for(cast.operator).post(url(case, "actions/decide_challenge/"), {"upheld": True, "reason": "Yes."})
    case.refresh_from_db()
    assert case.mediator_id is None
    assert case.events.order_by("-seq").first().type == "neutral_unavailable"
    assert Appointment.objects.get(case=case, neutral=challenged).status == "replaced"


def test_a_dismissed_challenge_keeps_the_mediator_and_closes_the_window(cast):
    neutral = on_roster(["en", "zh-hans"])
    on_roster(["en", "zh-hans"])
    case = request_mediation(cast, case_in("negotiation", cast))
    consumer = client_for(cast.consumer)
    consumer.post(url(case, "actions/challenge_neutral/"), {"reason": "Hunch."}, format="json")
    answer = client_for(cast.operator).post(
        url(case, "actions/decide_challenge/"), {"upheld": False, "reason": "No grounds."}, format="json"
    )
    assert answer.status_code == 200
    case.refresh_from_db()
    assert case.mediator_id == neutral.pk
    again = consumer.post(url(case, "actions/challenge_neutral/"), {"reason": "Again."}, format="json")
    assert again.status_code == 409


# --- live sessions ------------------------------------------------------------------------------------
def _start(days=3, hour=15) -> dt.datetime:
    return (timezone.now() + dt.timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


def schedule(who, case, starts_at, minutes=90):
    return client_for(who).post(
        url(case, "sessions/"), {"starts_at": starts_at.isoformat(), "minutes": minutes}, format="json"
    )


def test_only_the_mediator_schedules_sessions(cast):
    case = case_in("mediation", cast)
    starts = _start()
    for who in (cast.consumer, cast.merchant, cast.operator):
        assert schedule(who, case, starts).status_code == 403, who.role
    assert schedule(user(Role.MEDIATOR), case, starts).status_code == 404
    assert not MediationSession.objects.filter(case=case).exists()
    answer = schedule(cast.mediator, case, starts, minutes=90)
    assert answer.status_code == 201, answer.content
    session = MediationSession.objects.get(case=case)
    assert session.starts_at == starts and session.minutes == 90 and session.scheduled_by_id == cast.mediator.pk
    assert session.reminder_at == starts - dt.timedelta(minutes=60)
    event = case.events.order_by("-seq").first()
    assert event.type == "session_scheduled" and event.payload["session"] == session.pk
    told = set(Notification.objects.filter(event=event).values_list("user", flat=True))
    assert told == {cast.consumer.pk, cast.merchant.pk}


def test_a_session_in_the_past_or_of_a_strange_length_is_refused(cast):
    case = case_in("mediation", cast)
    past = schedule(cast.mediator, case, timezone.now() - dt.timedelta(minutes=5))
    assert past.status_code == 400
    assert "starts_at" in past.json()["error"]["fields"]
    assert schedule(cast.mediator, case, _start(), minutes=5).status_code == 400
    assert schedule(cast.mediator, case, _start(), minutes=481).status_code == 400
    assert not MediationSession.objects.filter(case=case).exists()


def test_each_participant_sees_the_session_in_their_own_time_zone(cast):
    case = case_in("mediation", cast)
    starts = _start()
    created = schedule(cast.mediator, case, starts).json()
    dublin = starts.astimezone(zoneinfo.ZoneInfo("Europe/Dublin"))
    assert created["starts_at_local"] == dublin.isoformat()
    assert dt.datetime.fromisoformat(created["starts_at"]) == starts
    for who, zone in ((cast.consumer, "Europe/Madrid"), (cast.merchant, "Asia/Shanghai")):
        (listed,) = client_for(who).get(url(case, "sessions/")).json()["results"]
        local = dt.datetime.fromisoformat(listed["starts_at_local"])
        assert listed["starts_at_local"] == starts.astimezone(zoneinfo.ZoneInfo(zone)).isoformat()
        assert local == starts
        assert local.utcoffset() == zoneinfo.ZoneInfo(zone).utcoffset(starts.replace(tzinfo=None))
    assert created["starts_at_local"] != listed["starts_at_local"]


def test_the_ics_file_parses_with_utc_times_and_an_alarm(cast):
    case = case_in("mediation", cast)
    starts = _start()
    session_id = schedule(cast.mediator, case, starts, minutes=45).json()["id"]
    for who in (cast.consumer, cast.merchant, cast.mediator):
        answer = client_for(who).get(url(case, f"sessions/{session_id}/ics"))
        assert answer.status_code == 200
        assert answer["Content-Type"].startswith("text/calendar")
        calendar = icalendar.Calendar.from_ical(answer.content)
        (event,) = calendar.walk("VEVENT")
        start, end = event["DTSTART"].dt, event["DTEND"].dt
        assert start == starts and end == starts + dt.timedelta(minutes=45)
        assert start.utcoffset() == dt.timedelta(0) and end.utcoffset() == dt.timedelta(0)
        assert case.reference in str(event["SUMMARY"])
        (alarm,) = event.walk("VALARM")
        assert alarm["TRIGGER"].dt == -dt.timedelta(minutes=60)
        assert str(alarm["ACTION"]) == "DISPLAY"
    # The page link serves the same file.
    page = page_client(cast.consumer).get(f"/cases/{case.pk}/sessions/{session_id}/ics")
    assert page.status_code == 200
    assert icalendar.Calendar.from_ical(page.content).walk("VEVENT")[0]["DTSTART"].dt == starts


def test_non_participants_get_no_ics(cast):
    case = case_in("mediation", cast)
    session_id = schedule(cast.mediator, case, _start()).json()["id"]
    for who in (cast.operator, user(Role.CONSUMER), cast.arbitrator):
        assert client_for(who).get(url(case, f"sessions/{session_id}/ics")).status_code == 404, who.role
    assert client_for(cast.consumer).get(url(case, "sessions/999999/ics")).status_code == 404


def test_the_page_form_reads_the_time_in_the_mediators_time_zone(cast):
    cast.mediator = user(Role.MEDIATOR, country="US", time_zone="America/New_York")
    case = case_in("mediation", cast)
    day = (timezone.now() + dt.timedelta(days=4)).date()
    answer = page_client(cast.mediator).post(
        f"/cases/{case.pk}/sessions/", {"starts_at": f"{day.isoformat()}T10:00", "minutes": "60"}
    )
    assert answer.status_code == 302
    session = MediationSession.objects.get(case=case)
    expected = dt.datetime.combine(day, dt.time(10, 0), tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    assert session.starts_at == expected


def test_the_reminder_is_sent_once_to_the_participants(cast):
    case = case_in("mediation", cast)
    starts = _start(days=1, hour=12)
    session_id = schedule(cast.mediator, case, starts, minutes=60).json()["id"]
    session = MediationSession.objects.get(pk=session_id)

    assert sweep_all(now=session.reminder_at - dt.timedelta(minutes=1))["session_reminders"] == 0
    assert not case.events.filter(type="session_reminder").exists()

    assert sweep_all(now=session.reminder_at + dt.timedelta(minutes=1))["session_reminders"] == 1
    (event,) = case.events.filter(type="session_reminder")
    assert event.payload["session"] == session_id and event.payload["minutes"] == 60
    assert event.actor_id is None
    told = set(Notification.objects.filter(event=event).values_list("user", flat=True))
    assert told == {cast.consumer.pk, cast.merchant.pk, cast.mediator.pk}
    session.refresh_from_db()
    assert session.reminder_status == "sent"

    notifications = Notification.objects.count()
    assert sweep_all(now=session.reminder_at + dt.timedelta(minutes=2))["session_reminders"] == 0
    assert sweep_all(now=starts)["session_reminders"] == 0
    assert case.events.filter(type="session_reminder").count() == 1
    assert Notification.objects.filter(type="session_reminder").count() == 3
    assert Notification.objects.count() == notifications


def test_a_session_already_over_when_swept_is_not_reminded(cast):
    case = case_in("mediation", cast)
    starts = _start(days=1, hour=12)
    session_id = schedule(cast.mediator, case, starts, minutes=30).json()["id"]
    assert sweep_all(now=starts + dt.timedelta(minutes=31))["session_reminders"] == 0
    assert MediationSession.objects.get(pk=session_id).reminder_status == "cancelled"
    assert not case.events.filter(type="session_reminder").exists()


def test_no_reminder_for_a_session_of_a_case_that_has_settled(cast):
    case = case_in("mediation", cast)
    starts = _start(days=1, hour=12)
    session_id = schedule(cast.mediator, case, starts, minutes=60).json()["id"]
    agreement_id = draft(cast.mediator, case, "Refund.").json()["id"]
    accept(cast.consumer, case, agreement_id)
    accept(cast.merchant, case, agreement_id)
    assert Case.objects.get(pk=case.pk).status == "settled"
    sweep_all(now=starts - dt.timedelta(minutes=30))
    assert not case.events.filter(type="session_reminder").exists()
    assert MediationSession.objects.get(pk=session_id).reminder_status == "cancelled"


# --- the settlement agreement ---------------------------------------------------------------------------
def draft(who, case, terms, amount="65.00", currency="EUR", days=10, remedy="refund"):
    body = {"terms": terms, "amount": money(amount, currency) if amount else None, "remedy": remedy}
    body["comply_within_days"] = days
    return client_for(who).post(url(case, "agreements/"), body, format="json")


def accept(who, case, agreement_id):
    return client_for(who).post(url(case, f"agreements/{agreement_id}/accept/"))


def test_the_mediators_agreement_settles_the_case_once_both_parties_accept(cast):
    case = case_in("mediation", cast)
    first = draft(cast.mediator, case, "The merchant refunds 60.00 EUR.", amount="60.00")
    assert first.status_code == 201, first.content
    assert first.json()["status"] == "proposed" and first.json()["accepted_by"] == []
    second = draft(cast.mediator, case, "The merchant refunds 65.00 EUR by bank transfer.")
    assert second.status_code == 201
    first_id, second_id = first.json()["id"], second.json()["id"]
    assert SettlementAgreement.objects.get(pk=first_id).status == "withdrawn"
    listed = client_for(cast.consumer).get(url(case, "agreements/")).json()["results"]
    assert [(a["id"], a["status"]) for a in listed] == [(first_id, "withdrawn"), (second_id, "proposed")]

    assert accept(cast.consumer, case, first_id).status_code == 409  # replaced
    one = accept(cast.consumer, case, second_id)
    assert one.status_code == 200, one.content
    assert one.json()["status"] == "mediation"
    assert SettlementAgreement.objects.get(pk=second_id).accepted_by == ["consumer"]
    assert case.events.order_by("-seq").first().type == "agreement_accepted"
    assert accept(cast.consumer, case, second_id).status_code == 409  # not twice

    both = accept(cast.merchant, case, second_id)
    assert both.status_code == 200, both.content
    case.refresh_from_db()
    assert case.status == "settled"
    outcome = case.outcome
    assert outcome["kind"] == "settlement"
    assert outcome["source"] == "mediation_agreement"
    assert outcome["agreement"] == second_id
    assert outcome["terms"] == "The merchant refunds 65.00 EUR by bank transfer."
    assert outcome["amount"] == {"amount": "65.00", "currency": "EUR"}
    assert outcome["remedy"] == "refund"
    assert dt.datetime.fromisoformat(outcome["comply_by"].replace("Z", "+00:00")) > timezone.now()
    agreement = SettlementAgreement.objects.get(pk=second_id)
    assert agreement.status == "accepted" and agreement.accepted_by == ["consumer", "merchant"]
    event = case.events.order_by("-seq").first()
    assert (event.type, event.payload["from"], event.payload["to"]) == ("agreement_accepted", "mediation", "settled")
    assert accept(cast.merchant, case, second_id).status_code == 409


def test_the_agreed_days_to_comply_set_the_comply_by_date(cast):
    case = case_in("mediation", cast)
    agreement_id = draft(cast.mediator, case, "Refund within three days.", days=3).json()["id"]
    accept(cast.consumer, case, agreement_id)
    accept(cast.merchant, case, agreement_id)
    case.refresh_from_db()
    comply_by = dt.datetime.fromisoformat(case.outcome["comply_by"].replace("Z", "+00:00"))
    # Three business days in the merchant's calendar, like every compliance period, not the default 14.
    expected = deadline_after(timezone.now(), 3, str(cast.merchant.country), cast.merchant.time_zone)
    assert comply_by == expected
    assert comply_by < deadline_after(timezone.now(), 14, str(cast.merchant.country), cast.merchant.time_zone)
    # The compliance deadline runs to the same date.
    assert case.deadlines.get(kind="compliance", status="running").due_at == comply_by


def test_only_the_mediator_drafts_and_only_the_parties_accept(cast):
    case = case_in("mediation", cast)
    for who in (cast.consumer, cast.merchant, cast.operator):
        assert draft(who, case, "I decide.").status_code == 403, who.role
    assert draft(user(Role.MEDIATOR), case, "I decide.").status_code == 404
    assert not SettlementAgreement.objects.filter(case=case).exists()
    assert draft(cast.mediator, case, "Wrong money.", currency="USD").status_code == 400
    agreement_id = draft(cast.mediator, case, "Replacement only.", amount=None, remedy="replacement").json()["id"]
    assert accept(cast.mediator, case, agreement_id).status_code == 403
    assert accept(cast.operator, case, agreement_id).status_code == 403
    assert accept(user(Role.CONSUMER), case, agreement_id).status_code == 404
    accept(cast.merchant, case, agreement_id)
    accept(cast.consumer, case, agreement_id)
    case.refresh_from_db()
    assert case.status == "settled" and case.outcome["amount"] is None and case.outcome["remedy"] == "replacement"


def test_the_page_forms_draft_and_accept_the_agreement(cast):
    case = case_in("mediation", cast)
    sent = page_client(cast.mediator).post(
        f"/cases/{case.pk}/agreements/",
        {"terms": "Refund of 70.00 EUR.", "amount": "70.00", "remedy": "refund", "comply_within_days": "7"},
    )
    assert sent.status_code == 302
    agreement = SettlementAgreement.objects.get(case=case)
    consumer_page = page_client(cast.consumer).get(f"/cases/{case.pk}/").content.decode()
    assert f'action="/cases/{case.pk}/agreements/{agreement.pk}/accept/"' in consumer_page
    for who in (cast.consumer, cast.merchant):
        assert page_client(who).post(f"/cases/{case.pk}/agreements/{agreement.pk}/accept/").status_code == 302
    case.refresh_from_db()
    assert case.status == "settled"
    assert case.outcome["amount"] == {"amount": "70.00", "currency": "EUR"}


def test_the_mediator_declares_an_impasse_and_the_case_goes_to_arbitration(cast):
    case = case_in("mediation", cast, merchant_offer=True)
    answer = client_for(cast.mediator).post(
        url(case, "actions/escalate/"), {"reason": "The parties are too far apart."}, format="json"
    )
    assert answer.status_code == 200, answer.content
    case.refresh_from_db()
    assert case.status == "arbitration"
    event = case.events.filter(type="escalate").order_by("-seq").first()
    assert (event.type, event.actor_id, event.payload["reason"]) == (
        "escalate",
        cast.mediator.pk,
        "The parties are too far apart.",
    )
    assert not case.offers.filter(status="open").exists()
    # Mediation is over: no more drafts.
    assert draft(cast.mediator, case, "Too late.").status_code == 403
