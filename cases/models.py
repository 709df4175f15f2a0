"""The Case and its lifecycle state machine, the hash-chained event log, references and idempotency keys.

Transitions only change fields in memory and do no I/O; services lock the row, ask the policy, call the
transition, save and append the event (STYLE.md rule 2). Who may take each transition is answered by
``cases.policies``, which is also what ``allowed_actions`` reads.
"""

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, transition

from . import policies
from .money import Money


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    FILED = "filed", _("Filed")
    JURISDICTION = "jurisdiction", _("Jurisdiction")
    NEGOTIATION = "negotiation", _("Negotiation")
    MEDIATION = "mediation", _("Mediation")
    ARBITRATION = "arbitration", _("Arbitration")
    SETTLED = "settled", _("Settled")
    AWARDED = "awarded", _("Awarded")
    COMPLIANCE = "compliance", _("Compliance")
    CLOSED = "closed", _("Closed")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    REJECTED = "rejected", _("Rejected")
    DEFAULTED = "defaulted", _("Defaulted")
    NON_COMPLIANT = "non_compliant", _("Not complied with")


S = Status
TERMINAL_STATES = (S.CLOSED, S.WITHDRAWN, S.REJECTED)
#: States in which the dispute is still open, before any settlement or award.
OPEN_STATES = (S.FILED, S.JURISDICTION, S.NEGOTIATION, S.MEDIATION, S.ARBITRATION, S.DEFAULTED)


