"""Money: a Decimal amount with an ISO 4217 code, valid only to that currency's minor units.

Currency data comes from the ``iso4217`` package (the ISO 4217 list published by SIX); codes without
minor units (funds, precious metals, XXX/XTS) are not currencies a consumer pays in and are refused.
"""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache

from django.utils.translation import gettext as _
from iso4217 import Currency

MAX_AMOUNT = Decimal("999999999999.9999")


@cache
def minor_units() -> dict[str, int]:
    return {c.code: c.exponent for c in Currency if c.exponent is not None}


def currency_codes() -> list[str]:
    return sorted(minor_units())


class MoneyError(ValueError):
    """Invalid money; ``field`` is ``amount`` or ``currency``."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def as_dict(self) -> dict:
        return {"amount": format_amount(self.amount, self.currency), "currency": self.currency}


def format_amount(amount: Decimal, currency: str) -> str:
    """The amount as a string with exactly the currency's minor units ("12.50", "1000" for JPY)."""
    exponent = minor_units().get(currency, 2)
    return str(Decimal(amount).quantize(Decimal(1).scaleb(-exponent)))


def parse_money(amount, currency) -> Money:
    """Validate and return Money; raise MoneyError naming the bad part."""
    currency = (currency or "").strip().upper() if isinstance(currency, str) else currency
    if not isinstance(currency, str) or currency not in minor_units():
        raise MoneyError("currency", _("“%(code)s” is not an ISO 4217 currency code.") % {"code": currency})
    if isinstance(amount, float):
        raise MoneyError("amount", _("Give the amount as a decimal string, not a floating-point number."))
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError):
        raise MoneyError("amount", _("Enter a decimal amount such as “12.50”.")) from None
    if not value.is_finite():
        raise MoneyError("amount", _("Enter a decimal amount such as “12.50”."))
    if value <= 0:
        raise MoneyError("amount", _("The amount must be greater than zero."))
    if value > MAX_AMOUNT:
        raise MoneyError("amount", _("The amount is too large."))
    exponent = minor_units()[currency]
    if -value.as_tuple().exponent > exponent and value != value.quantize(Decimal(1).scaleb(-exponent)):
        raise MoneyError(
            "amount",
            _("%(code)s has %(n)d decimal places; this amount has more.") % {"code": currency, "n": exponent},
        )
    return Money(value.quantize(Decimal(1).scaleb(-exponent)), currency)
