"""The payment provider interface: refunds and escrow, so that a real provider can be plugged in.

``ODR_PAYMENT_PROVIDER`` names the class (default: the sandbox, which the tests and the demo use). A
provider is called *outside* the database transaction with an idempotency key that is the platform's
own ``Payment`` row id, written (pending) before the call: a crash between the call and the answer
leaves a pending row that ``payment_retry_sweep`` asks again with the same key, and a provider that
honours idempotency keys (every serious one does) never pays twice.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from ..money import Money

SUCCEEDED, DECLINED = "succeeded", "declined"


@dataclass(frozen=True)
class PaymentResult:
    """What the provider answered: its own reference, ``succeeded`` or ``declined``, and why."""

    reference: str
    status: str
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == SUCCEEDED


class PaymentProvider(ABC):
    """What the platform needs of a payment provider. Every call is idempotent on ``key``."""

    name = "provider"

    @abstractmethod
    def refund(self, *, key: str, amount: Money, payee: str, description: str) -> PaymentResult:
        """Pay ``amount`` back to the consumer (``payee``: an opaque account reference)."""

    @abstractmethod
    def escrow_hold(self, *, key: str, amount: Money, payer: str, description: str) -> PaymentResult:
        """Take ``amount`` from the merchant into escrow until it is released."""

    @abstractmethod
    def escrow_release(self, *, key: str, hold_reference: str, to: str) -> PaymentResult:
        """Release a hold to ``to`` (``"consumer"`` or ``"merchant"``)."""


def provider() -> PaymentProvider:
    return import_string(settings.ODR_PAYMENT_PROVIDER)()
