"""Input and output serializers of the accounts API."""

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django_countries.serializer_fields import CountryField
from rest_framework import serializers

from accounts.models import MerchantOrganisation, Role, User
from accounts.validators import available_time_zones


class TimeZoneField(serializers.ChoiceField):
    def __init__(self, **kwargs):
        super().__init__(choices=sorted(available_time_zones()), **kwargs)


def language_field(**kwargs):
    return serializers.ChoiceField(choices=[code for code, _ in settings.LANGUAGES], **kwargs)


class RegisterInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    role = serializers.ChoiceField(choices=[Role.CONSUMER, Role.MERCHANT])
    display_name = serializers.CharField(max_length=120)
    country = CountryField()
    time_zone = TimeZoneField()
    language = language_field(default="en")
    legal_name = serializers.CharField(max_length=200, required=False)

    def validate(self, attrs):
        if attrs["role"] == Role.MERCHANT and not attrs.get("legal_name"):
            raise serializers.ValidationError({"legal_name": [_("A merchant must give its legal name.")]})
        return attrs


class NeutralCreateInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    role = serializers.ChoiceField(choices=[Role.MEDIATOR, Role.ARBITRATOR, Role.OPERATOR])
    display_name = serializers.CharField(max_length=120)
    country = CountryField()
    time_zone = TimeZoneField()
    language = language_field(default="en")


class TokenInput(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class TokenOutput(serializers.Serializer):
    token = serializers.CharField()


class OrganisationOutput(serializers.ModelSerializer):
    country = CountryField()

    class Meta:
        model = MerchantOrganisation
        fields = ["id", "legal_name", "country", "time_zone"]


class MerchantOutput(serializers.ModelSerializer):
    country = CountryField()

    class Meta:
        model = MerchantOrganisation
        fields = ["id", "legal_name", "country"]


class UserOutput(serializers.ModelSerializer):
    country = CountryField()
    organisation = OrganisationOutput(allow_null=True)

    class Meta:
        model = User
        fields = ["id", "email", "display_name", "role", "country", "time_zone", "language", "organisation"]
