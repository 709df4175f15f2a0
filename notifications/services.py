"""Writes of the notifications app: the outbox for case events, reading, webhook endpoints, deliveries."""

import contextlib
import datetime as dt
import json
import logging
import secrets
import threading
import zoneinfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import Role, User
from cases.evidence import crypto
from odr.errors import Forbidden, NotFound, ValidationFailed
from odr.realtime import group_send, group_send_many

from . import policies, webhooks
from .models import SECRET_PURPOSE, Channel, Delivery, DeliveryStatus, Notification, WebhookEndpoint

logger = logging.getLogger(__name__)

#: Events nobody but the actor needs to hear about.
SILENT_EVENTS = {"created", "party_data_erased", "message", "blind_bid"}
#: Events the operators hear about as well as the case's people.
OPERATOR_EVENTS = {
    "challenge_neutral",
    "contest_jurisdiction",
    "deadline_fired",
    "evidence_integrity_failure",
    "dispute_compliance",
    "declare_non_compliance",
}
#: Alerts for the operators alone (a stored file failed its check, nobody on the roster fits).
OPERATORS_ONLY_EVENTS = {"evidence_integrity_failure", "neutral_unavailable"}
#: For the merchant alone (its users, and its platform by webhook): sanctions on its record.
MERCHANT_ONLY_EVENTS = {"sanction_applied", "sanction_lifted"}
#: For the operators and the arbitrator: the award is overdue.
OPERATORS_AND_ARBITRATOR_EVENTS = {"award_overdue"}
#: Retry schedule: 30 s doubling up to 2 h; dead-lettered once a day has passed since the first try.
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 7200
GIVE_UP_AFTER = dt.timedelta(hours=24)


_batch = threading.local()


@contextlib.contextmanager
def read_once():
    """Within this block (one transaction: a sweep's batch), the active operators, each merchant's users
    and each merchant's webhook endpoints are read once, however many events notify them (nested: the
    outer block's reads serve)."""
    if getattr(_batch, "reads", None) is not None:
        yield
        return
    _batch.reads = {}
    try:
        yield
    finally:
        _batch.reads = None


def _once(key, read):
    reads = getattr(_batch, "reads", None)
    if reads is None:
        return read()
    if key not in reads:
        reads[key] = read()
    return reads[key]


def _operators() -> list[User]:
    return _once("operators", lambda: list(User.objects.filter(role=Role.OPERATOR, is_active=True)))


def _merchant_users(organisation_id) -> list[User]:
    return _once(
        ("merchant", organisation_id),
        lambda: list(User.objects.filter(organisation_id=organisation_id, role=Role.MERCHANT, is_active=True)),
    )


def _endpoints(organisation_id) -> list[WebhookEndpoint]:
    return _once(
        ("endpoints", organisation_id),
        lambda: list(WebhookEndpoint.objects.filter(organisation_id=organisation_id, active=True)),
    )


def _party_users(case, party: str) -> set[User]:
    if party == "consumer":
        return {case.consumer}
    if party == "merchant":
        return set(_merchant_users(case.merchant_id))
    if party == "arbitrator" and case.arbitrator is not None:
        return {case.arbitrator}
    return set()


def _for_operators_and_arbitrator(event) -> bool:
    """An alert about the arbitrator's lateness: the award_overdue event and its clock's deadline_fired."""
    return event.type in OPERATORS_AND_ARBITRATOR_EVENTS or (
        event.type == "deadline_fired" and (event.payload or {}).get("kind") == "award"
    )


def _recipients(case, event) -> list[User]:
    if event.type == "reminder":
        # A reminder goes to whoever must act, not to everyone on the case.
        return sorted(_party_users(case, (event.payload or {}).get("party", "")), key=lambda u: u.pk)
    if event.type in OPERATORS_ONLY_EVENTS:
        return sorted(_operators(), key=lambda u: u.pk)
    if event.type in MERCHANT_ONLY_EVENTS:
        return sorted(_party_users(case, "merchant"), key=lambda u: u.pk)
    if _for_operators_and_arbitrator(event):
        people = set(_operators()) | _party_users(case, "arbitrator")
        return sorted((p for p in people if p.is_active), key=lambda u: u.pk)
    people = {case.consumer}
    people.update(_merchant_users(case.merchant_id))
    for neutral in (case.mediator, case.arbitrator):
        if neutral is not None:
            people.add(neutral)
    if event.type in OPERATOR_EVENTS:
        people.update(_operators())
    return sorted((p for p in people if p.is_active and p.pk != event.actor_id), key=lambda u: u.pk)


def notify_case_event(*, case, event) -> list[Notification]:
    """Write the notifications and delivery rows ``event`` causes, and queue the deliveries on commit.

    Call in the transaction that appended ``event`` (``cases.events.event_append`` does).
    """
    notifications, deliveries = _plan(case, event)
    _write(notifications, deliveries)
    return notifications


