"""Erasure on a data-protection request: a person's data destroyed, every case's chain still verifying.

Evidence they uploaded is crypto-shredded (its file key and stored bytes deleted); the payloads of the
events they wrote are emptied (the chain holds ``payload_hash``, not the payload); the complaint text of
their own cases is replaced, and so are their arbitration submissions and their words in the compliance
record (a consumer's dispute, a merchant's note); their account is anonymised and closed. Award documents
stay as issued: they are the decision itself, a legal record the parties may need to enforce or
challenge, and immutable by design (their SHA-256 is on the chain). Each case touched records a
``party_data_erased`` event listing what went, so an exported record shows why files and payloads are
missing.
"""

from django.db import transaction
from django.db.models import Q
from rest_framework.authtoken.models import Token

from accounts.models import User
from arbitration.models import Submission

from ..events import event_append
from ..evidence.services import evidence_shred
from ..models import Case, CaseEvent, Evidence

ERASED = "[erased]"


def party_data_erase(*, user: User) -> dict:
    """Erase ``user``'s personal data everywhere; returns what was erased, per case reference."""
    report: dict[str, dict] = {}
    with transaction.atomic():
        case_ids = (
            Case.objects.filter(
                Q(consumer=user) | Q(events__actor=user) | Q(evidence__uploaded_by=user) | Q(submissions__author=user)
            )
            .values_list("pk", flat=True)
            .distinct()
        )
        # Locked in a fixed order, so that two erasures never wait on each other.
        for case in Case.objects.select_for_update().filter(pk__in=list(case_ids)).order_by("pk"):
            shredded = []
            for evidence in Evidence.objects.filter(case=case, uploaded_by=user, erased_at__isnull=True):
                evidence_shred(evidence)
                shredded.append(str(evidence.pk))
            events = CaseEvent.objects.filter(case=case, actor=user).exclude(payload=None)
            seqs = list(events.values_list("seq", flat=True))
            events.update(payload=None)
            # The user's own words in arbitration and in compliance go too.
            submissions = Submission.objects.filter(case=case, author=user)
            submissions.update(statement=ERASED)
            outcome = dict(case.outcome or {})
            party = case.party_of(user)
            if party == "consumer" and "compliance_dispute" in outcome:
                outcome["compliance_dispute"] = {**outcome["compliance_dispute"], "reason": ERASED}
            if party == "merchant" and (outcome.get("performance") or {}).get("note"):
                outcome["performance"] = {**outcome["performance"], "note": ERASED}
            if outcome != (case.outcome or {}):
                Case.objects.filter(pk=case.pk).update(outcome=outcome)
            if case.consumer_id == user.pk:
                Case.objects.filter(pk=case.pk).update(
                    description=ERASED, order_reference=ERASED, order_product=ERASED, order_platform=""
                )
            event_append(
                case=case,
                type="party_data_erased",
                payload={"party": case.party_of(user) or user.role, "evidence": shredded, "events": seqs},
            )
            report[case.reference] = {"evidence": len(shredded), "events": len(seqs)}
        Token.objects.filter(user=user).delete()
        user.notifications.all().delete()
        user.email = f"erased-{user.pk}@erased.invalid"
        user.display_name = ERASED
        user.is_active = False
        user.set_unusable_password()
        user.save()
    return report
