"""Payments API: the merchant refunds or pays into escrow through the payment provider; case viewers
list the case's payments."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from ..events import iso_utc
from ..models import Payment
from ..services import compliance


def payment_json(payment: Payment) -> dict:
    summary = compliance.payment_summary(payment)
    return {"id": summary.pop("payment"), **summary, "created_at": iso_utc(payment.created_at)}


class PaymentListApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(tags=["compliance"], responses=OpenApiTypes.OBJECT)
    def get(self, request, case_id):
        return Response([payment_json(p) for p in compliance.payment_list_for(request.user, case_id)])


class _PaymentStartApi(APIView):
    throttle_classes = [UserRateThrottle]
    kind = ""

    @extend_schema(request=None, tags=["compliance"], responses=OpenApiTypes.OBJECT)
    def post(self, request, case_id):
        payment = compliance.payment_start(actor=request.user, case_id=case_id, kind=self.kind)
        return Response(payment_json(payment), status=201)


class RefundApi(_PaymentStartApi):
    """Refund the outcome's amount to the consumer: reported performance once the provider confirms."""

    kind = Payment.Kind.REFUND


class EscrowApi(_PaymentStartApi):
    """Pay the outcome's amount into escrow while performing otherwise (a replacement, a repair)."""

    kind = Payment.Kind.ESCROW_HOLD
