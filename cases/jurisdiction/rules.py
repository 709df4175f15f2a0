"""The vocabulary the rule sets are written in: conditions, conclusions, rules and rule sets.

A rule is data: an identifier, a citation, a one-line statement (translated; it may name the countries
of the facts as ``%(consumer)s``, ``%(merchant)s``, ``%(chosen_law)s``, ``%(chosen_forum)s``, and the
directing indicators as ``%(indicators)s``), the condition under which it applies and what it concludes.
Conditions are named and combine with ``&``, ``|`` and ``~`` so that the rule table reads as it is meant.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .facts import Facts


@dataclass(frozen=True)
class Condition:
    """A named test of the facts; ``a & b``, ``a | b`` and ``~a`` build new ones with readable names."""

    name: str
    test: Callable[["Facts"], bool] = field(compare=False, repr=False)

    def __call__(self, facts: "Facts") -> bool:
        return bool(self.test(facts))

    def __and__(self, other: "Condition") -> "Condition":
        return Condition(f"{self.name} and {other.name}", lambda f: self(f) and other(f))

    def __or__(self, other: "Condition") -> "Condition":
        return Condition(f"({self.name} or {other.name})", lambda f: self(f) or other(f))

    def __invert__(self) -> "Condition":
        return Condition(f"not {self.name}", lambda f: not self(f))

    def __str__(self):
        return self.name


@dataclass(frozen=True)
class Target:
    """Where a conclusion points: one of the facts' countries, or the platform's own procedure."""

    name: str
    resolve: Callable[["Facts"], str | None] = field(compare=False, repr=False)

    def __call__(self, facts: "Facts") -> str | None:
        return self.resolve(facts)

    def __str__(self):
        return self.name


CONSUMER = Target("the consumer's country", lambda f: f.consumer_country)
MERCHANT = Target("the merchant's country", lambda f: f.merchant_country)
CHOSEN_LAW = Target("the chosen law", lambda f: f.chosen_law)
CHOSEN_FORUM = Target("the chosen forum", lambda f: f.chosen_forum)
ODR = Target("this platform's procedure", lambda f: "odr")

FORUM, LAW, NOTE = "forum", "law", "note"


@dataclass(frozen=True)
class Rule:
    """One rule of law as the engine applies it.

    ``question`` is ``forum`` or ``law`` (the first rule of a list whose condition holds decides) or
    ``note`` (every note whose condition holds is added to the reasons). ``then`` is the conclusion;
    ``also`` lists further forums open to the consumer; ``protect`` names the country whose mandatory
    consumer protection survives a chosen law.
    """

    id: str
    citation: str
    statement: str  # a lazy translation
    when: Condition
    question: str
    then: Target | None = None
    also: tuple[Target, ...] = ()
    protect: Target | None = None


def forum(id, citation, statement, *, when, then, also=()) -> Rule:
    return Rule(id=id, citation=citation, statement=statement, when=when, question=FORUM, then=then, also=also)


def law(id, citation, statement, *, when, then, protect=None) -> Rule:
    return Rule(id=id, citation=citation, statement=statement, when=when, question=LAW, then=then, protect=protect)


def note(id, citation, statement, *, when) -> Rule:
    return Rule(id=id, citation=citation, statement=statement, when=when, question=NOTE)


@dataclass(frozen=True)
class RuleSet:
    """The rules of one legal system, applied when the consumer lives where ``applies_to`` says."""

    id: str
    name: str  # a lazy translation
    version: str
    applies_to: Callable[[str], bool]
    forum: tuple[Rule, ...]
    law: tuple[Rule, ...]
    notes: tuple[Rule, ...] = ()
    #: Shown with every answer of this rule set: what it does not cover.
    caveat: str = ""

    def __post_init__(self):
        for question, rules in ((FORUM, self.forum), (LAW, self.law)):
            assert rules and rules[-1].when is ALWAYS, f"{self.id}: the last {question} rule must always apply"
            assert all(r.question == question for r in rules), f"{self.id}: a rule in the wrong list"
        assert all(r.question == NOTE for r in self.notes), f"{self.id}: a note that is not a note"

    def rules(self):
        return (*self.forum, *self.law, *self.notes)


ALWAYS = Condition("always", lambda f: True)
