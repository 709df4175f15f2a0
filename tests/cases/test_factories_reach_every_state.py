"""Every state of the lifecycle is reachable through the services, and each path leaves a sound chain."""

import pytest

from cases.events import chain_verify
from tests.factories import ALL_STATES, case_in


@pytest.mark.parametrize("state", ALL_STATES)
def test_every_state_is_reachable_and_recorded(cast, state):
    case = case_in(state, cast)
    case.refresh_from_db()
    assert case.status == state
    report = chain_verify(case)
    assert report.ok, report
    assert report.count == case.events.count() >= 1


def test_settlement_in_negotiation_on_the_merchants_offer(cast):
    case = case_in("settled", cast, merchant_offer=True)
    assert case.outcome["amount"] == {"amount": "40.00", "currency": "EUR"}
    assert case.outcome["source"] == "offer"
