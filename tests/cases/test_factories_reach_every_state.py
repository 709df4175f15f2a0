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


def test_a_case_not_complied_with_was_declared_so_by_the_clock(cast):
    """The factories' way to ``non_compliant`` is the sweep's: the system declares it, nobody else."""
    case = case_in("non_compliant", cast)
    assert case.outcome["compliance"] == "non_compliant"
    assert case.outcome["non_compliant_at"]
    last = case.events.order_by("-seq").first()
    assert (last.type, last.actor_id, last.actor_role) == ("declare_non_compliance", None, "system")
    assert (last.payload["from"], last.payload["to"]) == ("settled", "non_compliant")
