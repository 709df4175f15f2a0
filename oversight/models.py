"""The operator's side: sanctions against merchants that do not comply, and what the public register shows.

A sanction is a step on a ladder (warning, listing suspended, store closed). It is written once; lifting
it is a second record on the same row (``lifted_at``), so the merchant's record keeps its history.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SanctionLevel(models.TextChoices):
    WARNING = "warning", _("Warning")
    LISTING_SUSPENDED = "listing_suspended", _("Listing suspended")
    STORE_CLOSED = "store_closed", _("Store closed")


#: The ladder, lowest first.
LADDER = [SanctionLevel.WARNING, SanctionLevel.LISTING_SUSPENDED, SanctionLevel.STORE_CLOSED]


class Sanction(models.Model):
    """A sanction the operator applied to a merchant, with its reasons and the cases it answers."""

    merchant = models.ForeignKey("accounts.MerchantOrganisation", on_delete=models.PROTECT, related_name="sanctions")
    level = models.CharField(_("level"), max_length=32, choices=SanctionLevel.choices)
    #: Published on the public compliance register.
    reason = models.TextField(_("reason"))
    cases = models.ManyToManyField("cases.Case", related_name="sanctions", blank=True)
    imposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    imposed_at = models.DateTimeField(default=timezone.now)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lift_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-imposed_at", "-id"]
        indexes = [
            models.Index(fields=["merchant", "-imposed_at"]),
            models.Index(fields=["-imposed_at"], condition=models.Q(lifted_at__isnull=True), name="sanction_active"),
        ]

    def __str__(self):
        return f"{self.get_level_display()}: {self.merchant_id}"

    @property
    def active(self) -> bool:
        return self.lifted_at is None

    @property
    def rank(self) -> int:
        return LADDER.index(self.level)
