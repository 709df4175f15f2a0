"""Input and output serializers of the cases API."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from rest_framework import serializers

from accounts.models import MerchantOrganisation
from cases import policies
from cases.jurisdiction import Contract, Facts, Indicator, localise
from cases.models import Case, CaseEvent, Category, PerformanceKind, Remedy
from cases.money import Money, MoneyError, parse_money
from odr.errors import ValidationFailed, flatten_errors


def validated(serializer_class, data) -> dict:
    """``data`` checked by ``serializer_class``; a 400 in the API's error shape otherwise."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise ValidationFailed(fields=flatten_errors(serializer.errors))
    return serializer.validated_data


def text(max_length=None, **kwargs):
    return serializers.CharField(max_length=max_length or settings.ODR_MAX_TEXT_LENGTH, **kwargs)


class MoneyField(serializers.Field):
    """``{"amount": "123.45", "currency": "EUR"}`` <-> :class:`cases.money.Money`."""

    # Braces doubled: DRF formats this message with str.format.
    default_error_messages = {"invalid": _('Give money as {{"amount": "12.50", "currency": "EUR"}}.')}

    def to_internal_value(self, data):
        if not isinstance(data, dict) or "amount" not in data or "currency" not in data:
            self.fail("invalid")
        try:
            return parse_money(data["amount"], data["currency"])
        except MoneyError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from None

    def to_representation(self, value: Money):
        return value.as_dict()


class _MoneySchemaSerializer(serializers.Serializer):
    amount = serializers.CharField()
    currency = serializers.CharField()


try:  # document MoneyField as an object in the OpenAPI schema
    from drf_spectacular.extensions import OpenApiSerializerFieldExtension

    class MoneyFieldExtension(OpenApiSerializerFieldExtension):
        target_class = MoneyField

        def map_serializer_field(self, auto_schema, direction):
            return auto_schema._map_serializer(_MoneySchemaSerializer, direction)
except ImportError:  # pragma: no cover
    pass


class OrderInput(serializers.Serializer):
    reference = serializers.CharField(max_length=100)
    date = serializers.DateField()
    platform = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    product = serializers.CharField(max_length=300)
    price = MoneyField()


class CaseFileInput(serializers.Serializer):
    merchant = serializers.IntegerField(min_value=1)
    order = OrderInput()
    category = serializers.ChoiceField(choices=Category.choices)
    description = text()
    remedy = serializers.ChoiceField(choices=Remedy.choices)
    claim = MoneyField()
    language = serializers.ChoiceField(choices=[code for code, _ in settings.LANGUAGES], required=False)
    submit = serializers.BooleanField(default=True)
    # Facts for the jurisdiction stage (cases/jurisdiction/): what the consumer saw of the merchant.
    directing_indicators = serializers.ListField(
        child=serializers.ChoiceField(choices=Indicator.choices),
        required=False,
        default=list,
        max_length=len(Indicator.values),
        help_text="what shows the merchant aimed its business at the consumer's country",
    )
    contract = serializers.ChoiceField(choices=Contract.choices, required=False, default=Contract.GOODS)
    odr_agreement = serializers.BooleanField(
        required=False, default=False, help_text="the consumer agrees that this platform's procedure decides"
    )

    def validate_merchant(self, value):
        if not MerchantOrganisation.objects.filter(pk=value).exists():
            raise serializers.ValidationError(_("There is no merchant with this id."))
        return value


# --- action inputs -----------------------------------------------------------------------------
class EmptyInput(serializers.Serializer):
    pass


class ReasonInput(serializers.Serializer):
    reason = text(required=False, allow_blank=True, default="")


class RequiredReasonInput(serializers.Serializer):
    reason = text()


class CountryCodeField(serializers.CharField):
    """An ISO 3166-1 alpha-2 code, any case in, upper case out; ``odr`` too when ``allow_odr``."""

    default_error_messages = {
        "country": _("Give an ISO 3166-1 alpha-2 country code."),
        "country_or_odr": _("Give an ISO 3166-1 alpha-2 country code or “odr”."),
    }

    def __init__(self, *, allow_odr=False, **kwargs):
        self.allow_odr = allow_odr
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip()
        if self.allow_odr and value.lower() == "odr":
            return "odr"
        if value.upper() not in countries:
            self.fail("country_or_odr" if self.allow_odr else "country")
        return value.upper()


