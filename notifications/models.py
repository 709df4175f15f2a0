"""Notifications (in-app rows) and their deliveries by e-mail and webhook: the outbox of design 4.

A notification and its delivery rows are written in the transaction of the event that causes them; the
delivery tasks are queued on commit. A delivery row is unique per notification and channel (e-mail) or per
event and endpoint (webhook), so a retried task never sends twice.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.evidence import crypto


class Notification(models.Model):
    """Something on a case that concerns ``user``; shown in the app until read."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    #: A case event's notice has its case and event; an operator's risk alert has its alert instead.
    case = models.ForeignKey(
        "cases.Case", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    event = models.ForeignKey(
        "cases.CaseEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    alert = models.ForeignKey(
        "oversight.RiskAlert", null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    type = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["user", "read_at"])]
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="notification_once_per_event")]

    def __str__(self):
        return f"{self.user_id}: {self.type} on {self.case_id or self.alert_id}"


#: What a webhook secret's seal is bound to (a value sealed for another use does not open as one).
SECRET_PURPOSE = "webhook-secret"


class WebhookEndpoint(models.Model):
    """A merchant platform's URL that receives signed notices of its organisation's cases."""

    organisation = models.ForeignKey(
        "accounts.MerchantOrganisation", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    #: Event types to send; empty means every event.
    events = models.JSONField(default=list, blank=True)
    #: The signing secret, sealed under ODR_EVIDENCE_KEYS (``cases.evidence.crypto.seal_text``): a database
    #: dump alone cannot forge the platform's signatures. ``signing_secret`` opens it.
    secret = models.TextField()
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.url

    @property
    def signing_secret(self) -> str:
        """The secret in clear. Raises ``VaultKeyMissing`` when its key is no longer configured and
        ``VaultIntegrityError`` when the stored value was altered."""
        return crypto.open_text(self.secret, SECRET_PURPOSE)

    def wants(self, event_type: str) -> bool:
        return self.active and (not self.events or event_type in self.events)


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WEBHOOK = "webhook", _("Webhook")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    DEAD = "dead", _("Dead-lettered")


class Delivery(models.Model):
    """One message to send on one channel, retried with backoff until sent or dead-lettered."""

    channel = models.CharField(max_length=16, choices=Channel.choices)
    notification = models.ForeignKey(Notification, null=True, blank=True, on_delete=models.CASCADE)
    event = models.ForeignKey("cases.CaseEvent", on_delete=models.PROTECT, related_name="deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="delivery_pending_due")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"],
                condition=models.Q(channel="email"),
                name="delivery_email_once",
            ),
            models.UniqueConstraint(
                fields=["event", "endpoint"], condition=models.Q(channel="webhook"), name="delivery_webhook_once"
            ),
        ]

    def __str__(self):
        return f"{self.channel} #{self.pk} ({self.status})"
