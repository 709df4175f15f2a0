"""Arbitration API (API.md): the timetable, submissions, the award, its PDF and corrections. Thin."""

from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from cases import selectors
from cases.api.serializers import MoneyField, text, validated
from cases.events import iso_utc
from cases.models import Remedy
from cases.money import Money
from odr.errors import Conflict

from .. import services


# --- timetable ----------------------------------------------------------------------------------
class TimetableInput(serializers.Serializer):
    submissions_due = serializers.DateField()


class TimetableApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(tags=["arbitration"], responses=OpenApiTypes.OBJECT)
    def get(self, request, case_id):
        return Response(services.timetable_for(selectors.case_get_for(request.user, case_id)))

    @extend_schema(request=TimetableInput, tags=["arbitration"], responses=OpenApiTypes.OBJECT)
    def post(self, request, case_id):
        v = validated(TimetableInput, request.data)
        case = services.timetable_set(actor=request.user, case_id=case_id, submissions_due=v["submissions_due"])
        return Response(services.timetable_for(case))


# --- submissions --------------------------------------------------------------------------------
class SubmissionInput(serializers.Serializer):
    statement = text()
    evidence = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=50)


def submission_json(submission) -> dict:
    return {
        "id": submission.pk,
        "party": submission.party,
        "author": submission.author.display_name,
        "statement": submission.statement,
        "evidence": [
            {"id": str(e.pk), "filename": e.filename, "sha256": e.sha256}
            for e in submission.evidence.order_by("created_at", "id")
        ],
        "created_at": iso_utc(submission.created_at),
    }


class SubmissionsApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(tags=["arbitration"], responses=OpenApiTypes.OBJECT)
    def get(self, request, case_id):
        return Response([submission_json(s) for s in services.submission_list_for(request.user, case_id)])

    @extend_schema(request=SubmissionInput, tags=["arbitration"], responses=OpenApiTypes.OBJECT)
    def post(self, request, case_id):
        v = validated(SubmissionInput, request.data)
        submission = services.submission_file(
            actor=request.user, case_id=case_id, statement=v["statement"], evidence_ids=v["evidence"]
        )
        return Response(submission_json(submission), status=201)


# --- the award ----------------------------------------------------------------------------------
def award_json(award, user) -> dict:
    documents = list(award.documents.all())
    mine = services.document_in(documents, getattr(user, "language", "")) or (documents[0] if documents else None)
    return {
        "number": award.number,
        "corrects": award.corrects.number if award.corrects_id else None,
        "decision": award.decision,
        "amount": Money(award.amount, award.currency).as_dict() if award.amount is not None else None,
        "remedy": award.remedy,
        "reasons": award.reasons,
        "correction_note": award.correction_note,
        "forum": award.forum,
        "applicable_law": award.applicable_law,
        "comply_by": iso_utc(award.comply_by),
        "issued_at": iso_utc(award.issued_at),
        "late": award.late,
        "arbitrator": {"id": award.arbitrator_id, "display_name": award.arbitrator.display_name},
        "pdf_sha256": mine.sha256 if mine else None,
        "documents": [
            {
                "language": d.language,
                "sha256": d.sha256,
                "size": d.size,
                "url": f"/api/v1/cases/{award.case_id}/award.pdf?language={d.language}&number={award.number}",
            }
            for d in documents
        ],
    }


class _NumberQuery(serializers.Serializer):
    number = serializers.IntegerField(min_value=1, max_value=32767, required=False)


def _number(request) -> int | None:
    """``?number=`` (an earlier award or correction), or None for the latest; 400 if it is not one."""
    return validated(_NumberQuery, request.query_params).get("number")


class AwardApi(APIView):
    """The case's award (the latest correction); an issued award is never changed (409)."""

    throttle_classes = [UserRateThrottle]

    @extend_schema(
        parameters=[OpenApiParameter("number", int, required=False, description="an earlier award or correction")],
        tags=["arbitration"],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request, case_id):
        award = services.award_get_for(request.user, case_id, number=_number(request))
        history = award.case.awards.order_by("number").values_list("number", flat=True)
        return Response({**award_json(award, request.user), "history": list(history)})

    def _refuse(self, request, case_id):
        services.award_get_for(request.user, case_id)  # 404 first for whoever may not see it
        raise Conflict(_immutable_message())

    @extend_schema(request=None, responses={409: None}, tags=["arbitration"])
    def put(self, request, case_id):
        self._refuse(request, case_id)

    @extend_schema(request=None, responses={409: None}, tags=["arbitration"])
    def patch(self, request, case_id):
        self._refuse(request, case_id)

    @extend_schema(request=None, responses={409: None}, tags=["arbitration"])
    def delete(self, request, case_id):
        self._refuse(request, case_id)


def _immutable_message():
    return _("An issued award cannot be changed; the arbitrator may issue a correction.")


class AwardPdfApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter("language", str, required=False),
            OpenApiParameter("number", int, required=False),
        ],
        responses={(200, "application/pdf"): bytes},
        tags=["arbitration"],
    )
    def get(self, request, case_id):
        document = services.award_document_for(
            request.user,
            case_id,
            language=request.query_params.get("language") or None,
            number=_number(request),
        )
        return pdf_response(document)


def pdf_response(document) -> HttpResponse:
    award = document.award
    response = HttpResponse(bytes(document.pdf), content_type="application/pdf")
    name = f"award-{award.case.reference}-{award.number}-{document.language}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-SHA256"] = document.sha256
    response["Cache-Control"] = "private, no-store"
    return response


class CorrectionInput(serializers.Serializer):
    amount = MoneyField(required=False, allow_null=True, default=None)
    remedy = serializers.ChoiceField(choices=Remedy.choices)
    reasons = text()
    note = text()


class AwardCorrectionsApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=CorrectionInput, tags=["arbitration"], responses=OpenApiTypes.OBJECT)
    def post(self, request, case_id):
        v = validated(CorrectionInput, request.data)
        services.award_correct(
            actor=request.user,
            case_id=case_id,
            amount=v["amount"],
            remedy=v["remedy"],
            reasons=v["reasons"],
            note=v["note"],
        )
        award = services.award_get_for(request.user, case_id)
        return Response(award_json(award, request.user), status=201)
