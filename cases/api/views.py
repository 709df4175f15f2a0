"""Cases API: filing, listing, reading, lifecycle actions and the event log. Thin: validate, call, render."""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from cases import policies, selectors
from cases.actions import ACTION_HANDLERS, action_perform, case_file_from_input
from cases.events import iso_utc
from cases.jurisdiction import evaluate, localise
from cases.models import ACTIONS
from odr.errors import Forbidden, NotFound, ValidationFailed
from odr.pagination import CursorPagination

from . import serializers as s


class FilingThrottle(ScopedRateThrottle):
    """Filing has its own, stricter rate (``ODR_THROTTLE_FILING``); only POST counts."""

    scope_attr = "throttle_scope"

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        return super().allow_request(request, view)


class CaseListCreateApi(APIView):
    throttle_classes = [UserRateThrottle, FilingThrottle]
    throttle_scope = "filing"

    @extend_schema(
        parameters=[OpenApiParameter("status", str, description="one status or several, comma-separated")],
        responses={200: s.CaseOutput(many=True)},
        tags=["cases"],
    )
    def get(self, request):
        paginator = CursorPagination()
        qs = selectors.case_list_for(request.user, status=request.query_params.get("status"))
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(s.CaseOutput(page, many=True, context={"request": request}).data)

    @extend_schema(
        request=s.CaseFileInput,
        responses={201: s.CaseOutput},
        parameters=[OpenApiParameter("Idempotency-Key", str, location=OpenApiParameter.HEADER, required=False)],
        tags=["cases"],
    )
    def post(self, request):
        if not policies.can_file(request.user):
            raise Forbidden(_("Only consumers can file complaints."))
        data = s.CaseFileInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        key = request.headers.get("Idempotency-Key") or None
        if key is not None and len(key) > 255:
            raise ValidationFailed(fields={"Idempotency-Key": [_("At most 255 characters.")]})
        case, created = case_file_from_input(
            consumer=request.user, data=v, submit=v["submit"], idempotency_key=key, request_body=request.data
        )
        headers = {} if created else {"Idempotent-Replayed": "true"}
        body = s.CaseOutput(case, context={"request": request}).data
        return Response(body, status=status.HTTP_201_CREATED, headers=headers)


class CaseDetailApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: s.CaseOutput}, tags=["cases"])
    def get(self, request, case_id):
        case = selectors.case_get_for(request.user, case_id)
        return Response(s.CaseOutput(case, context={"request": request}).data)


def _actions_description() -> str:
    lines = ["Perform one lifecycle action. The case's `allowed_actions` lists what you may do now.", ""]
    for name, (input_class, _call) in ACTION_HANDLERS.items():
        fields = ", ".join(f"{field}{'' if spec.required else '?'}" for field, spec in input_class().fields.items())
        lines.append(f"- `{name}`: {{{fields}}}")
    return "\n".join(lines)


class CaseActionApi(APIView):
    """``POST /api/v1/cases/{id}/actions/{action}/``: one lifecycle action, body as the action needs."""

    throttle_classes = [UserRateThrottle]

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: s.CaseOutput},
        description=_actions_description(),
        parameters=[OpenApiParameter("action", str, location=OpenApiParameter.PATH, enum=list(ACTIONS))],
        tags=["cases"],
    )
    def post(self, request, case_id, action):
        case = action_perform(actor=request.user, case_id=case_id, action=action, data=request.data)
        case = selectors.case_get_for(request.user, case.pk)
        return Response(s.CaseOutput(case, context={"request": request}).data)


class EventPagination(CursorPagination):
    ordering = "seq"
    page_size = 100


class CaseEventListApi(generics.ListAPIView):
    serializer_class = s.CaseEventOutput
    pagination_class = EventPagination
    throttle_classes = [UserRateThrottle]

    @extend_schema(tags=["cases"])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return selectors.event_list_for(self.request.user, self.kwargs["case_id"])


class JurisdictionEvaluateApi(APIView):
    """``POST /api/v1/jurisdiction/evaluate/``: stateless; the forum and the law for the facts given."""

    throttle_classes = [UserRateThrottle]

    @extend_schema(request=s.JurisdictionFactsInput, responses={200: s.JurisdictionOutput}, tags=["jurisdiction"])
    def post(self, request):
        data = s.JurisdictionFactsInput(data=request.data)
        data.is_valid(raise_exception=True)
        answer = localise(evaluate(data.facts()).record())
        return Response(s.jurisdiction_output(answer))


class CaseJurisdictionApi(APIView):
    """``GET /api/v1/cases/{id}/jurisdiction/``: the case's proposal (or decision) and its status."""

    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: s.JurisdictionOutput}, tags=["jurisdiction"])
    def get(self, request, case_id):
        case = selectors.case_get_for(request.user, case_id)
        if not case.jurisdiction.get("status"):
            raise NotFound(_("This case has no proposal of forum and law yet: it comes with the merchant's response."))
        return Response(s.jurisdiction_output(localise(case.jurisdiction)))


def export_response(*, user, case_id):
    """The case's record bundle as a streamed zip (``cases.export``)."""
    from django.http import StreamingHttpResponse

    from cases.export.bundle import bundle_for

    name, chunks = bundle_for(user=user, case_id=case_id)
    response = StreamingHttpResponse(chunks, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


class SigningKeyListApi(APIView):
    """``GET /api/v1/signing-keys/``: the public keys the platform signs record bundles with, every one it
    has used (no log-in: whoever holds a bundle checks its MANIFEST.sig against this list)."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(tags=["public"], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        from cases.export import signing
        from cases.models import SigningKey

        signing.current()  # the key in use is listed even before its first bundle
        keys = [
            {
                "key_id": key.key_id,
                "algorithm": key.algorithm,
                "public_key": key.public_key,
                "published_at": iso_utc(key.created_at),
            }
            for key in SigningKey.objects.all()
        ]
        return Response({"results": keys, "next": None, "previous": None})


class CaseExportApi(APIView):
    """``GET /api/v1/cases/{id}/export/``: the case record as a zip anyone can verify offline."""

    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={(200, "application/zip"): bytes}, tags=["cases"])
    def get(self, request, case_id):
        return export_response(user=request.user, case_id=case_id)
