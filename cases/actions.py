"""The lifecycle actions as the API and the web pages receive them: each action's input and its service.

One entry point, ``action_perform``, used by ``POST /api/v1/cases/{id}/actions/{action}/`` and by the
case page's forms, so both check, validate and act in the same order: not visible (404), not permitted
or not now (403/409) -- before the input is examined -- then the input (400), then the service, which
asks the policy again under the row lock.
"""

from django.utils.translation import gettext as _

from odr.errors import NotFound, ValidationFailed, flatten_errors

from . import policies, selectors, services
from .api import serializers as s
from .jurisdiction import Contract
from .models import ACTIONS, Case
from .services.jurisdiction import PLEADING_FIELDS


def _no_args(service):
    return lambda actor, case_id, v: service(actor=actor, case_id=case_id)


def _with(service, **names):
    """Call ``service`` with the validated fields renamed as ``names`` says (``arg="field"``)."""
    return lambda actor, case_id, v: service(
        actor=actor, case_id=case_id, **{arg: v.get(field) for arg, field in names.items()}
    )


def _respond(actor, case_id, v):
    return services.case_respond(
        actor=actor,
        case_id=case_id,
        position=v["position"],
        statement=v["statement"],
        offer=v.get("offer"),
        pleading={field: v[field] for field in PLEADING_FIELDS if field in v},
        odr_agreement=v.get("odr_agreement", False),
    )


#: action -> (input serializer, call)
ACTION_HANDLERS = {
    "submit": (s.EmptyInput, _no_args(services.case_submit)),
    "withdraw": (s.ReasonInput, _with(services.case_withdraw, reason="reason")),
    "respond": (s.RespondInput, lambda actor, case_id, v: _respond(actor, case_id, v)),
    "declare_default": (s.EmptyInput, _no_args(services.case_declare_default)),
    "accept_jurisdiction": (s.EmptyInput, _no_args(services.case_accept_jurisdiction)),
    "contest_jurisdiction": (s.RequiredReasonInput, _with(services.case_contest_jurisdiction, reason="reason")),
    "decide_jurisdiction": (
        s.DecideJurisdictionInput,
        _with(services.case_decide_jurisdiction, forum="forum", applicable_law="applicable_law", reason="reason"),
    ),
    "request_mediation": (s.EmptyInput, _no_args(services.case_request_mediation)),
    "accept_settlement": (s.EmptyInput, _no_args(services.case_accept_settlement)),
    "escalate": (s.ReasonInput, _with(services.case_escalate, reason="reason")),
    "assign_mediator": (s.AssignInput, _with(services.case_assign_mediator, user_id="user")),
    "assign_arbitrator": (s.AssignInput, _with(services.case_assign_arbitrator, user_id="user")),
    "challenge_neutral": (s.RequiredReasonInput, _with(services.case_challenge_neutral, reason="reason")),
    "issue_award": (
        s.AwardInput,
        _with(
            services.case_issue_award,
            decision="decision",
            amount="amount",
            remedy="remedy",
            reasons="reasons",
            comply_within_days="comply_within_days",
        ),
    ),
    "report_compliance": (
        s.ComplianceReportInput,
        _with(services.case_report_compliance, reference="reference", kind="kind", carrier="carrier", note="note"),
    ),
    "confirm_compliance": (s.EmptyInput, _no_args(services.case_confirm_compliance)),
    "dispute_compliance": (s.RequiredReasonInput, _with(services.case_dispute_compliance, reason="reason")),
    "reject": (s.RequiredReasonInput, _with(services.case_reject, reason="reason")),
    "close": (s.ReasonInput, _with(services.case_close, reason="reason")),
    "disclose": (s.DisclosureInput, _with(services.case_disclose, statement="statement")),
    "decide_challenge": (
        s.DecideChallengeInput,
        _with(services.case_decide_challenge, upheld="upheld", reason="reason"),
    ),
    "decide_compliance": (
        s.DecideComplianceInput,
        _with(services.case_decide_compliance, upheld="upheld", reason="reason"),
    ),
    "declare_non_compliance": (s.EmptyInput, _no_args(services.case_declare_non_compliance)),
}
assert set(ACTION_HANDLERS) == set(ACTIONS), "every lifecycle action needs a handler"


def action_input(action: str):
    """The input serializer class of ``action``."""
    return ACTION_HANDLERS[action][0]


def action_perform(*, actor, case_id, action: str, data) -> Case:
    """Check, validate and perform ``action`` on the case; raise a DomainError (404, 403, 409, 400)."""
    handler = ACTION_HANDLERS.get(action)
    if handler is None:
        raise NotFound(_("There is no action “%(action)s”.") % {"action": action})
    policies.enforce(actor, selectors.case_get_for(actor, case_id), action)
    input_class, call = handler
    serializer = input_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(
            _("The request is invalid; see the field errors."), fields=flatten_errors(serializer.errors)
        )
    return call(actor, case_id, serializer.validated_data)


def case_file_from_input(*, consumer, data: dict, submit: bool, idempotency_key=None, request_body=None):
    """File from ``CaseFileInput``'s validated data (the API's body and the web form both produce it)."""
    return services.case_file(
        consumer=consumer,
        merchant_id=data["merchant"],
        order=data["order"],
        category=data["category"],
        description=data["description"],
        remedy=data["remedy"],
        claim=data["claim"],
        language=data.get("language") or consumer.language,
        jurisdiction_facts={
            "directing_indicators": list(dict.fromkeys(data.get("directing_indicators") or [])),
            "contract": data.get("contract") or Contract.GOODS,
            "consumer_odr_agreement": bool(data.get("odr_agreement")),
        },
        submit=submit,
        idempotency_key=idempotency_key,
        request_body=request_body,
    )
