"""Negotiation offers. Double-blind bids, mediator assignment, sessions and chat come with issue 7."""

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