class ContractChoiceInput(serializers.Serializer):
    """The contract's (or the parties' later) choice of law and of forum, as a party pleads it."""

    chosen_law = CountryCodeField(required=False, allow_null=True)
    chosen_forum = CountryCodeField(
        allow_odr=True,
        required=False,
        allow_null=True,
        error_messages={"blank": _("A choice of forum needs the forum's country (or “odr”).")},
        help_text="a country, or odr when both parties agreed to this platform's procedure",
    )
    choice_made_after_dispute = serializers.BooleanField(required=False)
    forum_clause_exclusive = serializers.BooleanField(
        required=False, help_text="false when the clause adds a forum rather than taking the others away"
    )

    def check_choices(self, attrs) -> dict:
        """Refuse facts that contradict each other; the engine never guesses."""
        errors = {}
        forum = attrs.get("chosen_forum")
        if attrs.get("choice_made_after_dispute") and not (attrs.get("chosen_law") or forum):
            errors["choice_made_after_dispute"] = [_("There is no choice of law or forum for this to date.")]
        if "forum_clause_exclusive" in attrs and forum in (None, "odr"):
            errors["forum_clause_exclusive"] = [_("Only a clause choosing a country's courts can add a forum.")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def validate(self, attrs):
        return self.check_choices(super().validate(attrs))


class JurisdictionFactsInput(ContractChoiceInput):
    """``POST /api/v1/jurisdiction/evaluate/``: the facts of a dispute."""

    consumer_country = CountryCodeField()
    merchant_country = CountryCodeField()
    directed_to_consumer_country = serializers.BooleanField(required=False)
    directing_indicators = serializers.ListField(
        child=serializers.ChoiceField(choices=Indicator.choices), required=False, max_length=len(Indicator.values)
    )
    contract = serializers.ChoiceField(choices=Contract.choices, required=False)
    claim = MoneyField(required=False, allow_null=True)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        indicators = attrs.get("directing_indicators") or []
        directed = attrs.get("directed_to_consumer_country")
        if directed is None and not indicators:
            raise serializers.ValidationError(
                {"directed_to_consumer_country": [_("Say whether the merchant directed its activity there.")]}
            )
        if directed is False and indicators:
            raise serializers.ValidationError(
                {
                    "directing_indicators": [
                        _("These show directed activity, but directed_to_consumer_country is false.")
                    ]
                }
            )
        return attrs

    def facts(self) -> Facts:
        v = self.validated_data
        claim = v.get("claim")
        indicators = list(dict.fromkeys(v.get("directing_indicators") or []))
        return Facts(
            consumer_country=v["consumer_country"],
            merchant_country=v["merchant_country"],
            directed=v.get("directed_to_consumer_country", bool(indicators)),
            indicators=tuple(indicators),
            chosen_law=v.get("chosen_law"),
            chosen_forum=v.get("chosen_forum"),
            forum_chosen_after_dispute=v.get("choice_made_after_dispute", False),
            law_chosen_after_dispute=v.get("choice_made_after_dispute", False),
            forum_clause_exclusive=v.get("forum_clause_exclusive", True),
            contract=v.get("contract") or Contract.GOODS,
            claim_amount=claim.amount if claim else None,
            claim_currency=claim.currency if claim else None,
        )


class RespondInput(ContractChoiceInput):
    position = serializers.ChoiceField(choices=["accept", "offer", "contest"])
    statement = text()
    offer = MoneyField(required=False)
    odr_agreement = serializers.BooleanField(
        required=False, default=False, help_text="the merchant agrees that this platform's procedure decides"
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs["position"] == "offer" and "offer" not in attrs:
            raise serializers.ValidationError({"offer": [_("An offer needs an amount.")]})
        if attrs["position"] != "offer" and "offer" in attrs:
            raise serializers.ValidationError({"offer": [_("Only an offer carries an amount.")]})
        return attrs


class DecideJurisdictionInput(serializers.Serializer):
    forum = serializers.CharField(max_length=3)
    applicable_law = serializers.CharField(max_length=2)
    reason = text()

    def validate_forum(self, value):
        if value != "odr" and value.upper() not in countries:
            raise serializers.ValidationError(_("Give an ISO 3166-1 alpha-2 country code or “odr”."))
        return value if value == "odr" else value.upper()

    def validate_applicable_law(self, value):
        if value.upper() not in countries:
            raise serializers.ValidationError(_("Give an ISO 3166-1 alpha-2 country code."))
        return value.upper()


class DisclosureInput(serializers.Serializer):
    statement = text(
        help_text="anything that might call the neutral's independence into question, or that there is none"
    )


class DecideChallengeInput(serializers.Serializer):
    upheld = serializers.BooleanField()
    reason = text()


class AssignInput(serializers.Serializer):
    user = serializers.IntegerField(min_value=1)


class AwardInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["granted", "partly_granted", "dismissed"])
    amount = MoneyField(required=False, allow_null=True, default=None)
    remedy = serializers.ChoiceField(choices=Remedy.choices)
    reasons = text()
    comply_within_days = serializers.IntegerField(min_value=1, max_value=90, required=False, allow_null=True)

    def validate(self, attrs):
        if attrs["decision"] != "dismissed" and attrs.get("amount") is None:
            raise serializers.ValidationError({"amount": [_("An award that grants the claim needs an amount.")]})
        return attrs


class ComplianceReportInput(serializers.Serializer):
    """What the merchant did: a refund (its payment reference) or a shipment (its tracking number)."""

    reference = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=PerformanceKind.choices, default=PerformanceKind.OTHER)
    carrier = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DecideComplianceInput(serializers.Serializer):
    upheld = serializers.BooleanField()
    reason = text()