def notify_case_events(pairs) -> list[Notification]:
    """``notify_case_event`` for several ``(case, event)`` at once: one INSERT for all their notifications
    and one for their deliveries (``cases.events.event_append_many``)."""
    notifications, deliveries = [], []
    with read_once():
        for case, event in pairs:
            made, queued = _plan(case, event)
            notifications += made
            deliveries += queued
    _write(notifications, deliveries)
    return notifications


def _plan(case, event) -> tuple[list[Notification], list[Delivery]]:
    """The notifications and deliveries ``event`` causes, not yet saved."""
    if event.type in SILENT_EVENTS or (case.status == "draft" and event.type not in OPERATORS_ONLY_EVENTS):
        return [], []
    notifications, deliveries = [], []
    for user in _recipients(case, event):
        notification = Notification(user=user, case=case, event=event, type=event.type)
        notifications.append(notification)
        if user.email:
            deliveries.append(Delivery(channel=Channel.EMAIL, notification=notification, event=event))
    # The operators' alerts are not the merchant's business: no webhook for them.
    private = event.type in OPERATORS_ONLY_EVENTS or _for_operators_and_arbitrator(event)
    for endpoint in () if private else _endpoints(case.merchant_id):
        if endpoint.wants(event.type):
            deliveries.append(Delivery(channel=Channel.WEBHOOK, endpoint=endpoint, event=event))
    return notifications, deliveries


def _write(notifications: list[Notification], deliveries: list[Delivery]) -> None:
    """Save the rows (the outbox, in the caller's transaction); push and queue them once it commits."""
    Notification.objects.bulk_create(notifications)
    Delivery.objects.bulk_create(deliveries)  # each takes its notification's new id
    if notifications or deliveries:
        transaction.on_commit(lambda: _announce(notifications, deliveries))


#: E-mails queued together in one task (``deliver_many``); webhooks, whose far side may be slow, one each.
EMAILS_PER_TASK = 20


def _announce(notifications: list[Notification], deliveries: list[Delivery]) -> None:
    if notifications:
        try:
            errors = group_send_many([_push_message(n) for n in notifications])
        except Exception:
            logger.exception("could not push %d notifications", len(notifications))
        else:
            for notification, error in zip(notifications, errors, strict=True):
                if error is not None:
                    logger.error("could not push notification %s: %r", notification.pk, error)
    emails = [d.pk for d in deliveries if d.channel == Channel.EMAIL]
    for start in range(0, len(emails), EMAILS_PER_TASK):
        _enqueue_many(emails[start : start + EMAILS_PER_TASK])
    for delivery in deliveries:
        if delivery.channel != Channel.EMAIL:
            _enqueue(delivery.pk)


def subject_of(notification: Notification) -> dict | None:
    """What a notice is about, for the API and the live push: its case, or None for an operator's alert."""
    if notification.case_id is None:
        return None
    return {"id": str(notification.case_id), "reference": notification.case.reference}


def notify_operators_alert(*, alert, operators) -> list[Notification]:
    """Tell the operators of a new risk alert: a notice in the app and on their open pages (call inside the
    transaction that saved the alert; pushed on commit)."""
    made = []
    for user in operators:
        notification = Notification.objects.create(user=user, alert=alert, type="risk_alert")
        made.append(notification)
        transaction.on_commit(lambda n=notification: _push(n))
    return made


def _push(notification: Notification) -> None:
    """Send the notification to the user's open pages over the channel layer (best effort: the row is
    the record; a page that was closed lists it on its next load)."""
    try:
        group_send(*_push_message(notification))
    except Exception:
        logger.exception("could not push notification %s", notification.pk)


def _push_message(notification: Notification) -> tuple[str, dict]:
    from cases.labels import EVENT_LABELS

    from .consumers import user_group

    with translation.override(notification.user.language):
        title = str(EVENT_LABELS.get(notification.type, notification.type))
    message = {
        "type": "notification",
        "id": notification.pk,
        "title": title,
        "case": subject_of(notification),
        "created_at": notification.created_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
    return user_group(notification.user_id), {"type": "notification.created", "notification": message}


def _enqueue(delivery_id: int) -> None:
    """Queue one delivery; if the broker is away the row stays pending and the retry sweep queues it."""
    from .tasks import deliver

    try:
        deliver.delay(delivery_id)
    except Exception:
        logger.exception("could not queue delivery %s; the retry sweep will", delivery_id)


def _enqueue_many(delivery_ids: list[int]) -> None:
    from .tasks import deliver, deliver_many

    try:
        if len(delivery_ids) == 1:
            deliver.delay(delivery_ids[0])
        else:
            deliver_many.delay(delivery_ids)
    except Exception:
        logger.exception("could not queue deliveries %s; the retry sweep will", delivery_ids)


def notification_mark_read(*, user, notification_id) -> Notification:
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id, user=user).first()
        if notification is None:
            raise NotFound()
        if notification.read_at is None:
            notification.read_at = timezone.now()
            notification.save(update_fields=["read_at"])
    return notification


