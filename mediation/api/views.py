"""Negotiation and mediation API (API.md): offers, blind bids, chat over HTTP, sessions, ws tickets, the
settlement agreement. Thin: validate, call the service, render."""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from cases import selectors
from cases.api.serializers import CaseOutput, MoneyField, local_time, text, validated
from cases.models import Remedy
from cases.money import Money
from odr.errors import ValidationFailed

from .. import services
from ..policies import ROOMS
from ..tickets import ticket_issue


# --- offers ---------------------------------------------------------------------------------------
class OfferInput(serializers.Serializer):
    amount = MoneyField()
    remedy = serializers.ChoiceField(choices=Remedy.choices)
    note = text(required=False, allow_blank=True, default="")


class OfferOutput(serializers.Serializer):
    id = serializers.IntegerField()
    party = serializers.CharField()
    amount = serializers.SerializerMethodField()
    remedy = serializers.CharField()
    note = serializers.CharField()
    status = serializers.CharField()
    created_at = serializers.DateTimeField()

    def get_amount(self, offer) -> dict:
        return Money(offer.amount, offer.currency).as_dict()


class OffersApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: OfferOutput(many=True)}, tags=["negotiation"])
    def get(self, request, case_id):
        return Response(OfferOutput(services.offer_list_for(request.user, case_id), many=True).data)

    @extend_schema(request=OfferInput, responses={201: OfferOutput}, tags=["negotiation"])
    def post(self, request, case_id):
        v = validated(OfferInput, request.data)
        offer = services.offer_create(
            actor=request.user, case_id=case_id, amount=v["amount"], remedy=v["remedy"], note=v["note"]
        )
        return Response(OfferOutput(offer).data, status=201)


class OfferAcceptApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=None, responses={200: CaseOutput}, tags=["negotiation"])
    def post(self, request, case_id, offer_id):
        case = services.offer_accept(actor=request.user, case_id=case_id, offer_id=offer_id)
        case = selectors.case_get_for(request.user, case.pk)
        return Response(CaseOutput(case, context={"request": request}).data)


# --- double-blind bidding -------------------------------------------------------------------------
class BlindBidInput(serializers.Serializer):
    amount = MoneyField()


class BlindBidsApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: dict}, tags=["negotiation"])
    def get(self, request, case_id):
        return Response(services.blind_bid_state_for(request.user, case_id))

    @extend_schema(request=BlindBidInput, responses={201: dict}, tags=["negotiation"])
    def post(self, request, case_id):
        v = validated(BlindBidInput, request.data)
        result = services.blind_bid_place(actor=request.user, case_id=case_id, amount=v["amount"])
        return Response({**result, "state": services.blind_bid_state_for(request.user, case_id)}, status=201)


# --- chat over HTTP -------------------------------------------------------------------------------
class MessageInput(serializers.Serializer):
    room = serializers.ChoiceField(choices=ROOMS, required=False)
    body = serializers.CharField(allow_blank=True, trim_whitespace=False)


def _room(request, body: dict | None = None) -> str:
    room = (body or {}).get("room") or request.query_params.get("room") or "joint"
    if room not in ROOMS:
        raise ValidationFailed(fields={"room": [f"one of {', '.join(ROOMS)}"]})
    return room


class MessagesApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(
        parameters=[
            OpenApiParameter("room", str, enum=list(ROOMS)),
            OpenApiParameter("after", int, description="only messages with a greater id"),
        ],
        responses={200: dict},
        tags=["mediation"],
    )
    def get(self, request, case_id):
        try:
            after = int(request.query_params.get("after") or 0)
        except ValueError:
            raise ValidationFailed(fields={"after": ["a message id"]}) from None
        messages = services.message_list_for(request.user, case_id, _room(request), after=after)
        return Response({"results": [services.message_json(m) for m in messages]})

    @extend_schema(request=MessageInput, responses={201: dict}, tags=["mediation"])
    def post(self, request, case_id):
        v = validated(MessageInput, request.data)
        room = _room(request, v)
        message = services.message_post(actor=request.user, case_id=case_id, room=room, body=v["body"])
        return Response(services.message_json(message), status=201)


class WsTicketApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=None, responses={201: dict}, tags=["mediation"])
    def post(self, request):
        return Response(
            {"ticket": ticket_issue(request.user), "expires_in": settings.ODR_WS_TICKET_SECONDS}, status=201
        )


# --- sessions -------------------------------------------------------------------------------------
class SessionInput(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    minutes = serializers.IntegerField(min_value=15, max_value=480)


def _session_json(session, user) -> dict:
    return {
        "id": session.pk,
        "starts_at": session.starts_at.isoformat(),
        "starts_at_local": local_time(session.starts_at, user),
        "minutes": session.minutes,
        "room": session.room,
        "ics": f"/api/v1/cases/{session.case_id}/sessions/{session.pk}/ics",
    }


class SessionsApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: dict}, tags=["mediation"])
    def get(self, request, case_id):
        _case, sessions = services.session_list_for(request.user, case_id)
        return Response({"results": [_session_json(s, request.user) for s in sessions]})

    @extend_schema(request=SessionInput, responses={201: dict}, tags=["mediation"])
    def post(self, request, case_id):
        v = validated(SessionInput, request.data)
        session = services.session_schedule(
            actor=request.user, case_id=case_id, starts_at=v["starts_at"], minutes=v["minutes"]
        )
        return Response(_session_json(session, request.user), status=201)


class SessionIcsApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={(200, "text/calendar"): bytes}, tags=["mediation"])
    def get(self, request, case_id, session_id):
        body = services.session_ics(user=request.user, case_id=case_id, session_id=session_id)
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="session-{session_id}.ics"'
        return response


# --- the settlement agreement ----------------------------------------------------------------------
class AgreementInput(serializers.Serializer):
    terms = text()
    amount = MoneyField(required=False, allow_null=True, default=None)
    remedy = serializers.ChoiceField(choices=Remedy.choices)
    comply_within_days = serializers.IntegerField(min_value=1, max_value=90, default=14)


def _agreement_json(agreement) -> dict:
    return {
        "id": agreement.pk,
        "terms": agreement.terms,
        "amount": Money(agreement.amount, agreement.currency).as_dict() if agreement.amount is not None else None,
        "remedy": agreement.remedy,
        "comply_within_days": agreement.comply_within_days,
        "accepted_by": agreement.accepted_by,
        "status": agreement.status,
        "created_at": agreement.created_at.isoformat(),
    }


class AgreementsApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(responses={200: dict}, tags=["mediation"])
    def get(self, request, case_id):
        case = selectors.case_get_for(request.user, case_id)
        return Response({"results": [_agreement_json(a) for a in case.agreements.order_by("created_at", "id")]})

    @extend_schema(request=AgreementInput, responses={201: dict}, tags=["mediation"])
    def post(self, request, case_id):
        v = validated(AgreementInput, request.data)
        agreement = services.agreement_draft(
            actor=request.user,
            case_id=case_id,
            terms=v["terms"],
            amount=v["amount"],
            remedy=v["remedy"],
            comply_within_days=v["comply_within_days"],
        )
        return Response(_agreement_json(agreement), status=201)


class AgreementAcceptApi(APIView):
    throttle_classes = [UserRateThrottle]

    @extend_schema(request=None, responses={200: CaseOutput}, tags=["mediation"])
    def post(self, request, case_id, agreement_id):
        case = services.agreement_accept(actor=request.user, case_id=case_id, agreement_id=agreement_id)
        case = selectors.case_get_for(request.user, case.pk)
        return Response(CaseOutput(case, context={"request": request}).data)
