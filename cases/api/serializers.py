"""Input and output serializers of the cases API."""

import datetime as dt
import zoneinfo

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries import countries
from rest_framework import serializers

from accounts.models import MerchantOrganisation
from cases import policies
from cases.models import Case, CaseEvent, Category, Remedy
from cases.money import Money, MoneyError, parse_money


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


class RespondInput(serializers.Serializer):
    position = serializers.ChoiceField(choices=["accept", "offer", "contest"])
    statement = text()
    offer = MoneyField(required=False)

    def validate(self, attrs):
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


class AssignInput(serializers.Serializer):
    user = serializers.IntegerField(min_value=1)


class AwardInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["granted", "partly_granted", "dismissed"])
    amount = MoneyField(required=False, allow_null=True, default=None)
    remedy = serializers.ChoiceField(choices=Remedy.choices)
    reasons = text()

    def validate(self, attrs):
        if attrs["decision"] != "dismissed" and attrs.get("amount") is None:
            raise serializers.ValidationError({"amount": [_("An award that grants the claim needs an amount.")]})
        return attrs


class ComplianceReportInput(serializers.Serializer):
    reference = serializers.CharField(max_length=200)


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

    def get_allowed_actions(self, case) -> list[str]:
        return policies.allowed_actions(self._user(), case)

    def get_created_at_local(self, case) -> str:
        return local_time(case.created_at, self._user())

    def get_updated_at_local(self, case) -> str:
        return local_time(case.updated_at, self._user())


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