@transaction.atomic
def webhook_create(*, user, url: str, events: list[str], secret: str | None = None) -> WebhookEndpoint:
    """Register a webhook URL for the user's merchant organisation."""
    if not policies.can_manage_webhooks(user):
        raise Forbidden(_("Only merchants register webhooks."))
    try:
        webhooks.check_url(url)
    except webhooks.WebhookAddressError as exc:
        raise ValidationFailed(fields={"url": [_(str(exc))]}) from exc
    sealed = crypto.seal_text(secret or secrets.token_hex(32), SECRET_PURPOSE)  # shown in clear only now
    return WebhookEndpoint.objects.create(organisation_id=user.organisation_id, url=url, events=events, secret=sealed)


def webhook_secrets_reseal() -> int:
    """Seal every webhook secret sealed under an older master key again under the current one (key
    rotation: ``manage.py rotate_evidence_keys``). Returns how many. Raises ``VaultKeyMissing`` or
    ``VaultIntegrityError`` naming the endpoint whose secret cannot be opened (nothing is changed then)."""
    current = crypto.current_key()
    done = 0
    with transaction.atomic():
        for endpoint in WebhookEndpoint.objects.select_for_update().order_by("pk"):
            if crypto.sealed_key_id(endpoint.secret) == current.id:
                continue
            try:
                endpoint.secret = crypto.seal_text(endpoint.signing_secret, SECRET_PURPOSE)
            except (crypto.VaultKeyMissing, crypto.VaultIntegrityError) as exc:
                raise type(exc)(f"webhook {endpoint.pk}: {exc}") from None
            endpoint.save(update_fields=["secret"])
            done += 1
    return done


# --- delivering ---------------------------------------------------------------------------------
def _email(delivery: Delivery) -> None:
    notification = delivery.notification
    user, case, event = notification.user, notification.case, notification.event
    from cases.labels import EVENT_LABELS

    with translation.override(user.language), timezone.override(zoneinfo.ZoneInfo(user.time_zone)):
        context = {
            "user": user,
            "case": case,
            "event": event,
            "label": EVENT_LABELS.get(event.type, event.type),
            "link": f"{settings.ODR_BASE_URL.rstrip('/')}/cases/{case.pk}/",
        }
        subject = render_to_string("notifications/email_subject.txt", context).strip()
        body = render_to_string("notifications/email_body.txt", context)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def _webhook(delivery: Delivery) -> None:
    event, endpoint = delivery.event, delivery.endpoint
    case = event.case
    body = json.dumps(
        {
            "id": f"evt_{event.pk}",
            "type": event.type,
            # The status the event left the case in, so every retry sends the same body.
            "case": {"id": str(case.pk), "reference": case.reference, "status": (event.payload or {}).get("to")},
            "seq": event.seq,
            "at": event.at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "hash": event.hash,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    webhooks.post(endpoint.url, endpoint.signing_secret, str(int(timezone.now().timestamp())), body)


SENDERS = {Channel.EMAIL: _email, Channel.WEBHOOK: _webhook}


def delivery_perform(*, delivery_id: int) -> str:
    """Send one pending, due delivery; on failure schedule the next try or dead-letter it.

    Idempotent: the row is locked for the attempt and a sent or dead row is never sent again. A crash
    before commit leaves the row pending, to be tried again (at least once; never after it was marked).
    """
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related(
                "notification__user", "notification__case", "notification__event", "event__case", "endpoint"
            )
            .filter(pk=delivery_id)
            .first()
        )
        now = timezone.now()
        if delivery is None or delivery.status != DeliveryStatus.PENDING or delivery.next_attempt_at > now:
            return "skipped"
        delivery.attempts += 1
        try:
            SENDERS[delivery.channel](delivery)
        except Exception as exc:  # any failure of the far side: try again later
            delivery.last_error = f"{type(exc).__name__}: {exc}"[:500]
            if now - delivery.created_at >= GIVE_UP_AFTER:
                delivery.status = DeliveryStatus.DEAD
                logger.warning("delivery %s dead-lettered after %d attempts", delivery.pk, delivery.attempts)
            else:
                wait = min(RETRY_BASE_SECONDS * 2 ** (delivery.attempts - 1), RETRY_MAX_SECONDS)
                delivery.next_attempt_at = now + dt.timedelta(seconds=wait)
            delivery.save(update_fields=["attempts", "last_error", "status", "next_attempt_at"])
            return "failed"
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = now
        delivery.save(update_fields=["attempts", "status", "sent_at"])
        return "sent"


def delivery_retry_sweep(*, now=None, batch: int = 500) -> int:
    """Queue the pending deliveries whose next try is due (a beat task, like the deadline sweep)."""
    from .tasks import deliver

    now = now or timezone.now()
    ids = list(
        Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:batch]
    )
    for pk in ids:
        deliver.delay(pk)
    return len(ids)
