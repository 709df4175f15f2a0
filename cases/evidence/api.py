"""Evidence API: upload (parties), list and download (everyone who may see the case)."""

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from odr.errors import PayloadTooLarge
from odr.pagination import CursorPagination

from .. import policies, selectors
from ..api.serializers import local_time
from . import services, uploads


class EvidenceOutput(serializers.Serializer):
    id = serializers.UUIDField()
    filename = serializers.CharField()
    description = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    sha256 = serializers.CharField()
    party = serializers.CharField()
    uploaded_by = serializers.IntegerField(source="uploaded_by_id")
    created_at = serializers.DateTimeField()
    created_at_local = serializers.SerializerMethodField()
    erased = serializers.SerializerMethodField()

    def get_created_at_local(self, evidence) -> str:
        return local_time(evidence.created_at, self.context["request"].user)

    def get_erased(self, evidence) -> bool:
        return evidence.erased_at is not None


class EvidenceUploadInput(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    description = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


def check_upload(user, case_id) -> None:
    """404 for who may not see the case, 403/409 for who may not add to it: before the body is read."""
    case = selectors.case_get_for(user, case_id)
    refusal = policies.evidence_upload_refusal(user, case)
    if refusal is not None:
        raise refusal


def too_large():
    from django.conf import settings
    from django.template.defaultfilters import filesizeformat

    return PayloadTooLarge(
        _("A file may be at most %(size)s.") % {"size": filesizeformat(settings.ODR_EVIDENCE_MAX_BYTES)}
    )


class EvidencePagination(CursorPagination):
    ordering = ("created_at", "id")
    page_size = 100


class EvidenceListCreateApi(APIView):
    parser_classes = [MultiPartParser]
    throttle_classes = [UserRateThrottle]

    def initialize_request(self, request, *args, **kwargs):
        if request.method == "POST":
            uploads.install(request)  # before authentication's CSRF check reads the body
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(responses={200: EvidenceOutput(many=True)}, tags=["evidence"])
    def get(self, request, case_id):
        paginator = EvidencePagination()
        page = paginator.paginate_queryset(services.evidence_list_for(request.user, case_id), request, view=self)
        return paginator.get_paginated_response(EvidenceOutput(page, many=True, context={"request": request}).data)

    @extend_schema(
        request={"multipart/form-data": EvidenceUploadInput},
        responses={201: EvidenceOutput, 413: OpenApiResponse(description="too large"), 415: OpenApiResponse()},
        tags=["evidence"],
    )
    def post(self, request, case_id):
        check_upload(request.user, case_id)
        if getattr(request._request, "evidence_too_large", False):
            raise too_large()
        data = EvidenceUploadInput(data=request.data)
        if getattr(request._request, "evidence_too_large", False):
            raise too_large()
        data.is_valid(raise_exception=True)
        evidence = services.evidence_add(
            actor=request.user,
            case_id=case_id,
            upload=data.validated_data["file"],
            description=data.validated_data["description"],
        )
        return Response(EvidenceOutput(evidence, context={"request": request}).data, status=201)


def download_response(evidence, chunks) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type=evidence.content_type)
    response["Content-Length"] = str(evidence.size)
    response["Content-Disposition"] = _disposition(evidence.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Evidence-SHA256"] = evidence.sha256
    return response


def _disposition(filename: str) -> str:
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"


class EvidenceDownloadApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={(200, "application/octet-stream"): bytes}, tags=["evidence"])
    def get(self, request, case_id, evidence_id):
        evidence, chunks = services.evidence_open(actor=request.user, case_id=case_id, evidence_id=evidence_id)
        return download_response(evidence, chunks)
