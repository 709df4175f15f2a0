"""Drive a filed case to any state through the services: used by ``seed_demo`` and by the tests."""

from dataclasses import dataclass
from decimal import Decimal

from . import services
from .models import Case
from .money import Money


@dataclass
class People:
    consumer: object
    merchant: object
    mediator: object
    arbitrator: object
    operator: object


def drive(
    case: Case, state: str, people: People, *, merchant_offer: bool = False, offer: str = "40.00", heard: bool = False
) -> Case:
    """Take the filed ``case`` to ``state`` the way users would; returns the case as it then is.

    ``merchant_offer=True`` has the merchant respond with an offer of ``offer`` (in the claim's currency)
    instead of contesting, so an open offer awaits the consumer. ``heard=True`` leaves a case in arbitration
    with both parties' submissions filed, so the award may be issued (on the way to a later state they
    always are).
    """
    c, m, op = people.consumer, people.merchant, people.operator
    pk = case.pk
    if state == "filed":
        return case
    if state == "withdrawn":
        return services.case_withdraw(actor=c, case_id=pk, reason="Changed my mind.")
    if state == "rejected":
        return services.case_reject(actor=op, case_id=pk, reason="Not a cross-border consumer purchase.")
    if state == "defaulted":
        return services.case_declare_default(actor=op, case_id=pk)
    if state in ("settled", "compliance", "closed", "non_compliant") and not merchant_offer:
        case = services.case_respond(actor=m, case_id=pk, position="accept", statement="We will refund in full.")
        if state == "settled":
            return case
        if state == "non_compliant":  # the comply-by date passed unperformed (what the sweep does)
            return services.case_declare_non_compliance(actor=None, case_id=pk)
        case = services.case_report_compliance(actor=m, case_id=pk, reference="REFUND-1")
        if state == "compliance":
            return case
        return services.case_confirm_compliance(actor=c, case_id=pk)
    if merchant_offer:
        amount = Money(Decimal(offer), case.claim_currency)
        case = services.case_respond(actor=m, case_id=pk, position="offer", statement="Half back.", offer=amount)
    else:
        case = services.case_respond(actor=m, case_id=pk, position="contest", statement="It was delivered.")
    if state == "jurisdiction":
        return case
    services.case_accept_jurisdiction(actor=c, case_id=pk)
    case = services.case_accept_jurisdiction(actor=m, case_id=pk)
    if state == "negotiation":
        return case
    if state == "settled":
        return services.case_accept_settlement(actor=c, case_id=pk)
    services.case_request_mediation(actor=c, case_id=pk)
    case = services.case_assign_mediator(actor=op, case_id=pk, user_id=people.mediator.pk)
    if state == "mediation":
        return case
    services.case_escalate(actor=c, case_id=pk)
    case = services.case_assign_arbitrator(actor=op, case_id=pk, user_id=people.arbitrator.pk)
    if state == "arbitration" and not heard:
        return case
    # Both parties are heard before the award (cases.policies: it waits for their submissions).
    from arbitration.services import submission_file

    submission_file(actor=c, case_id=pk, statement="The parcel never arrived.", evidence_ids=[])
    submission_file(actor=m, case_id=pk, statement="The carrier reported it delivered.", evidence_ids=[])
    if state == "arbitration":
        return Case.objects.get(pk=pk)
    case = services.case_issue_award(
        actor=people.arbitrator,
        case_id=pk,
        decision="granted",
        amount=Money(case.claim_amount, case.claim_currency),
        remedy=case.remedy,
        reasons="The merchant did not prove delivery.",
    )
    if state == "awarded":
        return case
    raise ValueError(f"no recipe for {state}")
