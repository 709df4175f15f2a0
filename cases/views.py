"""Web pages for cases: the lists of each role, the filing form, the case page and its actions.

Thin: the same selectors, policies and services as the API; the lifecycle actions go through
``cases.actions.action_perform`` exactly as the API's do.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST
from django_countries import countries
from rest_framework.fields import BooleanField

from accounts.models import Role, User
from arbitration import views as arbitration_views
from mediation import views as mediation_views
from odr.errors import DomainError, NotFound, ValidationFailed
from odr.forms import apply_domain_error

from . import policies, selectors
from .actions import action_input, action_perform, case_file_from_input
from .api.serializers import DISCLAIMER, MoneyField
from .evidence.sniff import ALLOWED
from .forms import CaseFileForm, CaseFilterForm, currency_choices
from .jurisdiction import localise
from .labels import ACTION_LABELS, CHOICE_LABELS, FIELD_LABELS, PARTY_LABELS
from .models import Remedy
from .services.jurisdiction import PLEADING_FIELDS

LIST_TITLES = {
    Role.CONSUMER: gettext_lazy("My cases"),
    Role.MERCHANT: gettext_lazy("Inbox"),
    Role.MEDIATOR: gettext_lazy("My assigned cases"),
    Role.ARBITRATOR: gettext_lazy("My assigned cases"),
    Role.OPERATOR: gettext_lazy("All cases"),
}


@login_required
def case_list(request):
    filters = CaseFilterForm(request.GET or None)
    order = "deadline" if request.user.role == Role.MERCHANT else "newest"
    cases = selectors.case_list_for(request.user, order=order, **filters.selector_filters())
    page = Paginator(cases, 25).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "cases/list.html",
        {
            "title": LIST_TITLES.get(request.user.role, _("Cases")),
            "page": page,
            "filters": filters,
            "show_filters": request.user.role == Role.OPERATOR,
            "query": query.urlencode(),
        },
    )


@login_required
def case_file(request):
    if not policies.can_file(request.user):
        messages.error(request, _("Only consumers can file complaints."))
        return redirect("case-list")
    search = request.POST.get("merchant_search", request.GET.get("merchant_search", "")).strip()
    wants_search = request.method == "POST" and "search" in request.POST
    form = CaseFileForm(
        request.POST if request.method == "POST" and not wants_search else None,
        initial={"language": request.user.language, **({"merchant_search": search} if search else {})},
        merchant_search=search,
    )
    if wants_search:
        form = CaseFileForm(
            initial={**request.POST.dict(), "language": request.POST.get("language")}, merchant_search=search
        )
    elif request.method == "POST" and form.is_valid():
        v = form.validated
        try:
            case, _created = case_file_from_input(
                consumer=request.user, data=v, submit="save_draft" not in request.POST
            )
        except DomainError as exc:
            apply_domain_error(form, exc)
        else:
            if case.status == "draft":
                messages.success(
                    request, _("Your draft %(ref)s is saved. File it when you are ready.") % {"ref": case.reference}
                )
            else:
                messages.success(request, _("Your complaint %(ref)s is filed.") % {"ref": case.reference})
            return redirect("case-detail", case_id=case.pk)
    template = (
        "cases/_merchant_options.html"
        if request.htmx and request.GET.get("merchant_search") is not None
        else "cases/file.html"
    )
    return render(request, template, {"form": form, "merchant_search": search})


#: Optional facts for the jurisdiction engine, asked after the action's own fields.
_LATER_FIELDS = ("odr_agreement", *PLEADING_FIELDS)


def _action_fields(action, case):
    """What the form of ``action`` asks for, read from the action's input serializer."""
    fields = []
    specs = sorted(action_input(action)().fields.items(), key=lambda item: item[0] in _LATER_FIELDS)
    for name, spec in specs:
        label = FIELD_LABELS.get(f"{name}_compliance" if action == "decide_compliance" else name)
        field = {
            "name": name,
            "label": label or FIELD_LABELS.get(name, name),
            "required": spec.required,
            "kind": "text",
        }
        if name == "forum_clause_exclusive":
            labels = CHOICE_LABELS[name]
            field.update(kind="select", choices=[("", "–"), ("true", labels["true"]), ("false", labels["false"])])
        elif isinstance(spec, BooleanField):
            field["kind"] = "checkbox"
        elif name in ("chosen_law", "chosen_forum"):
            options = [("", _("None"))]
            if name == "chosen_forum":
                options.append(("odr", _("This platform's online procedure")))
            field.update(kind="select", choices=options + list(countries))
        elif isinstance(spec, MoneyField):
            field.update(kind="money", currencies=currency_choices(), currency=case.claim_currency)
        elif name == "user":
            role = Role.MEDIATOR if action == "assign_mediator" else Role.ARBITRATOR
            field.update(
                kind="select",
                choices=[
                    (u.pk, str(u)) for u in User.objects.filter(role=role, is_active=True).order_by("display_name")
                ],
            )
        elif name in ("forum", "applicable_law"):
            options = [(code, name_) for code, name_ in countries]
            if name == "forum":
                options = [("odr", _("This platform's online procedure"))] + options
            field.update(kind="select", choices=options)
        elif name == "remedy":
            field.update(kind="select", choices=list(Remedy.choices), initial=case.remedy)
        elif hasattr(spec, "choices") and spec.choices:
            labels = CHOICE_LABELS.get(name, {})
            field.update(kind="select", choices=[(k, labels.get(k, v)) for k, v in spec.choices.items()])
        elif name in ("statement", "reasons", "reason"):
            field["kind"] = "textarea"
        fields.append(field)
    return fields


