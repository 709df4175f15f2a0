"""Operator API for sanctions, and the public compliance register as JSON. Thin."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from accounts.models import MerchantOrganisation
from cases.api.serializers import text, validated
from cases.events import iso_utc
from odr.errors import NotFound

from .. import policies, selectors, services
from ..models import Sanction, SanctionLevel


def sanction_json(sanction: Sanction) -> dict:
    return {
        "id": sanction.pk,
        "merchant": sanction.merchant_id,
        "level": sanction.level,
        "reason": sanction.reason,
        "cases": [
            {"id": str(c.pk), "reference": c.reference} for c in sorted(sanction.cases.all(), key=lambda c: c.reference)
        ],
        "imposed_at": iso_utc(sanction.imposed_at),
        "active": sanction.active,
        "lifted_at": iso_utc(sanction.lifted_at),
        "lift_reason": sanction.lift_reason,
    }


class SanctionInput(serializers.Serializer):
    level = serializers.ChoiceField(choices=SanctionLevel.choices, required=False, allow_null=True, default=None)
    reason = text()
    cases = serializers.ListField(child=serializers.UUIDField(), required=False, default=list, max_length=500)


class LiftInput(serializers.Serializer):
    reason = text()


def _merchant_for(user, merchant_id) -> MerchantOrganisation:
    merchant = MerchantOrganisation.objects.filter(pk=merchant_id).first()
    if merchant is None or not policies.can_read_sanctions(user, merchant):
        raise NotFound()
    return merchant


class SanctionsApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(tags=["operator"], responses=OpenApiTypes.OBJECT)
    def get(self, request, merchant_id):
        merchant = _merchant_for(request.user, merchant_id)
        return Response([sanction_json(s) for s in merchant.sanctions.prefetch_related("cases")])

    @extend_schema(request=SanctionInput, tags=["operator"], responses=OpenApiTypes.OBJECT)
    def post(self, request, merchant_id):
        refusal = policies.sanction_write_refusal(request.user)
        if refusal is not None:
            raise refusal
        v = validated(SanctionInput, request.data)
        sanction = services.sanction_apply(
            actor=request.user, merchant_id=merchant_id, level=v["level"], reason=v["reason"], case_ids=v["cases"]
        )
        return Response(sanction_json(sanction), status=201)


class SanctionLiftApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=LiftInput, tags=["operator"], responses=OpenApiTypes.OBJECT)
    def post(self, request, merchant_id, sanction_id):
        refusal = policies.sanction_write_refusal(request.user)
        if refusal is not None:
            raise refusal
        v = validated(LiftInput, request.data)
        sanction = services.sanction_lift(
            actor=request.user, merchant_id=merchant_id, sanction_id=sanction_id, reason=v["reason"]
        )
        return Response(sanction_json(sanction))


class RegisterApi(APIView):
    """The public compliance register: no log-in."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(tags=["public"], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        data = selectors.register_data()
        return Response(
            {
                "generated_at": iso_utc(data["generated_at"]),
                "sanctioned_merchants": [{**e, "since": iso_utc(e["since"])} for e in data["sanctioned_merchants"]],
                "outcomes": data["outcomes"],
            }
        )


class TransparencyApi(APIView):
    """The public transparency figures by quarter: no log-in, nothing that names anyone."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema(tags=["public"], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        from ..stats import transparency

        data = transparency()
        return Response({"generated_at": iso_utc(data["generated_at"]), "quarters": data["quarters"]})
