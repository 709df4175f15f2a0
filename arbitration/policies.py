"""Who may do what in arbitration: the timetable, submissions, the award and its corrections.

Each returns the refusal (403 for who may never, 409 for not now) or None; callers answer 404 first when
the user may not see the case (``cases.policies.can_view``). Issuing the award is the lifecycle action
``issue_award`` (``cases.policies``).
"""

import datetime as dt

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.models import Deadline, DeadlineKind, DeadlineStatus, Status
from odr.errors import Conflict, Forbidden

#: States after the award in which it can still be corrected.
CORRECTABLE_STATES = (Status.AWARDED, Status.COMPLIANCE, Status.NON_COMPLIANT, Status.CLOSED)


def _arbitrator(user, case) -> bool:
    return bool(user is not None and user.is_authenticated and case.arbitrator_id and user.pk == case.arbitrator_id)


def _running(case, kind):
    """The clock of ``kind`` if it is still running and not yet due (the sweep may not have fired it)."""
    return Deadline.objects.filter(
        case=case, kind=kind, status=DeadlineStatus.RUNNING, due_at__gt=timezone.now()
    ).first()


def timetable_refusal(user, case):
    if not _arbitrator(user, case):
        return Forbidden(_("Only the case's arbitrator sets the timetable."))
    if case.status != Status.ARBITRATION or _running(case, DeadlineKind.ARBITRATION_SUBMISSIONS) is None:
        return Conflict(_("The time for submissions is over; the timetable can no longer change."))
    return None


def submission_refusal(user, case):
    party = case.party_of(user)
    if party is None:
        return Forbidden(_("Only the parties file submissions."))
    if case.status != Status.ARBITRATION:
        return Conflict(_("Submissions are filed during arbitration."))
    if _running(case, DeadlineKind.ARBITRATION_SUBMISSIONS) is not None:
        return None
    if party == "merchant" and _running(case, DeadlineKind.FINAL_NOTICE) is not None:
        return None
    return Conflict(_("The time for submissions has passed."))


def correction_refusal(user, case, award):
    if not _arbitrator(user, case):
        return Forbidden(_("Only the arbitrator who decided the case corrects the award."))
    if award is None or case.status not in CORRECTABLE_STATES:
        return Conflict(_("There is no issued award to correct."))
    first_issued = award.issued_at if award.number == 1 else case.awards.get(number=1).issued_at
    if timezone.now() > first_issued + dt.timedelta(days=settings.ODR_AWARD_CORRECTION_DAYS):
        return Conflict(_("The time to correct this award has passed."))
    return None
