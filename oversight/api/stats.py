"""Operator API: the statistics (JSON, or CSV with ``?format=csv``) and the risk alerts. Thin."""

import csv
import datetime as dt
import io
import re

from django.utils.translation import gettext_lazy as _
from django_countries import countries
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from cases.api.serializers import text, validated
from cases.events import iso_utc
from cases.models import Category
from odr.errors import ValidationFailed

from .. import policies, services, stats
from ..models import AlertKind, AlertStatus, RiskAlert, SanctionLevel


class CsvRenderer(BaseRenderer):
    """``?format=csv``: the view's ``csv_rows(data)`` as a CSV download; errors keep the JSON shape."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        context = renderer_context or {}
        response = context.get("response")
        if response is not None and response.status_code >= 400:
            response["Content-Type"] = "application/json"
            return JSONRenderer().render(data)
        out = io.StringIO()
        writer = csv.writer(out)
        for row in context["view"].csv_rows(data):
            writer.writerow([_cell(v) for v in row])
        if response is not None:
            response["Content-Disposition"] = f'attachment; filename="{context["view"].csv_name}"'
        return out.getvalue().encode("utf-8")


def _cell(value):
    value = "" if value is None else str(value)
    # A spreadsheet must not run what a merchant called itself: formulas are quoted (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


RENDERERS = [JSONRenderer, CsvRenderer]
MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


def _month(value: str, field: str) -> dt.date:
    match = MONTH.match(value or "")
    try:
        if match is None:
            raise ValueError
        year, month, day = int(match[1]), int(match[2]), int(match[3] or 1)
        dt.date(year, month, day)  # a real date
        if not 2000 <= year <= 2999:
            raise ValueError
    except ValueError:
        raise ValidationFailed(
            fields={field: [_("Give a month as YYYY-MM (or a date as YYYY-MM-DD), from 2000 to 2999.")]}
        ) from None
    return dt.date(year, month, 1)


class FilterInput(serializers.Serializer):
    consumer_country = serializers.ChoiceField(choices=list(countries), required=False)
    merchant_country = serializers.ChoiceField(choices=list(countries), required=False)
    country = serializers.ChoiceField(choices=list(countries), required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    merchant = serializers.IntegerField(required=False, min_value=1)


def filters_from(params) -> stats.Filters:
    """The statistics' filters from a query string (the API and the dashboard read the same ones)."""
    start = _month(params["from"], "from") if params.get("from") else None
    end = _month(params["to"], "to") if params.get("to") else None
    if start and end and start > end:
        raise ValidationFailed(fields={"to": [_("The end comes before the start.")]})
    values = {k: v for k, v in params.items() if k in FilterInput().fields and v not in ("", None)}
    v = validated(FilterInput, values)
    return stats.Filters(start=start, end=end, **v)


FILTER_PARAMETERS = [
    OpenApiParameter("from", str, description="first month, YYYY-MM (a date is taken as its month)"),
    OpenApiParameter("to", str, description="last month, YYYY-MM (inclusive)"),
    OpenApiParameter("consumer_country", str),
    OpenApiParameter("merchant_country", str),
    OpenApiParameter("country", str, description="either party's country"),
    OpenApiParameter("category", str),
    OpenApiParameter("merchant", int),
    OpenApiParameter("format", str, enum=["json", "csv"]),
]


class _OperatorView(APIView):
    throttle_classes = [UserRateThrottle]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        refusal = policies.stats_refusal(request.user)
        if refusal is not None:
            raise refusal


def overview_json(data: dict) -> dict:
    return {**data, "generated_at": iso_utc(data["generated_at"])}


class OverviewApi(_OperatorView):
    renderer_classes = RENDERERS
    csv_name = "odr-statistics.csv"

    @extend_schema(tags=["operator"], parameters=FILTER_PARAMETERS, responses=OpenApiTypes.OBJECT)
    def get(self, request):
        return Response(overview_json(stats.overview(filters_from(request.query_params))))

    def csv_rows(self, data):
        yield ["section", "key", "value"]
        for key, value in data["filters"].items():
            yield ["filter", key, value]
        yield ["total", "cases", data["total"]]
        for section in ("by_status", "by_category", "outcomes", "compliance"):
            for key, value in data[section].items():
                yield [section, key, value]
        for pair in data["by_country_pair"]:
            yield ["by_country_pair", f"{pair['consumer_country']}-{pair['merchant_country']}", pair["cases"]]
        for month in data["by_month"]:
            yield ["by_month", month["month"], month["cases"]]
        for rate in ("settlement_rate", "default_rate", "response_rate", "compliance_rate"):
            yield ["rate", rate, data[rate]]
        durations = data["durations"]
        for name in ("response_hours", "close_days"):
            for figure in ("median", "p90", "cases"):
                yield ["durations", f"{name}.{figure}", durations[name][figure]]
        for stage, figures in durations["resolution_days"].items():
            for figure in ("median", "p90", "cases"):
                yield ["durations", f"resolution_days.{stage}.{figure}", figures[figure]]
        yield ["deadline_breaches", "total", data["deadline_breaches"]["total"]]
        for kind, n in data["deadline_breaches"]["by_kind"].items():
            yield ["deadline_breaches", kind, n]
        for row in data["amounts"]:
            for name in ("claimed", "settled", "awarded"):
                yield [f"amounts.{name}", row["currency"], row[name]["amount"]]


