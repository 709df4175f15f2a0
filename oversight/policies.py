"""Who may do what on the operator's side. Sanctions: operators apply and lift them; a merchant's own
users may read theirs; the compliance register is public."""

from django.utils.translation import gettext_lazy as _

from odr.errors import Forbidden


def _operator(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and user.role == "operator")


def sanction_write_refusal(user):
    return None if _operator(user) else Forbidden(_("Only operators apply or lift sanctions."))


def can_read_sanctions(user, merchant) -> bool:
    if _operator(user):
        return True
    return bool(
        user is not None and user.is_authenticated and user.role == "merchant" and user.organisation_id == merchant.pk
    )


def can_oversee(user) -> bool:
    return _operator(user)


def alert_refusal(user):
    return None if _operator(user) else Forbidden(_("Only operators handle risk alerts."))


def stats_refusal(user):
    return None if _operator(user) else Forbidden(_("Only operators see the statistics."))
