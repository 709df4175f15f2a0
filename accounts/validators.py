"""Validators for the facts every user and organisation carries: time zone, language, country."""

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django_countries import countries


@cache
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(
            _("“%(value)s” is not an IANA time zone."), code="invalid_time_zone", params={"value": value}
        )


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def validate_language(value: str) -> None:
    if value not in language_codes():
        raise ValidationError(
            _("“%(value)s” is not a supported language (%(supported)s)."),
            code="invalid_language",
            params={"value": value, "supported": ", ".join(language_codes())},
        )


def validate_country(value: str) -> None:
    if value not in countries:
        raise ValidationError(
            _("“%(value)s” is not an ISO 3166-1 alpha-2 country code."), code="invalid_country", params={"value": value}
        )
