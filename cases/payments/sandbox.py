"""The sandbox provider: answers like a real one, moves no money, keeps no state of its own.

References are derived from the idempotency key, so asking twice gives the same answer (as a real
provider's idempotency does) and nothing lives in a process's memory. Amounts above
``ODR_PAYMENT_SANDBOX_LIMIT`` (in the currency's major unit) are declined, so a declined payment can be
tried in the demo and the tests.
"""

import hashlib
from decimal import Decimal

from django.conf import settings

from . import DECLINED, SUCCEEDED, PaymentProvider, PaymentResult


def _reference(kind: str, key: str) -> str:
    return f"sbx_{kind}_" + hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:20]


class SandboxProvider(PaymentProvider):
    name = "sandbox"

    def _over_limit(self, amount) -> bool:
        return amount.amount > Decimal(settings.ODR_PAYMENT_SANDBOX_LIMIT)

    def refund(self, *, key, amount, payee, description):
        if self._over_limit(amount):
            return PaymentResult(_reference("re", key), DECLINED, "amount over the sandbox limit")
        return PaymentResult(_reference("re", key), SUCCEEDED)

    def escrow_hold(self, *, key, amount, payer, description):
        if self._over_limit(amount):
            return PaymentResult(_reference("eh", key), DECLINED, "amount over the sandbox limit")
        return PaymentResult(_reference("eh", key), SUCCEEDED)

    def escrow_release(self, *, key, hold_reference, to):
        return PaymentResult(_reference("er", key), SUCCEEDED)
