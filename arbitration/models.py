"""The arbitration stage: the parties' submissions, the award and its documents.

An award, once issued, is never changed: ``Award`` and ``AwardDocument`` refuse to be saved twice or
deleted. A correction is a new ``Award`` that ``corrects`` the first, with documents of its own that
cite the first document's SHA-256.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from odr.errors import Conflict


class Submission(models.Model):
    """A party's written submission to the arbitrator: a statement and the evidence it relies on."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="submissions")
    party = models.CharField(max_length=16)  # consumer or merchant
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    statement = models.TextField(_("statement"))
    evidence = models.ManyToManyField("cases.Evidence", blank=True, related_name="submissions")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "created_at", "id"]
        indexes = [models.Index(fields=["case", "party"])]

    def __str__(self):
        return f"{self.party} submission on {self.case_id}"


class Decision(models.TextChoices):
    GRANTED = "granted", _("Granted")
    PARTLY_GRANTED = "partly_granted", _("Partly granted")
    DISMISSED = "dismissed", _("Dismissed")


class Immutable(models.Model):
    """Written once: a second save or a delete is refused (409)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise Conflict(_("An issued award cannot be changed; the arbitrator may issue a correction."))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise Conflict(_("An issued award cannot be deleted."))


class Award(Immutable):
    """The arbitrator's decision as issued (``number`` 1) or as corrected (2, 3, ..., ``corrects`` the one
    before). The case's ``outcome`` follows the latest."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="awards")
    number = models.PositiveSmallIntegerField(default=1)
    corrects = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="correction")
    arbitrator = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices)
    amount = models.DecimalField(_("amount"), max_digits=19, decimal_places=4, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    remedy = models.CharField(_("remedy"), max_length=32)
    reasons = models.TextField(_("reasons"))
    #: What the correction changes and why (empty on the first award).
    correction_note = models.TextField(blank=True)
    #: From the jurisdiction stage: ISO country codes, or "odr" for the platform's procedure.
    forum = models.CharField(max_length=8, blank=True)
    applicable_law = models.CharField(max_length=8, blank=True)
    comply_by = models.DateTimeField(null=True, blank=True)
    #: Issued after the award clock had run out.
    late = models.BooleanField(default=False)
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["case", "number"]
        constraints = [models.UniqueConstraint(fields=["case", "number"], name="award_number_unique")]

    def __str__(self):
        return f"award {self.number} on {self.case_id}"


class AwardDocument(Immutable):
    """The award rendered as a PDF in one language; its SHA-256 is on the case's event log."""

    award = models.ForeignKey(Award, on_delete=models.PROTECT, related_name="documents")
    language = models.CharField(max_length=16)
    pdf = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["award", "language"]
        constraints = [models.UniqueConstraint(fields=["award", "language"], name="award_document_language_unique")]

    def __str__(self):
        return f"{self.award} ({self.language})"
