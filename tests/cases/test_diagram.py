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
