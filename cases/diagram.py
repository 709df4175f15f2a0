"""The lifecycle as a Mermaid state diagram, generated from the Case transitions themselves."""

from django_fsm import State

from .models import Case


def transitions() -> list[tuple[str, str, str]]:
    """``(source, target, action)`` for every move of the state machine; same-state actions included."""
    rows = set()
    for t in Case._meta.get_field("status").get_all_transitions(Case):
        targets = t.target.allowed_states if isinstance(t.target, State) else [t.target or t.source]
        for target in targets:
            rows.add((str(t.source), str(target), t.name))
    return sorted(rows)


def mermaid() -> str:
    """A ``stateDiagram-v2`` with one arrow per (source, target), labelled with its actions."""
    edges: dict[tuple[str, str], list[str]] = {}
    for source, target, action in transitions():
        edges.setdefault((source, target), []).append(action)
    lines = ["stateDiagram-v2", "    [*] --> draft"]
    for (source, target), actions in sorted(edges.items()):
        lines.append(f"    {source} --> {target}: {', '.join(sorted(actions))}")
    for final in ("closed", "withdrawn", "rejected"):
        lines.append(f"    {final} --> [*]")
    return "\n".join(lines)
