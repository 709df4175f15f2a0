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


# --- the statistics' summaries (``oversight.summaries`` keeps them; ``oversight.stats`` reads them) --------

#: The states a filed case can be in (drafts are not counted anywhere).
COUNTED_STATUSES = [
    "filed", "jurisdiction", "negotiation", "mediation", "arbitration", "defaulted", "settled", "awarded",
    "compliance", "non_compliant", "closed", "withdrawn", "rejected",
]  # fmt: skip
#: How a dispute ended (``Case.resolution``).
RESOLUTIONS = ["settled", "awarded", "dismissed", "withdrawn", "rejected", "closed"]
#: Where carrying out the outcome stands: still owed, done on time, done after the comply-by date, not done.
COMPLIANCE_CLASSES = ["pending", "confirmed", "late", "non_compliant"]
#: The counters of a summary cell, one column each.
CELL_COUNTS = [
    "cases",
    *(f"st_{s}" for s in COUNTED_STATUSES),
    *(f"res_{r}" for r in RESOLUTIONS),
    *(f"comp_{c}" for c in COMPLIANCE_CLASSES),
    "defaulted",
    "responded",
]
#: Money in the currency's minor units (exact integers; a cell holds one currency).
CELL_AMOUNTS = ["claimed_minor", "settled_minor", "awarded_minor"]


def _counters(names):
    # Counts in 4-byte integers (PostgreSQL sums them as 8-byte integers; sums of 8-byte ones are
    # arbitrary-precision numerics, several times slower to add up); money in minor units needs 8 bytes.
    return {
        name: (models.BigIntegerField if name.endswith("_minor") else models.IntegerField)(default=0, db_default=0)
        for name in names
    }


class _Cell(models.Model):
    """A summary row's place: the month of filing (UTC), the country pair and the category."""

    month = models.DateField()
    consumer_country = models.CharField(max_length=2)
    merchant_country = models.CharField(max_length=2)
    category = models.CharField(max_length=32)

    class Meta:
        abstract = True


class _CaseCounters(_Cell):
    """A cell of cases in one claim currency, with a counter per state, outcome and compliance class."""

    currency = models.CharField(max_length=3)
    locals().update(_counters(CELL_COUNTS + CELL_AMOUNTS))

    class Meta:
        abstract = True


class _BreachCounter(_Cell):
    """A cell of missed deadlines of one kind."""

    kind = models.CharField(max_length=32)
    count = models.IntegerField(default=0, db_default=0)

    class Meta:
        abstract = True


class CaseCell(_CaseCounters):
    """Filed cases of one month (by filing date, UTC), country pair, category and claim currency: how many
    are in each state, how they ended, how the outcome was carried out, and the sums claimed and granted.

    Kept current by ``summaries.apply`` in the transaction of every move of a case (a decrement of the
    old counters and an increment of the new, on this row), rebuilt from the cases by ``stats_rebuild``."""

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "consumer_country", "merchant_country", "category", "currency"], name="casecell_key"
            )
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.consumer_country}-{self.merchant_country} {self.category} {self.currency}"


class DurationCell(models.Model):
    """How many cases filed in ``month`` took ``value`` whole units for ``measure`` (``response`` in hours
    from filing to the merchant's answer; ``resolution`` in days from filing to the end of the dispute, by
    the ``stage`` it ended in; ``close`` in days from filing to closing): histograms, so that medians and
    percentiles are exact."""

    month = models.DateField()
    measure = models.CharField(max_length=16)
    stage = models.CharField(max_length=16, blank=True)
    value = models.IntegerField()
    count = models.IntegerField(default=0, db_default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["month", "measure", "stage", "value"], name="durationcell_key")]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.measure}/{self.stage}={self.value}: {self.count}"


class BreachCell(_BreachCounter):
    """Deadlines missed by whoever had to act (``summaries.BREACH_KINDS``), by the case's month, pair and
    category, counted when the sweep fires them."""

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "consumer_country", "merchant_country", "category", "kind"], name="breachcell_key"
            )
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.kind}: {self.count}"


class MerchantCell(_CaseCounters):
    """One merchant's share of a ``CaseCell``: its filed cases of one month, country pair, category and
    claim currency, with the same counters. Summed over the merchants, these rows are the ``CaseCell``
    rows. They give one merchant's overview without reading its cases.

    Kept current by ``summaries.apply`` with the same deltas as the case's ``CaseCell``, in the same
    transaction, and rebuilt by ``stats_rebuild``."""

    # The key's unique index leads with the merchant: it serves the foreign key as well.
    merchant = models.ForeignKey(
        "accounts.MerchantOrganisation", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "month", "consumer_country", "merchant_country", "category", "currency"],
                name="merchantcell_key",
            )
        ]

    def __str__(self):
        return f"{self.merchant_id} {self.month:%Y-%m} {self.consumer_country}-{self.merchant_country} {self.category}"