class MerchantPage(CursorPagination):
    page_size = 50
    max_page_size = 500
    page_size_query_param = "page_size"


class MerchantsApi(_OperatorView):
    renderer_classes = RENDERERS
    csv_name = "odr-merchants.csv"
    COLUMNS = [
        "cases", "open", "recent_cases", "response_rate", "median_response_hours", "compliance_rate",
        "non_compliant", "non_compliant_now", "deadline_breaches", "sanction", "risk_score",
    ]  # fmt: skip

    @extend_schema(
        tags=["operator"],
        parameters=[
            OpenApiParameter("ordering", str, enum=list(stats.MERCHANT_ORDERINGS)),
            OpenApiParameter("country", str, description="the merchant's country"),
            OpenApiParameter("search", str, description="part of the merchant's legal name"),
            OpenApiParameter("merchant", int),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        params = request.query_params
        ordering = params.get("ordering") or "risk"
        if ordering not in stats.MERCHANT_ORDERINGS:
            raise ValidationFailed(
                fields={"ordering": [_("Order by one of: %s.") % ", ".join(stats.MERCHANT_ORDERINGS)]}
            )
        values = {k: params[k] for k in ("country", "merchant") if params.get(k)}
        v = validated(MerchantFilterInput, {**values, "search": params.get("search", "")})
        rows = stats.merchant_rows(country=v.get("country", ""), search=v["search"], merchant=v.get("merchant"))
        if request.accepted_renderer.format == "csv":
            limit = 10_000
            ordered = rows.order_by(*stats.MERCHANT_ORDERINGS[ordering])[:limit]
            return Response({"results": stats.merchant_json(ordered)})
        paginator = MerchantPage()
        paginator.ordering = stats.MERCHANT_ORDERINGS[ordering]
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(stats.merchant_json(page))

    def csv_rows(self, data):
        yield ["merchant_id", "legal_name", "country", *self.COLUMNS, "risk_flags"]
        for row in data["results"]:
            merchant = row["merchant"]
            yield [
                merchant["id"],
                merchant["legal_name"],
                merchant["country"],
                *(row[c] for c in self.COLUMNS),
                " ".join(row["risk_flags"]),
            ]


class MerchantFilterInput(serializers.Serializer):
    country = serializers.ChoiceField(choices=list(countries), required=False)
    search = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    merchant = serializers.IntegerField(required=False, min_value=1)


def alert_json(alert: RiskAlert) -> dict:
    merchant = alert.merchant
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "title": str(AlertKind(alert.kind).label),
        "status": alert.status,
        "merchant": {"id": merchant.pk, "legal_name": merchant.legal_name, "country": str(merchant.country)}
        if merchant
        else None,
        "category": alert.category or None,
        "consumer_country": alert.consumer_country or None,
        "merchant_country": alert.merchant_country or None,
        "window": {"start": iso_utc(alert.window_start), "end": iso_utc(alert.window_end)},
        "observed": alert.observed,
        "expected": alert.expected,
        "score": alert.score,
        "p_value": alert.p_value,
        "details": alert.details,
        "created_at": iso_utc(alert.created_at),
        "handled_at": iso_utc(alert.handled_at),
        "note": alert.note,
        "sanction": alert.sanction_id,
    }


class AlertPage(CursorPagination):
    page_size = 50
    ordering = ("-created_at", "-id")


class AlertsApi(_OperatorView):
    @extend_schema(
        tags=["operator"],
        parameters=[OpenApiParameter("status", str, enum=list(AlertStatus.values))],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        qs = RiskAlert.objects.select_related("merchant")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in AlertStatus.values:
                raise ValidationFailed(fields={"status": [_("Choose open, acknowledged or actioned.")]})
            qs = qs.filter(status=wanted)
        paginator = AlertPage()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response([alert_json(a) for a in page])


class AcknowledgeInput(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class AlertSanctionInput(serializers.Serializer):
    level = serializers.ChoiceField(choices=SanctionLevel.choices, required=False, allow_null=True, default=None)
    reason = text()
    cases = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=500)


class AlertAcknowledgeApi(_OperatorView):
    @extend_schema(request=AcknowledgeInput, tags=["operator"], responses=OpenApiTypes.OBJECT)
    def post(self, request, alert_id):
        v = validated(AcknowledgeInput, request.data)
        return Response(alert_json(services.alert_acknowledge(actor=request.user, alert_id=alert_id, note=v["note"])))


class AlertSanctionApi(_OperatorView):
    @extend_schema(request=AlertSanctionInput, tags=["operator"], responses=OpenApiTypes.OBJECT)
    def post(self, request, alert_id):
        v = validated(AlertSanctionInput, request.data)
        alert = services.alert_sanction(
            actor=request.user, alert_id=alert_id, level=v["level"], reason=v["reason"], case_ids=v["cases"]
        )
        return Response(alert_json(alert), status=201)