def _whole(delta: dt.timedelta, unit_seconds: int) -> int:
    return max(0, int(delta.total_seconds() // unit_seconds))


class Category(models.TextChoices):
    NON_DELIVERY = "non_delivery", _("Goods or service not delivered")
    NOT_AS_DESCRIBED = "not_as_described", _("Not as described")
    DEFECTIVE = "defective", _("Defective")
    COUNTERFEIT = "counterfeit", _("Counterfeit")
    REFUND_NOT_HONOURED = "refund_not_honoured", _("Refund not honoured")
    UNAUTHORISED_CHARGE = "unauthorised_charge", _("Unauthorised charge")
    DATA_PRIVACY = "data_privacy", _("Data privacy")
    OTHER = "other", _("Other")


class Remedy(models.TextChoices):
    REFUND = "refund", _("Refund")
    REPLACEMENT = "replacement", _("Replacement")
    REPAIR = "repair", _("Repair")
    PRICE_REDUCTION = "price_reduction", _("Price reduction")
    COMPENSATION = "compensation", _("Compensation")


class Party(models.TextChoices):
    CONSUMER = "consumer", _("Consumer")
    MERCHANT = "merchant", _("Merchant")


class ComplianceStatus(models.TextChoices):
    """Where the carrying out of a settlement or award stands (``Case.outcome["compliance"]``)."""

    DUE = "due", _("Due")
    REPORTED = "reported", _("Reported by the merchant")
    DISPUTED = "disputed", _("Disputed by the consumer")
    CONFIRMED = "confirmed", _("Confirmed")
    NON_COMPLIANT = "non_compliant", _("Not complied with")


class PerformanceKind(models.TextChoices):
    REFUND = "refund", _("Refund")
    SHIPMENT = "shipment", _("Shipment")
    OTHER = "other", _("Other performance")


class JurisdictionStatus(models.TextChoices):
    PROPOSED = "proposed", _("Proposed")
    AGREED = "agreed", _("Agreed")
    CONTESTED = "contested", _("Contested")
    DECIDED = "decided", _("Decided")


def money_field(verbose_name, **kwargs):
    # 4 decimal places hold every ISO 4217 minor unit (CLF, UYW have 4); services validate the exact count.
    return models.DecimalField(verbose_name, max_digits=19, decimal_places=4, **kwargs)


#: What the statistics' durations read, carried in the pair, category and merchant indexes (index-only scans).
DURATIONS = ["status", "response_hours", "resolved_in", "resolution_days", "close_days"]


class Case(ConcurrentTransitionMixin, models.Model):
    """A consumer's complaint against a merchant, from draft to closed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reference = models.CharField(_("reference"), max_length=20, unique=True, editable=False)
    status = FSMField(_("status"), default=S.DRAFT, choices=Status.choices, protected=True, db_index=True)

    consumer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases_as_consumer")
    merchant = models.ForeignKey("accounts.MerchantOrganisation", on_delete=models.PROTECT, related_name="cases")
    mediator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="cases_as_mediator"
    )
    arbitrator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="cases_as_arbitrator"
    )
    # The parties' countries when the case was filed, kept for the statistics by country pair.
    consumer_country = CountryField(_("consumer's country"))
    merchant_country = CountryField(_("merchant's country"))

    category = models.CharField(_("category"), max_length=32, choices=Category.choices)
    remedy = models.CharField(_("remedy"), max_length=32, choices=Remedy.choices)
    description = models.TextField(_("description"))
    language = models.CharField(_("language of the case"), max_length=16, default="en")

    order_reference = models.CharField(_("order reference"), max_length=100)
    order_date = models.DateField(_("order date"))
    order_platform = models.CharField(_("platform"), max_length=100, blank=True)
    order_product = models.CharField(_("product"), max_length=300)
    order_price_amount = money_field(_("price"))
    order_price_currency = models.CharField(_("price currency"), max_length=3)
    claim_amount = money_field(_("claim"))
    claim_currency = models.CharField(_("claim currency"), max_length=3)

    response_position = models.CharField(_("merchant's position"), max_length=16, blank=True)
    #: What the parties said that the jurisdiction engine needs: the consumer at filing
    #: (``directing_indicators``, ``contract``, ``consumer_odr_agreement``), the merchant in its response
    #: (``chosen_law``, ``chosen_forum``, ``choice_made_after_dispute``, ``forum_clause_exclusive``,
    #: ``merchant_odr_agreement``).
    jurisdiction_facts = models.JSONField(_("facts for the forum and the law"), default=dict, blank=True)
    #: The proposal and its progress: ``{"status", "forum", "forum_options", "applicable_law", "reasons",
    #: "mandatory_protection", "ruleset", "ruleset_version", "facts", "accepted_by", ...}``
    #: (``cases.jurisdiction``; written by the respond, accept, contest and decide transitions).
    jurisdiction = models.JSONField(_("jurisdiction"), default=dict, blank=True)
    #: The party whose offer is open for the other to accept ("" when none): read by the accept policy.
    open_offer_party = models.CharField(max_length=16, blank=True, choices=Party.choices)
    #: What was agreed or decided: ``{"kind": "settlement"|"award", ...}``.
    outcome = models.JSONField(_("outcome"), null=True, blank=True)

    #: The chain's head: how many events and the last one's hash, so that deleting the newest events
    #: is detected too (``cases.events.chain_verify``). Written only by ``event_append``.
    event_count = models.PositiveIntegerField(default=0, editable=False)
    event_head = models.CharField(max_length=64, blank=True, editable=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    filed_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    #: Facts for the statistics (``oversight.summaries``), stamped by ``stats_stamp`` as the case moves
    #: and never changed after: when the merchant answered, whether it let the deadline pass, when, at
    #: which stage and how the dispute ended, and those durations in whole hours or days from filing.
    responded_at = models.DateTimeField(null=True, blank=True, editable=False)
    response_hours = models.IntegerField(null=True, blank=True, editable=False)
    defaulted = models.BooleanField(default=False, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)
    resolved_in = models.CharField(max_length=16, blank=True, editable=False)
    resolution = models.CharField(max_length=16, blank=True, editable=False)
    resolution_days = models.IntegerField(null=True, blank=True, editable=False)
    close_days = models.IntegerField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The statistics when a filter leaves the summaries (durations by country pair, category or
            # merchant: read from these indexes alone, on PostgreSQL) and the risk alerts' look-back windows.
            models.Index(fields=["filed_at"], name="case_filed"),
            models.Index(
                fields=["consumer_country", "merchant_country", "filed_at"], include=DURATIONS, name="case_pair_filed"
            ),
            models.Index(fields=["category", "filed_at"], include=DURATIONS, name="case_category_filed"),
            # One merchant's durations, under any other filter as well (its columns are carried too).
            models.Index(
                fields=["merchant", "filed_at"],
                include=[*DURATIONS, "consumer_country", "merchant_country", "category"],
                name="case_merchant_filed",
            ),
            models.Index(fields=["consumer", "-created_at"]),
            models.Index(fields=["merchant", "-created_at"]),
            models.Index(fields=["mediator", "-created_at"]),
            models.Index(fields=["arbitrator", "-created_at"]),
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["-created_at", "-id"]),
        ]

    def __str__(self):
        return self.reference

    # --- derived facts read by policies and conditions (no I/O) ----------------------------------
    def party_of(self, user) -> str | None:
        """``"consumer"`` or ``"merchant"`` if ``user`` is a party to this case, else None."""
        if user is None or not getattr(user, "is_authenticated", False):
            return None
        if user.pk == self.consumer_id:
            return Party.CONSUMER
        if user.role == "merchant" and user.organisation_id == self.merchant_id:
            return Party.MERCHANT
        return None

    @property
    def current_neutral_id(self):
        if self.status == S.MEDIATION:
            return self.mediator_id
        if self.status == S.ARBITRATION:
            return self.arbitrator_id
        return None

    def jurisdiction_status(self) -> str:
        return (self.jurisdiction or {}).get("status", "")

    def compliance_disputed(self) -> bool:
        return (self.outcome or {}).get("compliance") == ComplianceStatus.DISPUTED

    def stats_stamp(self, *, previous: str, at: dt.datetime) -> None:
        """Record the statistics' facts of the move from ``previous`` to the current status (no I/O)."""
        if self.filed_at is None:
            return
        if previous == S.FILED and self.response_position and self.responded_at is None:
            self.responded_at = at
            self.response_hours = _whole(at - self.filed_at, 3600)
        if self.status == S.DEFAULTED:
            self.defaulted = True
        if not self.resolution and previous in OPEN_STATES and self.status not in OPEN_STATES:
            self.resolved_at = at
            self.resolved_in = previous
            self.resolution = self._resolution()
            self.resolution_days = _whole(at - self.filed_at, 86400)
        if self.status in TERMINAL_STATES and self.closed_at is not None and self.close_days is None:
            self.close_days = _whole(self.closed_at - self.filed_at, 86400)

    def _resolution(self) -> str:
        outcome = self.outcome or {}
        if outcome.get("kind") == "award":
            return "dismissed" if outcome.get("decision") == "dismissed" else "awarded"
        if outcome.get("kind") == "settlement":
            return "settled"
        if self.status in (S.WITHDRAWN, S.REJECTED):
            return self.status
        return "closed"

    def comply_by(self):
        """When the settlement or award must be carried out (UTC), or None."""
        value = (self.outcome or {}).get("comply_by")
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    # --- the state machine -----------------------------------------------------------------------
    # Each transition names its source states; ``permission`` is the policy of that action, so that
    # django-fsm, the services and allowed_actions give one answer. Bodies only change fields.

    @transition(field=status, source=S.DRAFT, target=S.FILED, permission=policies.permission("submit"))
    def submit(self, *, at):
        self.filed_at = at

    @transition(
        field=status,
        source=[S.DRAFT, *OPEN_STATES],
        target=S.WITHDRAWN,
        permission=policies.permission("withdraw"),
    )
    def withdraw(self, *, at):
        self.closed_at = at

    @transition(
        field=status,
        source=S.FILED,
        target=RETURN_VALUE(S.JURISDICTION, S.SETTLED),
        permission=policies.permission("respond"),
    )
    def respond(self, *, position, proposal: dict | None = None):
        self.response_position = position
        if position == "accept":
            self.outcome = {
                "kind": "settlement",
                "source": "merchant_accepted_claim",
                "amount": Money(self.claim_amount, self.claim_currency).as_dict(),
                "remedy": self.remedy,
                "compliance": ComplianceStatus.DUE,
            }
            return S.SETTLED
        # The proposal is the engine's answer (cases.jurisdiction), computed by the service.
        self.jurisdiction = {**(proposal or {}), "status": JurisdictionStatus.PROPOSED, "accepted_by": []}
        self.open_offer_party = ""  # an offer, if any, is recorded by the service (offer_make)
        return S.JURISDICTION

    @transition(field=status, source=S.FILED, target=S.DEFAULTED, permission=policies.permission("declare_default"))
    def declare_default(self):
        pass

    @transition(
        field=status,
        source=S.JURISDICTION,
        target=RETURN_VALUE(S.JURISDICTION, S.NEGOTIATION),
        conditions=[lambda case: case.jurisdiction_status() == JurisdictionStatus.PROPOSED],
        permission=policies.permission("accept_jurisdiction"),
    )
    def accept_jurisdiction(self, *, party):
        accepted = sorted({*self.jurisdiction.get("accepted_by", []), party})
        self.jurisdiction = {**self.jurisdiction, "accepted_by": accepted}
        if set(accepted) >= {Party.CONSUMER, Party.MERCHANT}:
            self.jurisdiction["status"] = JurisdictionStatus.AGREED
            return S.NEGOTIATION
        return S.JURISDICTION

    @transition(
        field=status,
        source=S.JURISDICTION,
        target=S.JURISDICTION,
        conditions=[lambda case: case.jurisdiction_status() == JurisdictionStatus.PROPOSED],
        permission=policies.permission("contest_jurisdiction"),
    )
    def contest_jurisdiction(self, *, party, reason):
        self.jurisdiction = {**self.jurisdiction, "status": JurisdictionStatus.CONTESTED, "contested_by": party}

    @transition(
        field=status,
        source=S.JURISDICTION,
        target=S.NEGOTIATION,
        permission=policies.permission("decide_jurisdiction"),
    )
    def decide_jurisdiction(self, *, forum, applicable_law, reasons, decided_by):
        proposal = {k: self.jurisdiction.get(k) for k in ("forum", "applicable_law", "reasons")}
        self.jurisdiction = {
            **self.jurisdiction,
            "status": JurisdictionStatus.DECIDED,
            "forum": forum,
            "forum_options": [forum],
            "applicable_law": applicable_law,
            # The decision's reason first, then the proposal's reasons that it confirms or departs from.
            "reasons": reasons,
            "proposal": proposal,
            "decided_by": decided_by,
        }

    @transition(
        field=status, source=S.NEGOTIATION, target=S.MEDIATION, permission=policies.permission("request_mediation")
    )
    def request_mediation(self):
        pass

    @transition(
        field=status,
        source=[S.NEGOTIATION, S.MEDIATION, S.ARBITRATION],
        target=S.SETTLED,
        permission=policies.permission("accept_settlement"),
    )
    def accept_settlement(self, *, terms):
        self.outcome = {"kind": "settlement", **terms, "compliance": ComplianceStatus.DUE}
        self.open_offer_party = ""

    @transition(
        field=status,
        source=[S.NEGOTIATION, S.MEDIATION, S.DEFAULTED],
        target=S.ARBITRATION,
        permission=policies.permission("escalate"),
    )
    def escalate(self):
        self.open_offer_party = ""

    @transition(field=status, source=S.MEDIATION, target=S.MEDIATION, permission=policies.permission("assign_mediator"))
    def assign_mediator(self, *, neutral):
        self.mediator = neutral

    @transition(
        field=status, source=S.ARBITRATION, target=S.ARBITRATION, permission=policies.permission("assign_arbitrator")
    )
    def assign_arbitrator(self, *, neutral):
        self.arbitrator = neutral

    @transition(
        field=status,
        source=[S.MEDIATION, S.ARBITRATION],
        target=None,
        conditions=[lambda case: case.current_neutral_id is not None],
        permission=policies.permission("challenge_neutral"),
    )
    def challenge_neutral(self, *, reason):
        pass

    @transition(
        field=status,
        source=[S.MEDIATION, S.ARBITRATION],
        target=None,
        conditions=[lambda case: case.current_neutral_id is not None],
        permission=policies.permission("disclose"),
    )
    def disclose(self, *, statement):
        pass

    @transition(
        field=status,
        source=[S.MEDIATION, S.ARBITRATION],
        target=None,
        conditions=[lambda case: case.current_neutral_id is not None],
        permission=policies.permission("decide_challenge"),
    )
    def decide_challenge(self, *, upheld):
        if upheld:  # the neutral steps down; the roster appoints another
            if self.status == S.MEDIATION:
                self.mediator = None
            else:
                self.arbitrator = None

    @transition(
        field=status,
        source=S.ARBITRATION,
        target=RETURN_VALUE(S.AWARDED, S.CLOSED),
        permission=policies.permission("issue_award"),
    )
    def issue_award(self, *, award, at):
        self.outcome = {"kind": "award", **award}
        self.open_offer_party = ""
        if award["decision"] == "dismissed":
            # Nothing to carry out: a dismissed claim closes the case.
            self.closed_at = at
            return S.CLOSED
        self.outcome["compliance"] = ComplianceStatus.DUE
        return S.AWARDED

    @transition(
        field=status,
        source=[S.SETTLED, S.AWARDED, S.NON_COMPLIANT],
        target=S.COMPLIANCE,
        permission=policies.permission("report_compliance"),
    )
    def report_compliance(self, *, performance: dict):
        self.outcome = {
            **self.outcome,
            "performance": performance,
            "performance_reference": performance["reference"],
            "compliance": ComplianceStatus.REPORTED,
        }
        self.outcome.pop("compliance_dispute", None)

    @transition(
        field=status, source=S.COMPLIANCE, target=S.CLOSED, permission=policies.permission("confirm_compliance")
    )
    def confirm_compliance(self, *, at, by: str = "consumer"):
        self.outcome = {**self.outcome, "compliance": ComplianceStatus.CONFIRMED, "confirmed_by": by}
        self.closed_at = at

    @transition(
        field=status,
        source=S.COMPLIANCE,
        target=S.COMPLIANCE,
        conditions=[lambda case: not case.compliance_disputed()],
        permission=policies.permission("dispute_compliance"),
    )
    def dispute_compliance(self, *, reason, at):
        # The operator decides (``decide_compliance``): upheld, the case is not complied with.
        self.outcome = {
            **self.outcome,
            "compliance": ComplianceStatus.DISPUTED,
            "compliance_dispute": {"reason": reason, "at": at.isoformat().replace("+00:00", "Z")},
        }

    @transition(
        field=status,
        source=S.COMPLIANCE,
        target=RETURN_VALUE(S.NON_COMPLIANT, S.CLOSED),
        conditions=[lambda case: case.compliance_disputed()],
        permission=policies.permission("decide_compliance"),
    )
    def decide_compliance(self, *, upheld: bool, at):
        if upheld:
            self.outcome = {
                **self.outcome,
                "compliance": ComplianceStatus.NON_COMPLIANT,
                "non_compliant_at": at.isoformat().replace("+00:00", "Z"),
            }
            return S.NON_COMPLIANT
        self.outcome = {**self.outcome, "compliance": ComplianceStatus.CONFIRMED, "confirmed_by": "operator"}
        self.closed_at = at
        return S.CLOSED

    @transition(
        field=status,
        source=[S.SETTLED, S.AWARDED],
        target=S.NON_COMPLIANT,
        permission=policies.permission("declare_non_compliance"),
    )
    def declare_non_compliance(self, *, at):
        # ``non_compliant_at`` stays on the outcome if the merchant performs later (the record keeps it).
        self.outcome = {**self.outcome, "compliance": ComplianceStatus.NON_COMPLIANT, "non_compliant_at": at}

    @transition(
        field=status, source=[S.FILED, S.JURISDICTION], target=S.REJECTED, permission=policies.permission("reject")
    )
    def reject(self, *, reason, at):
        self.closed_at = at

    @transition(
        field=status,
        source=[S.SETTLED, S.AWARDED, S.COMPLIANCE, S.DEFAULTED, S.NON_COMPLIANT],
        target=S.CLOSED,
        permission=policies.permission("close"),
    )
    def close(self, *, reason, at):
        self.closed_at = at


#: Every lifecycle action, in the order the API documents them.
ACTIONS = (
    "submit", "withdraw", "respond", "declare_default", "accept_jurisdiction", "contest_jurisdiction",
    "decide_jurisdiction", "request_mediation", "accept_settlement", "escalate", "assign_mediator",
    "assign_arbitrator", "challenge_neutral", "issue_award", "report_compliance", "confirm_compliance",
    "dispute_compliance", "reject", "close", "disclose", "decide_challenge", "decide_compliance",
    "declare_non_compliance",
)  # fmt: skip


class CaseEvent(models.Model):
    """One entry of a case's hash-chained log. Never updated or deleted (only a payload may be erased).

    ``hash = SHA-256(prev_hash + canonical({case, seq, type, actor, actor_role, at, payload_hash}))``;
    see ``cases.events`` for the canonical form and the verifier.
    """

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    type = models.CharField(max_length=64)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_role = models.CharField(max_length=16)
    at = models.DateTimeField()
    payload = models.JSONField(null=True, blank=True)
    payload_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["case", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq_unique")]

    def __str__(self):
        return f"{self.case_id} #{self.seq} {self.type}"


class Evidence(models.Model):
    """A file a party uploaded, encrypted at rest under its own key (``cases.evidence``).

    The SHA-256 of the plaintext is on the event log (``evidence_added``) and is checked again at every
    download. Erasure (crypto-shredding) deletes the wrapped key and the stored file and keeps the row
    and the hash, so the case's chain still verifies.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="evidence")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    party = models.CharField(_("party"), max_length=16, choices=Party.choices)
    filename = models.CharField(_("file name"), max_length=128)
    description = models.CharField(_("description"), max_length=500, blank=True)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    #: Where the ciphertext lies under ODR_EVIDENCE_DIR: random, never the user's file name.
    storage_name = models.CharField(max_length=80, unique=True, editable=False)
    key_id = models.CharField(max_length=32, editable=False)
    wrapped_key = models.BinaryField(null=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)
    integrity_failed_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["case", "created_at", "id"]
        indexes = [models.Index(fields=["case", "created_at"])]
        verbose_name_plural = _("evidence")

    def __str__(self):
        return f"{self.filename} ({self.case_id})"


class Payment(models.Model):
    """A refund or an escrow movement through the payment provider (``cases.payments``).

    Written *pending* before the provider is called (its id is the idempotency key), then settled with
    the provider's answer; a succeeded refund is the merchant's reported performance.
    """

    class Kind(models.TextChoices):
        REFUND = "refund", _("Refund")
        ESCROW_HOLD = "escrow_hold", _("Paid into escrow")
        ESCROW_RELEASE = "escrow_release", _("Released from escrow")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        DECLINED = "declined", _("Declined")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="payments")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    made_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+")
    amount = money_field(_("amount"))
    currency = models.CharField(max_length=3)
    #: Who receives the money: "consumer" or "merchant" (an escrow hold: "escrow").
    payee = models.CharField(max_length=16)
    #: For a release: the hold it releases.
    hold = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="releases")
    provider = models.CharField(max_length=32)
    provider_reference = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "created_at", "id"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self):
        return f"{self.kind} {self.amount} {self.currency} on {self.case_id} ({self.status})"

    # A date to comply that passes while a refund the merchant started by then is pending at the provider
    # waits for the provider's answer, for ``ODR_COMPLIANCE_REFUND_WAIT_HOURS`` after the date at most: a
    # refund that succeeds is the performance (the clock is met, not breached), a declined one lets the
    # clock fire. The sweep's rows (``compliance_held``) and a case (``holds_compliance``) by one rule.
    @classmethod
    def _wait(cls) -> dt.timedelta:
        return dt.timedelta(hours=settings.ODR_COMPLIANCE_REFUND_WAIT_HOURS)

    @classmethod
    def compliance_held(cls, now: dt.datetime) -> models.Q:
        """The compliance deadlines (rows of ``Deadline``) a refund holds at ``now``."""
        pending = cls.objects.filter(
            case=models.OuterRef("case"),
            kind=cls.Kind.REFUND,
            status=cls.Status.PENDING,
            created_at__lte=models.OuterRef("due_at"),
        )
        return models.Q(kind=DeadlineKind.COMPLIANCE, due_at__gt=now - cls._wait()) & models.Q(models.Exists(pending))

    @classmethod
    def holds_compliance(cls, case, now: dt.datetime) -> bool:
        """Whether a refund holds ``case``'s date to comply at ``now``."""
        comply_by = case.comply_by()
        if comply_by is None or now >= comply_by + cls._wait():
            return False
        return cls.objects.filter(
            case=case, kind=cls.Kind.REFUND, status=cls.Status.PENDING, created_at__lte=comply_by
        ).exists()


class DeadlineKind(models.TextChoices):
    MERCHANT_RESPONSE = "merchant_response", _("Merchant's response")
    JURISDICTION_OBJECTIONS = "jurisdiction_objections", _("Objections to forum and law")
    NEGOTIATION = "negotiation", _("Negotiation")
    MEDIATION = "mediation", _("Mediation")
    ARBITRATION_SUBMISSIONS = "arbitration_submissions", _("Arbitration submissions")
    AWARD = "award", _("Award")
    COMPLIANCE = "compliance", _("Compliance")
    FINAL_NOTICE = "final_notice", _("Final notice before default proceedings")
    COMPLIANCE_CONFIRMATION = "compliance_confirmation", _("Confirmation of performance")


class DeadlineStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    MET = "met", _("Met")
    CANCELLED = "cancelled", _("Cancelled")
    FIRED = "fired", _("Passed")


class Deadline(models.Model):
    """One running clock of a case (ARCHITECTURE.md design 3): who must act by ``due_at`` (UTC)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(max_length=32, choices=DeadlineKind.choices)
    #: "consumer", "merchant", "parties" (either may act) or "arbitrator".
    party = models.CharField(max_length=16)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=DeadlineStatus.choices, default=DeadlineStatus.RUNNING)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            # The sweep's query: running rows by due time. Partial on PostgreSQL and SQLite alike.
            models.Index(fields=["due_at"], condition=models.Q(status="running"), name="deadline_running_due"),
            models.Index(fields=["case", "status"]),
        ]

    def __str__(self):
        return f"{self.case_id} {self.kind} due {self.due_at:%Y-%m-%d %H:%M}Z ({self.status})"


class Reminder(models.Model):
    """A notice to whoever must act before a deadline, sent by the sweep at ``send_at`` (outside quiet hours)."""

    deadline = models.ForeignKey(Deadline, on_delete=models.CASCADE, related_name="reminders")
    #: "consumer", "merchant" or "arbitrator": whose users are reminded.
    party = models.CharField(max_length=16)
    #: "3_business_days" or "1_day" before the deadline.
    lead = models.CharField(max_length=16)
    send_at = models.DateTimeField()
    status = models.CharField(max_length=16, default="pending")  # pending, sent, cancelled

    class Meta:
        ordering = ["send_at", "id"]
        indexes = [models.Index(fields=["send_at"], condition=models.Q(status="pending"), name="reminder_pending_due")]
        constraints = [
            models.UniqueConstraint(fields=["deadline", "party", "lead"], name="reminder_once_per_lead"),
        ]

    def __str__(self):
        return f"{self.lead} reminder to {self.party} at {self.send_at:%Y-%m-%d %H:%M}Z ({self.status})"


class StageDuration(models.Model):
    """The operator's setting of a stage's length in business days (defaults in cases.deadlines)."""

    kind = models.CharField(max_length=32, choices=DeadlineKind.choices, unique=True)
    business_days = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["kind"]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.business_days} business days"


class ReferenceCounter(models.Model):
    """The last reference number handed out in a year (``ODR-<year>-<n>``)."""

    year = models.PositiveIntegerField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last}"


class IdempotencyKey(models.Model):
    """Remembers a filing's ``Idempotency-Key`` so a retried request returns the same case."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    case = models.ForeignKey(Case, on_delete=models.CASCADE)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self):
        return f"{self.key} -> {self.case_id}"


class SigningKey(models.Model):
    """A public key the platform has signed record bundles with (``cases.export.signing``), kept after its
    private half is gone so that bundles signed with it can still be checked (``GET /api/v1/signing-keys/``)."""

    key_id = models.CharField(max_length=32)  # the master key's id (a reused id gets a row of its own)
    algorithm = models.CharField(max_length=16, default="Ed25519")
    public_key = models.CharField(max_length=64)  # base64 of the raw 32 bytes
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["key_id", "public_key"], name="signing_key_unique")]

    def __str__(self):
        return f"{self.key_id} ({self.algorithm})"