class MerchantBreachCell(_BreachCounter):
    """One merchant's share of a ``BreachCell``: missed deadlines on its cases by the case's month, pair
    and category, counted by the sweep as it fires them (every kind of ``summaries.BREACH_KINDS``, the
    arbitrator's award too, as the overview counts them)."""

    merchant = models.ForeignKey(
        "accounts.MerchantOrganisation", on_delete=models.CASCADE, related_name="+", db_index=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["merchant", "month", "consumer_country", "merchant_country", "category", "kind"],
                name="merchantbreachcell_key",
            )
        ]

    def __str__(self):
        return f"{self.merchant_id} {self.month:%Y-%m} {self.kind}: {self.count}"


MERCHANT_COUNTS = [
    "cases",
    "open",
    "responded",
    "defaulted",
    *(f"res_{r}" for r in RESOLUTIONS),
    *(f"comp_{c}" for c in COMPLIANCE_CLASSES),
    "non_compliant_now",
    "breaches",
]


class MerchantStats(models.Model):
    """One merchant's running figures (all time), its response rate, median response time and compliance
    rate derived from them, and the risk score the alert job gives it: the operator's merchant table."""

    merchant = models.OneToOneField(
        "accounts.MerchantOrganisation", primary_key=True, on_delete=models.CASCADE, related_name="stats"
    )
    locals().update(_counters(MERCHANT_COUNTS))
    response_rate = models.FloatField(null=True)
    compliance_rate = models.FloatField(null=True)
    median_response_hours = models.FloatField(null=True)
    #: Written by the risk job (``oversight.risk``): a score to sort by and the reasons behind it.
    risk_score = models.FloatField(default=0, db_default=0)
    risk_flags = models.JSONField(default=list, db_default=[])
    recent_cases = models.IntegerField(default=0, db_default=0)
    risk_updated_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["-risk_score", "merchant"], name="merchantstats_risk"),
            models.Index(fields=["-cases", "merchant"], name="merchantstats_cases"),
        ]

    def __str__(self):
        return f"stats of {self.merchant_id}"


class MerchantResponseCell(models.Model):
    """How many of a merchant's cases it answered after ``hours`` whole hours: its response-time histogram."""

    merchant = models.ForeignKey("accounts.MerchantOrganisation", on_delete=models.CASCADE, related_name="+")
    hours = models.IntegerField()
    count = models.IntegerField(default=0, db_default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "hours"], name="merchantresponse_key")]

    def __str__(self):
        return f"{self.merchant_id} {self.hours} h: {self.count}"


# --- risk alerts ----------------------------------------------------------------------------------------


class AlertKind(models.TextChoices):
    COMPLAINT_SPIKE = "complaint_spike", _("Complaints far above the merchant's baseline")
    RESPONSE_DROP = "response_drop", _("Response rate falling")
    COMPLIANCE_DROP = "compliance_drop", _("Compliance rate falling")
    CATEGORY_BURST = "category_burst", _("Burst of one category in one country pair")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    ACTIONED = "actioned", _("Sanction applied")


class RiskAlert(models.Model):
    """A signal the risk job raised for the operators: what was seen against what was expected, and how
    unlikely that is (``oversight.risk`` documents the tests). The operator acknowledges it or sanctions
    the merchant from it."""

    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    merchant = models.ForeignKey(
        "accounts.MerchantOrganisation", null=True, blank=True, on_delete=models.CASCADE, related_name="alerts"
    )
    category = models.CharField(max_length=32, blank=True)
    consumer_country = models.CharField(max_length=2, blank=True)
    merchant_country = models.CharField(max_length=2, blank=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    observed = models.FloatField()
    expected = models.FloatField()
    #: Robust z-score (or the two-proportion z for the rate drops) and the test's p-value.
    score = models.FloatField()
    p_value = models.FloatField(null=True)
    details = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    sanction = models.ForeignKey(Sanction, null=True, blank=True, on_delete=models.PROTECT, related_name="alerts")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["merchant", "kind", "-created_at"]),
        ]

    def __str__(self):
        return f"{self.kind} {self.merchant_id or ''} {self.created_at:%Y-%m-%d}"
