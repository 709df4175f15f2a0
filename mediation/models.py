"""The consensual stages: negotiation offers, double-blind bids, the neutrals' roster, live sessions,
chat messages and the mediator's settlement agreement."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OfferStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACCEPTED = "accepted", _("Accepted")
    SUPERSEDED = "superseded", _("Superseded")
    LAPSED = "lapsed", _("Lapsed")


class Offer(models.Model):
    """A structured offer by one party to settle: a remedy, an amount and a note."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="offers")
    party = models.CharField(max_length=16)  # "consumer" or "merchant"
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    currency = models.CharField(max_length=3)
    remedy = models.CharField(max_length=32)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "-created_at", "-id"]
        indexes = [models.Index(fields=["case", "status"])]

    def __str__(self):
        return f"{self.party} offer {self.amount} {self.currency}"


class BlindBid(models.Model):
    """One party's hidden figure in a round of double-blind bidding.

    Only its bidder ever reads ``amount``; the event log holds ``commitment`` = SHA-256 of the figure and
    a secret salt, so the figure can be proved later without being shown now.
    """

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="blind_bids")
    party = models.CharField(max_length=16)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    round = models.PositiveSmallIntegerField()
    amount = models.DecimalField(max_digits=19, decimal_places=4)
    currency = models.CharField(max_length=3)
    salt = models.CharField(max_length=64, editable=False)
    commitment = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "round", "party"]
        constraints = [models.UniqueConstraint(fields=["case", "round", "party"], name="blind_bid_once_per_round")]

    def __str__(self):
        return f"{self.case_id} round {self.round} {self.party}"


class NeutralProfile(models.Model):
    """A mediator's or arbitrator's place on the roster: languages, countries, how many cases at once."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="neutral_profile")
    languages = models.JSONField(_("languages"), default=list, help_text=_("language codes, e.g. en, zh-hans"))
    countries = models.JSONField(_("countries"), default=list, blank=True, help_text=_("ISO codes; empty: any"))
    max_load = models.PositiveSmallIntegerField(_("most cases at once"), default=10)
    active = models.BooleanField(_("taking cases"), default=True)

    def __str__(self):
        return f"{self.user} ({', '.join(self.languages)})"


class ChatRoom(models.TextChoices):
    JOINT = "joint", _("Joint room")
    CAUCUS_CONSUMER = "caucus-consumer", _("Private room: consumer and mediator")
    CAUCUS_MERCHANT = "caucus-merchant", _("Private room: merchant and mediator")


class ChatMessage(models.Model):
    """A message in one of a case's rooms; its hash is on the case's event log."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="messages")
    room = models.CharField(max_length=20, choices=ChatRoom.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16)
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "room", "id"]
        indexes = [models.Index(fields=["case", "room", "id"])]

    def __str__(self):
        return f"{self.case_id} {self.room} #{self.pk}"


class MediationSession(models.Model):
    """A live session the mediator schedules; each participant sees it in their own time zone."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="sessions")
    scheduled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(_("starts at"))
    minutes = models.PositiveSmallIntegerField(_("minutes"))
    room = models.CharField(max_length=20, choices=ChatRoom.choices, default=ChatRoom.JOINT)
    reminder_at = models.DateTimeField()
    reminder_status = models.CharField(max_length=16, default="pending")  # pending, sent, cancelled
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "starts_at"]
        indexes = [
            models.Index(
                fields=["reminder_at"], condition=models.Q(reminder_status="pending"), name="session_reminder_due"
            )
        ]

    def __str__(self):
        return f"{self.case_id} session {self.starts_at:%Y-%m-%d %H:%M}Z"


class AgreementStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    ACCEPTED = "accepted", _("Accepted by both")
    WITHDRAWN = "withdrawn", _("Replaced")


class SettlementAgreement(models.Model):
    """The settlement the mediator drafts in the room; both parties accept it and the case settles."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="agreements")
    drafted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    terms = models.TextField(_("terms"))
    amount = models.DecimalField(max_digits=19, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    remedy = models.CharField(max_length=32)
    comply_within_days = models.PositiveSmallIntegerField(default=14)
    accepted_by = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=AgreementStatus.choices, default=AgreementStatus.PROPOSED)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "-created_at", "-id"]

    def __str__(self):
        return f"{self.case_id} agreement {self.pk} ({self.status})"


class Appointment(models.Model):
    """A neutral's appointment to a case: disclosure, the parties' challenge window, replacement."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        REPLACED = "replaced", _("Replaced")
        ENDED = "ended", _("Ended")

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="appointments")
    neutral = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments")
    role = models.CharField(max_length=16)  # mediator or arbitrator
    automatic = models.BooleanField(default=False)
    appointed_at = models.DateTimeField(default=timezone.now)
    disclosure = models.TextField(blank=True)
    disclosed_at = models.DateTimeField(null=True, blank=True)
    #: The parties may challenge the neutral until then (counted from the disclosure, or the appointment).
    challenge_until = models.DateTimeField()
    challenge_reason = models.TextField(blank=True)
    challenged_by = models.CharField(max_length=16, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["case", "-appointed_at", "-id"]
        indexes = [models.Index(fields=["case", "role", "status"]), models.Index(fields=["neutral", "appointed_at"])]

    def __str__(self):
        return f"{self.role} {self.neutral_id} on {self.case_id} ({self.status})"
