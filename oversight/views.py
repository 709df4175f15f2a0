"""Oversight pages: the public compliance register and transparency page, the operator's dashboard with
its alerts, and the merchant records with the sanction forms. Thin: each form posts to a view that calls
the same service as the API."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_countries import countries

from accounts.models import MerchantOrganisation
from cases.api.serializers import validated
from cases.models import Category, Status
from odr.errors import DomainError, error_text

from . import policies, selectors, services, stats
from .api.stats import filters_from
from .api.views import LiftInput, SanctionInput
from .models import LADDER, AlertStatus, RiskAlert, SanctionLevel


def compliance_register(request):
    """Public, no log-in: merchants under sanction and anonymised outcome statistics."""
    data = selectors.register_data()
    return render(request, "oversight/register.html", {"register": data, "levels": dict(SanctionLevel.choices)})


def _operator(request):
    if not policies.can_oversee(request.user):
        raise Http404


@login_required
def merchant_list(request):
    _operator(request)
    query = request.GET.get("q", "").strip()
    merchants = MerchantOrganisation.objects.annotate(
        cases_count=Count("cases", filter=~Q(cases__status=Status.DRAFT), distinct=True),
        non_compliant=Count("cases", filter=Q(cases__status=Status.NON_COMPLIANT), distinct=True),
        active_sanctions=Count("sanctions", filter=Q(sanctions__lifted_at__isnull=True), distinct=True),
    ).order_by("-non_compliant", "legal_name", "id")
    if query:
        merchants = merchants.filter(legal_name__icontains=query)
    page = Paginator(merchants, 50).get_page(request.GET.get("page"))
    return render(request, "oversight/merchant_list.html", {"page": page, "q": query})


@login_required
def merchant_record(request, merchant_id):
    _operator(request)
    merchant = MerchantOrganisation.objects.filter(pk=merchant_id).first()
    if merchant is None:
        raise Http404
    current = services.current_sanction(merchant.pk)
    rank = current.rank if current else -1
    return render(
        request,
        "oversight/merchant_record.html",
        {
            "merchant": merchant,
            "record": selectors.merchant_record(merchant),
            "current": current,
            "next_levels": [(level.value, level.label) for level in LADDER[rank + 1 :]],
        },
    )


@login_required
@require_POST
def sanction_apply(request, merchant_id):
    _operator(request)
    try:
        v = validated(
            SanctionInput,
            {
                "level": request.POST.get("level") or None,
                "reason": request.POST.get("reason", "").strip(),
                "cases": request.POST.getlist("cases"),
            },
        )
        services.sanction_apply(
            actor=request.user, merchant_id=merchant_id, level=v["level"], reason=v["reason"], case_ids=v["cases"]
        )
    except DomainError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("The sanction was applied and the merchant notified."))
    return redirect(reverse("oversight-merchant", args=[merchant_id]))


@login_required
@require_POST
def sanction_lift(request, merchant_id, sanction_id):
    _operator(request)
    try:
        v = validated(LiftInput, {"reason": request.POST.get("reason", "").strip()})
        services.sanction_lift(actor=request.user, merchant_id=merchant_id, sanction_id=sanction_id, reason=v["reason"])
    except DomainError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("The sanction was lifted."))
    return redirect(reverse("oversight-merchant", args=[merchant_id]))


# --- the dashboard ----------------------------------------------------------------------------------------


@login_required
def dashboard(request):
    """The operator's dashboard: the overview for the filters, charts, the merchant table by risk, alerts."""
    _operator(request)
    errors = {}
    try:
        filters = filters_from(request.GET)
    except DomainError as exc:
        errors = getattr(exc, "fields", {}) or {"": [error_text(exc)]}
        filters = stats.Filters()
    data = stats.overview(filters)
    query = {k: v for k, v in filters.as_dict().items() if v not in (None, "")}
    merchants = stats.merchant_json(
        stats.merchant_rows(merchant=filters.merchant).order_by(*stats.MERCHANT_ORDERINGS["risk"])[:20]
    )
    alerts = RiskAlert.objects.filter(status=AlertStatus.OPEN).select_related("merchant")[:30]
    charts = {
        "months": [m["month"] for m in data["by_month"]],
        "filed": [m["cases"] for m in data["by_month"]],
        "settled": [m["settled"] for m in data["by_month"]],
        "awarded": [m["awarded"] for m in data["by_month"]],
        "non_compliant": [m["non_compliant"] for m in data["by_month"]],
        "pairs": [f"{p['consumer_country']} → {p['merchant_country']}" for p in data["by_country_pair"][:15]],
        "pair_cases": [p["cases"] for p in data["by_country_pair"][:15]],
        "categories": [str(dict(Category.choices).get(c, c)) for c in data["by_category"]],
        "category_cases": list(data["by_category"].values()),
        "statuses": [str(dict(Status.choices).get(s, s)) for s in data["by_status"]],
        "status_cases": list(data["by_status"].values()),
        "labels": {
            "filed": _("Filed"),
            "settled": _("Settled"),
            "awarded": _("Awarded"),
            "non_compliant": _("Not complied with"),
            "cases": _("Cases"),
        },
    }
    return render(
        request,
        "oversight/dashboard.html",
        {
            "data": data,
            "charts": charts,
            "filters": filters,
            "errors": errors,
            "query": urlencode(query),
            "merchants": merchants,
            "alerts": alerts,
            "countries": list(countries),
            "categories": Category.choices,
            "levels": SanctionLevel.choices,
        },
    )


@login_required
@require_POST
def alert_acknowledge(request, alert_id):
    _operator(request)
    try:
        services.alert_acknowledge(actor=request.user, alert_id=alert_id, note=request.POST.get("note", "").strip())
    except DomainError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("The alert was acknowledged."))
    return redirect(reverse("oversight-dashboard") + "#alerts")


@login_required
@require_POST
def alert_sanction(request, alert_id):
    _operator(request)
    try:
        v = validated(
            SanctionInput,
            {"level": request.POST.get("level") or None, "reason": request.POST.get("reason", "").strip()},
        )
        services.alert_sanction(actor=request.user, alert_id=alert_id, level=v["level"], reason=v["reason"])
    except DomainError as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("The sanction was applied and the merchant notified."))
    return redirect(reverse("oversight-dashboard") + "#alerts")


def transparency(request):
    """Public, no log-in: anonymised totals and outcomes by quarter."""
    return render(request, "oversight/transparency.html", {"data": stats.transparency()})