# --- outputs -----------------------------------------------------------------------------------
def local_time(value, user):
    """``value`` in ``user``'s time zone, ISO 8601 with its offset (the ``*_local`` twins)."""
    if value is None:
        return None
    tz = zoneinfo.ZoneInfo(getattr(user, "time_zone", None) or "UTC")
    return value.astimezone(tz).isoformat()


class PersonOutput(serializers.Serializer):
    id = serializers.IntegerField()
    display_name = serializers.CharField()
    country = serializers.CharField()


class MerchantRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    legal_name = serializers.CharField()
    country = serializers.CharField()


class CaseOutput(serializers.ModelSerializer):
    claim = serializers.SerializerMethodField()
    order = serializers.SerializerMethodField()
    consumer = PersonOutput()
    merchant = MerchantRefOutput()
    mediator = PersonOutput(allow_null=True)
    arbitrator = PersonOutput(allow_null=True)
    deadlines = serializers.SerializerMethodField()
    jurisdiction = serializers.SerializerMethodField()
    allowed_actions = serializers.SerializerMethodField()
    created_at_local = serializers.SerializerMethodField()
    updated_at_local = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id", "reference", "status", "category", "remedy", "claim", "order", "description", "language",
            "consumer", "merchant", "mediator", "arbitrator", "jurisdiction", "response_position", "outcome",
            "deadlines", "allowed_actions", "created_at", "created_at_local", "updated_at", "updated_at_local",
            "filed_at", "closed_at",
        ]  # fmt: skip

    def _user(self):
        return self.context["request"].user

    def get_claim(self, case) -> dict:
        return Money(case.claim_amount, case.claim_currency).as_dict()

    def get_order(self, case) -> dict:
        return {
            "reference": case.order_reference,
            "date": case.order_date.isoformat(),
            "platform": case.order_platform,
            "product": case.order_product,
            "price": Money(case.order_price_amount, case.order_price_currency).as_dict(),
        }

    def get_deadlines(self, case) -> list:
        user = self._user()
        return [
            {
                "kind": d.kind,
                "party": d.party,
                "due_at": d.due_at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
                "due_at_local": local_time(d.due_at, user),
                "status": d.status,
            }
            for d in case.deadlines.all()
            if d.status == "running"
        ]

    def get_jurisdiction(self, case) -> dict:
        return jurisdiction_output(localise(case.jurisdiction))

    def get_allowed_actions(self, case) -> list[str]:
        return policies.allowed_actions(self._user(), case)

    def get_created_at_local(self, case) -> str:
        return local_time(case.created_at, self._user())

    def get_updated_at_local(self, case) -> str:
        return local_time(case.updated_at, self._user())


class ReasonOutput(serializers.Serializer):
    rule = serializers.CharField()
    kind = serializers.CharField(help_text="forum, law, note or decision")
    citation = serializers.CharField(allow_blank=True)
    text = serializers.CharField(help_text="in the reader's language")


class ProtectionOutput(serializers.Serializer):
    country = serializers.CharField()
    rule = serializers.CharField()
    citation = serializers.CharField()
    text = serializers.CharField()


class JurisdictionOutput(serializers.Serializer):
    """The engine's answer; on a case also ``status``, ``accepted_by``, ``contested_by`` and a decision's
    ``proposal`` and ``decided_by``."""

    status = serializers.CharField(required=False, help_text="proposed, agreed, contested or decided (cases only)")
    applicable_law = serializers.CharField()
    forum = serializers.CharField(help_text="a country, or odr")
    forum_options = serializers.ListField(child=serializers.CharField())
    reasons = ReasonOutput(many=True)
    mandatory_protection = ProtectionOutput(many=True)
    ruleset = serializers.CharField()
    ruleset_name = serializers.CharField()
    ruleset_version = serializers.CharField()
    caveat = serializers.CharField(help_text="what the rule set does not cover")
    facts = serializers.DictField()
    disclaimer = serializers.CharField()


def jurisdiction_output(record: dict) -> dict:
    """A localised jurisdiction record as the API shows it (``cases.jurisdiction.localise`` first)."""
    if not record:
        return record
    return {**record, "disclaimer": str(DISCLAIMER)}


DISCLAIMER = _(
    "A proposal from general rules, not legal advice: the parties may contest it, and the courts decide "
    "their own jurisdiction."
)


class CaseEventOutput(serializers.ModelSerializer):
    actor = serializers.IntegerField(source="actor_id", allow_null=True)
    at_local = serializers.SerializerMethodField()

    class Meta:
        model = CaseEvent
        fields = [
            "seq",
            "type",
            "actor",
            "actor_role",
            "at",
            "at_local",
            "payload",
            "payload_hash",
            "prev_hash",
            "hash",
        ]

    def get_at_local(self, event) -> str:
        return local_time(event.at, self.context["request"].user)
