"""The consensual stages on the case page: offers, blind bids, sessions, the agreement and the chat.

Thin: each form posts to a view that calls the same service as the API and comes back to the case page
with a message; the chat panel also works live over the websocket (static/js/chat.js).
"""

import datetime as dt
import json
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Role
from cases.models import Remedy
from cases.money import MoneyError, parse_money
from cases.web import act_and_return, case_or_404
from odr.errors import DomainError, NotFound, ValidationFailed, error_body, error_text

from . import policies, services
from .models import ChatMessage, ChatRoom, MediationSession, Offer, SettlementAgreement

ROOM_LABELS = dict(ChatRoom.choices)


def _money(post, currency, field="amount"):
    try:
        return parse_money(post.get(field, "").strip(), currency)
    except MoneyError as exc:
        raise ValidationFailed(fields={field: [str(exc)]}) from None


@require_POST
@login_required
def offer_create(request, case_id):
    case = case_or_404(request, case_id)
    return act_and_return(
        request,
        case_id,
        "h-negotiation",
        lambda: services.offer_create(
            actor=request.user,
            case_id=case_id,
            amount=_money(request.POST, case.claim_currency),
            remedy=request.POST.get("remedy") or case.remedy,
            note=request.POST.get("note", "")[:2000],
        ),
        _("Your offer is sent."),
    )


@require_POST
@login_required
def offer_accept(request, case_id, offer_id):
    return act_and_return(
        request,
        case_id,
        "h-negotiation",
        lambda: services.offer_accept(actor=request.user, case_id=case_id, offer_id=offer_id),
        _("You accepted the offer: the case is settled."),
    )


@require_POST
@login_required
def blind_bid(request, case_id):
    case = case_or_404(request, case_id)
    result = {}

    def call():
        result.update(
            services.blind_bid_place(
                actor=request.user, case_id=case_id, amount=_money(request.POST, case.claim_currency)
            )
        )

    response = act_and_return(request, case_id, "h-blind", call, _("Your figure is entered. Nobody else can see it."))
    if result.get("status") == "settled":
        messages.success(request, _("The figures met: the case is settled at the midpoint."))
    elif result.get("status") in ("no_agreement", "ended"):
        messages.info(request, _("The figures did not meet in this round."))
    return response


@require_POST
@login_required
def session_schedule(request, case_id):
    def call():
        raw = request.POST.get("starts_at", "")
        try:
            local = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise ValidationFailed(fields={"starts_at": [_("Give a date and time.")]}) from None
        zone = zoneinfo.ZoneInfo(request.user.time_zone or "UTC")
        starts_at = local.replace(tzinfo=zone) if local.tzinfo is None else local
        try:
            minutes = int(request.POST.get("minutes") or 60)
        except ValueError:
            raise ValidationFailed(fields={"minutes": [_("Give the length in minutes.")]}) from None
        if not 15 <= minutes <= 480:
            raise ValidationFailed(fields={"minutes": [_("Between 15 and 480 minutes.")]})
        services.session_schedule(actor=request.user, case_id=case_id, starts_at=starts_at, minutes=minutes)

    return act_and_return(
        request, case_id, "h-sessions", call, _("The session is scheduled; the participants are told.")
    )


@require_GET
@login_required
def session_ics(request, case_id, session_id):
    try:
        body = services.session_ics(user=request.user, case_id=case_id, session_id=session_id)
    except NotFound:
        raise Http404 from None
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="session-{session_id}.ics"'
    return response


@require_POST
@login_required
def agreement_draft(request, case_id):
    case = case_or_404(request, case_id)

    def call():
        amount = _money(request.POST, case.claim_currency) if request.POST.get("amount", "").strip() else None
        try:
            days = int(request.POST.get("comply_within_days") or 14)
        except ValueError:
            raise ValidationFailed(fields={"comply_within_days": [_("Give a number of days.")]}) from None
        terms = request.POST.get("terms", "").strip()
        if not terms:
            raise ValidationFailed(fields={"terms": [_("Write the terms.")]})
        services.agreement_draft(
            actor=request.user,
            case_id=case_id,
            terms=terms,
            amount=amount,
            remedy=request.POST.get("remedy") or case.remedy,
            comply_within_days=max(1, min(days, 90)),
        )

    return act_and_return(request, case_id, "h-agreement", call, _("The draft agreement is sent to both parties."))


@require_POST
@login_required
def agreement_accept(request, case_id, agreement_id):
    return act_and_return(
        request,
        case_id,
        "h-agreement",
        lambda: services.agreement_accept(actor=request.user, case_id=case_id, agreement_id=agreement_id),
        _("You accepted the agreement."),
    )


@require_POST
@login_required
def message_post(request, case_id):
    """The chat's form without JavaScript (a full post), or with it when the websocket is down (JSON)."""
    room = request.POST.get("room", "joint")
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        message = services.message_post(
            actor=request.user, case_id=case_id, room=room, body=request.POST.get("body", "")
        )
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        if wants_json:
            return JsonResponse(error_body(exc.code, exc.message, exc.fields), status=exc.status_code)
        messages.error(request, error_text(exc))
        return redirect(reverse("case-detail", args=[case_id]) + f"?room={room}#h-chat")
    if wants_json:
        return JsonResponse(services.message_json(message), status=201)
    return redirect(reverse("case-detail", args=[case_id]) + f"?room={room}#h-chat")


# --- what the case page shows -------------------------------------------------------------------
def case_page_context(request, case) -> dict:
    """The consensual stages' panels for ``request.user`` on ``case`` (only what they may see)."""
    user = request.user
    party = case.party_of(user)
    rooms = [room for room in policies.ROOMS if policies.room_member(user, case, room)]
    room = request.GET.get("room") if request.GET.get("room") in rooms else (rooms[0] if rooms else None)
    chat = []
    if room:
        chat = list(ChatMessage.objects.filter(case=case, room=room).select_related("author").order_by("-id")[:100])[
            ::-1
        ]
    offers = list(Offer.objects.filter(case=case).order_by("created_at", "id"))
    open_other = next((o for o in reversed(offers) if o.status == "open" and party and o.party != party), None)
    blind = services.blind_bid_state_for(user, case.pk) if party else None
    return {
        "remedies": list(Remedy.choices),
        "blind_gap_percent": format((Decimal(str(settings.ODR_BLIND_BID_GAP)) * 100).normalize(), "f"),
        "blind_settled_round": (case.outcome or {}).get("round"),
        "offers": offers,
        "open_offer_to_accept": open_other,
        "can_offer": policies.offer_refusal(user, case) is None,
        "blind": blind,
        "can_bid": policies.blind_bid_refusal(user, case) is None,
        "sessions": list(MediationSession.objects.filter(case=case).order_by("starts_at")),
        "can_schedule": policies.session_refusal(user, case) is None,
        "session_participant": policies.session_participant(user, case),
        "agreements": list(SettlementAgreement.objects.filter(case=case).order_by("-created_at", "-id")[:3]),
        "can_draft_agreement": policies.agreement_draft_refusal(user, case) is None,
        "party": party,
        "appointment": services.active_appointment(case),
        "chat_rooms": [(r, ROOM_LABELS[r]) for r in rooms],
        "chat_role_labels": json.dumps({role: str(label) for role, label in Role.choices}, ensure_ascii=False),
        "chat_room": room,
        "chat_messages": chat,
        "chat_can_write": bool(room) and policies.room_write_refusal(user, case, room) is None,
    }
