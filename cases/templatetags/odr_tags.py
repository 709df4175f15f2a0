"""Template helpers: times in the viewer's zone with the offset, labels of events and actions."""

import datetime as dt

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django_countries import countries

from cases.labels import ACTION_LABELS, CHOICE_LABELS, EVENT_LABELS, PARTY_LABELS
from cases.models import DeadlineKind, JurisdictionStatus
from cases.money import format_amount

register = template.Library()


def _local_text(value) -> str:
    local = timezone.localtime(value)
    offset = local.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{local.strftime('%Y-%m-%d %H:%M')} ({offset})"


@register.filter
def local_time_text(value):
    """Plain text "2026-11-27 18:34 (UTC+01:00)" in the active time zone (e-mails)."""
    return _local_text(value) if isinstance(value, dt.datetime) else ""


@register.filter
def local_time(value):
    """``<time>`` in the active (viewer's) time zone: "2026-11-27 18:34 (UTC+01:00)"."""
    if not isinstance(value, dt.datetime):
        return ""
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), _local_text(value))


@register.filter
def event_label(event_type):
    return EVENT_LABELS.get(event_type, event_type)


@register.filter
def action_label(action):
    return ACTION_LABELS.get(action, action)


@register.simple_tag
def money(amount, currency):
    if amount in (None, ""):
        return ""
    return f"{format_amount(amount, currency)} {currency}"


@register.filter
def dict_get(mapping, key):
    """``mapping[key]`` or "" (QueryDicts give the last value)."""
    if not mapping:
        return ""
    value = mapping.get(key, "")
    return "" if value is None else value


@register.filter
def startswith(value, prefix):
    return str(value).startswith(f"{prefix}.")


@register.filter
def choice_label(value, field):
    """The translated label of a stored choice: ``{{ p.position|choice_label:"position" }}``."""
    if field == "jurisdiction":
        return JurisdictionStatus(value).label if value in JurisdictionStatus.values else value
    if field == "remedy":
        from cases.models import Remedy

        return Remedy(value).label if value in Remedy.values else value
    if field in ("status", "category"):
        from cases.models import Category, Status

        choices = Status if field == "status" else Category
        return choices(value).label if value in choices.values else value
    return CHOICE_LABELS.get(field, {}).get(value, value)


@register.filter
def party_label(party):
    """Who must act: a party, both parties or the arbitrator, in the reader's language."""
    return PARTY_LABELS.get(party, party)


@register.filter
def deadline_kind(kind):
    return DeadlineKind(kind).label if kind in DeadlineKind.values else kind


@register.filter
def country_name(code):
    return countries.name(code) if code else ""


@register.filter
def forum_label(forum):
    """The forum: this platform's own online procedure ("odr") or a country's courts."""
    if forum == "odr":
        return _("This platform's online procedure")
    return countries.name(forum) if forum else "–"


@register.filter
def role_label(role):
    """A role's translated name; ``platform`` for what the platform decided itself."""
    from accounts.models import Role

    if role == "platform":
        return _("The platform")
    return Role(role).label if role in Role.values else role


@register.filter
def sanction_label(level):
    from oversight.models import SanctionLevel

    return SanctionLevel(level).label if level in SanctionLevel.values else level


@register.filter
def compliance_label(value):
    from cases.models import ComplianceStatus

    return ComplianceStatus(value).label if value in ComplianceStatus.values else value


@register.filter
def iso_time(value):
    """An ISO 8601 string from a JSON payload as a ``<time>`` in the viewer's zone."""
    if isinstance(value, str) and value:
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    return local_time(value)


@register.filter
def percent(value):
    """A rate (0..1) as a percentage with one decimal, or a dash when there is none."""
    if value is None or value == "":
        return "–"
    return f"{float(value) * 100:.1f} %"


@register.filter
def figure(value):
    """A median or percentile: whole numbers without decimals, a dash when there is none."""
    if value is None:
        return "–"
    return f"{value:g}" if isinstance(value, float) else value
