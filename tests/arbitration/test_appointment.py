"""Arbitrators come from the same roster as mediators: appointed when the case reaches arbitration."""

from cases.models import CaseEvent
from mediation.models import Appointment
from mediation.services import neutral_profile_set
from tests.conftest import client_for
from tests.factories import Cast, case_in, user


def _escalate(cast, case):
    response = client_for(cast.consumer).post(f"/api/v1/cases/{case.pk}/actions/escalate/", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_least_loaded_fitting_arbitrator_is_appointed_never_the_mediator_nor_a_conflicted_one(db):
    cast = Cast.make()
    # The cast's arbitrator served this merchant in the past year (its other cases): conflicted.
    neutral_profile_set(user=cast.arbitrator, languages=["en", "zh-hans"])
    case_in("arbitration", cast)
    # A busier arbitrator (two cases of other merchants), an idle one, one who works only in Japanese.
    busy = user("arbitrator", country="FR", time_zone="Europe/Paris")
    neutral_profile_set(user=busy, languages=["en", "zh-hans"], max_load=5)
    for _ in range(2):
        elsewhere = case_in("arbitration", Cast.make())
        elsewhere.arbitrator = busy
        elsewhere.save(update_fields=["arbitrator"])
    idle = user("arbitrator", country="DE", time_zone="Europe/Berlin")
    neutral_profile_set(user=idle, languages=["en", "zh-hans"])
    japanese = user("arbitrator", country="JP", time_zone="Asia/Tokyo")
    neutral_profile_set(user=japanese, languages=["ja"])

    case = case_in("mediation", cast)
    body = _escalate(cast, case)
    assert body["status"] == "arbitration"
    assert body["arbitrator"]["id"] == idle.pk
    appointment = Appointment.objects.get(case=case, role="arbitrator", status="active")
    assert appointment.automatic and appointment.neutral_id == idle.pk != case.mediator_id
    assert CaseEvent.objects.filter(case=case, type="assign_arbitrator").exists()


def test_with_no_arbitrator_on_the_roster_the_operators_are_told(db):
    cast = Cast.make()
    case = case_in("mediation", cast)
    body = _escalate(cast, case)
    assert body["status"] == "arbitration" and body["arbitrator"] is None
    event = CaseEvent.objects.get(case=case, type="neutral_unavailable", payload__role="arbitrator")
    from notifications.models import Notification

    assert Notification.objects.filter(user=cast.operator, event=event).exists()
    assert not Notification.objects.filter(user=cast.consumer, event=event).exists()