def _case_page(request, case, *, failed_action=None, errors=None, values=None, status=200):
    events = list(case.events.select_related("actor").order_by("seq"))
    allowed = policies.allowed_actions(request.user, case)
    forms = [
        {
            "action": action,
            "label": ACTION_LABELS[action],
            "fields": _action_fields(action, case),
            "open": action == failed_action,
            "errors": errors if action == failed_action else {},
            "values": values if action == failed_action else {},
        }
        for action in allowed
    ]
    return render(
        request,
        "cases/detail.html",
        {
            "case": case,
            "events": events,
            "action_forms": forms,
            # The arbitrator learns why the award cannot be issued yet (a challenge, the parties' time).
            "waiting": [
                {"label": ACTION_LABELS[action], "reason": reason}
                for action in ("issue_award",)
                if action not in allowed and (reason := policies.waiting_for(request.user, case, action))
            ],
            "party": PARTY_LABELS.get(case.party_of(request.user) or "", ""),
            "deadlines": [d for d in case.deadlines.all() if d.status == "running"],
            **mediation_views.case_page_context(request, case),
            **arbitration_views.page_context(request, case),
            "jurisdiction": localise(case.jurisdiction) if case.jurisdiction.get("status") else None,
            "evidence": list(case.evidence.select_related("uploaded_by").order_by("created_at", "id")),
            "can_upload": policies.can_upload_evidence(request.user, case),
            "evidence_max_mb": f"{settings.ODR_EVIDENCE_MAX_BYTES / 1024 / 1024:g}",
            "evidence_max_bytes": settings.ODR_EVIDENCE_MAX_BYTES,
            "evidence_max_files": settings.ODR_EVIDENCE_MAX_FILES,
            "evidence_accept": ",".join(sorted({f".{ext}" for _m, (_c, exts) in ALLOWED.items() for ext in exts})),
            "disclaimer": DISCLAIMER,
        },
        status=status,
    )


@login_required
def case_detail(request, case_id):
    try:
        case = selectors.case_get_for(request.user, case_id)
    except NotFound:
        raise Http404 from None
    return _case_page(request, case)


def _nested(post) -> dict:
    """Form fields named like ``offer.amount`` become ``{"offer": {"amount": ...}}``; blanks are left out."""
    data = {}
    for key, value in post.items():
        if key == "csrfmiddlewaretoken" or value == "":
            continue
        head, _, tail = key.partition(".")
        if tail:
            data.setdefault(head, {})[tail] = value
        else:
            data[key] = value
    # A money field with only its currency chosen was left empty.
    return {k: v for k, v in data.items() if not (isinstance(v, dict) and "amount" not in v)}


@login_required
@require_POST
def case_action(request, case_id, action):
    try:
        action_perform(actor=request.user, case_id=case_id, action=action, data=_nested(request.POST))
    except NotFound:
        raise Http404 from None
    except ValidationFailed as exc:
        case = selectors.case_get_for(request.user, case_id)
        messages.error(request, _("Please correct the errors below."))
        return _case_page(request, case, failed_action=action, errors=exc.fields, values=request.POST, status=400)
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("case-detail", case_id=case_id)
    messages.success(request, _("Done: %(action)s.") % {"action": ACTION_LABELS.get(action, action)})
    return redirect("case-detail", case_id=case_id)
