"""The README's state diagram is the one generated from the transitions."""

from pathlib import Path

from cases.diagram import mermaid, transitions
from cases.models import ACTIONS, Status


def test_readme_diagram_matches_the_state_machine():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert mermaid() in readme, "run `manage.py state_diagram` and paste its output into the README"


def test_every_state_and_action_appears_in_the_machine():
    rows = transitions()
    states = {s for s, _t, _a in rows} | {t for _s, t, _a in rows}
    assert states == set(Status.values)
    assert {a for _s, _t, a in rows} == set(ACTIONS)


def test_the_compliance_arrows_are_the_documented_ones():
    """After the outcome: performance reported (late too), confirmed or disputed in place, the dispute
    decided either way, and the date to comply passing unperformed."""
    compliance = {"report_compliance", "confirm_compliance", "dispute_compliance", "decide_compliance"}
    compliance |= {"declare_non_compliance"}
    rows = {row for row in transitions() if row[2] in compliance}
    assert rows == {
        ("settled", "compliance", "report_compliance"),
        ("awarded", "compliance", "report_compliance"),
        ("non_compliant", "compliance", "report_compliance"),
        ("compliance", "closed", "confirm_compliance"),
        ("compliance", "compliance", "dispute_compliance"),
        ("compliance", "non_compliant", "decide_compliance"),
        ("compliance", "closed", "decide_compliance"),
        ("settled", "non_compliant", "declare_non_compliance"),
        ("awarded", "non_compliant", "declare_non_compliance"),
    }
    # A case not complied with leaves that state only by late performance or the operator closing it.
    assert {(t, a) for s, t, a in transitions() if s == "non_compliant"} == {
        ("compliance", "report_compliance"),
        ("closed", "close"),
    }
