"""The engine: pick the consumer's rule set, run its forum and law rules in order, gather the notes.

``evaluate(facts)`` returns an :class:`Answer`; ``Answer.record()`` is the form stored on a case and on
the event log (English text beside stable rule identifiers), and ``localise(record)`` renders a stored
record's reasons in the active language, so each reader sees them in their own.
"""

from dataclasses import dataclass, field

from babel.lists import format_list
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import to_locale
from django_countries import countries

from . import cn, eu, general, uk, us
from .common import NO_OBJECTION, PROTECTION_RETAINED
from .facts import Facts, Indicator
from .rules import FORUM, LAW, NOTE, Rule, RuleSet

#: Tried in order; the general rule set takes everyone the others do not.
RULESETS: tuple[RuleSet, ...] = (eu.RULESET, cn.RULESET, uk.RULESET, us.RULESET, general.RULESET)


def _registry() -> dict[str, Rule]:
    rules: dict[str, Rule] = {NO_OBJECTION.id: NO_OBJECTION}
    for ruleset in RULESETS:
        for rule in ruleset.rules():
            assert rules.setdefault(rule.id, rule) is rule, f"two rules are called {rule.id}"
    return rules


RULES = _registry()


def ruleset_for(consumer_country: str) -> RuleSet:
    return next(r for r in RULESETS if r.applies_to(consumer_country))


@dataclass
class Answer:
    facts: Facts
    ruleset: RuleSet
    forum: str
    forum_options: list[str]
    applicable_law: str
    reasons: list[Rule] = field(default_factory=list)
    #: (rule, country) for each country whose mandatory consumer protection survives the chosen law.
    protections: list[tuple[Rule, str]] = field(default_factory=list)

    def record(self) -> dict:
        """The stored form: rule identifiers and citations, with the text in English for the record."""
        with translation.override("en"):
            return {
                "forum": self.forum,
                "forum_options": self.forum_options,
                "applicable_law": self.applicable_law,
                "reasons": [
                    {"rule": r.id, "kind": r.question, "citation": r.citation, "text": statement(r, self.facts)}
                    for r in self.reasons
                ],
                "mandatory_protection": [
                    {"country": country, "rule": r.id, "citation": r.citation, "text": protection_text(country)}
                    for r, country in self.protections
                ],
                "ruleset": self.ruleset.id,
                "ruleset_version": self.ruleset.version,
                "facts": self.facts.as_dict(),
            }


def evaluate(facts: Facts) -> Answer:
    ruleset = ruleset_for(facts.consumer_country)
    forum_rule = _first(ruleset.forum, facts)
    law_rule = _first(ruleset.law, facts)
    forum = forum_rule.then(facts)
    options = [forum]
    for target in forum_rule.also:
        place = target(facts)
        if place and place not in options:
            options.append(place)
    law = law_rule.then(facts)
    protections = []
    if law_rule.protect is not None:
        protected = law_rule.protect(facts)
        if protected and protected != law:
            protections.append((law_rule, protected))
    notes = [rule for rule in ruleset.notes if rule.when(facts)]
    return Answer(
        facts=facts,
        ruleset=ruleset,
        forum=forum,
        forum_options=options,
        applicable_law=law,
        reasons=[forum_rule, law_rule, *notes],
        protections=protections,
    )


def _first(rules, facts) -> Rule:
    return next(rule for rule in rules if rule.when(facts))


# --- text in the reader's language --------------------------------------------------------------
def country_name(code: str | None) -> str:
    if not code:
        return ""
    if code == "odr":
        return _("this platform's online procedure")
    return str(countries.name(code)) or code


def _names(facts: Facts) -> dict:
    labels = dict(Indicator.choices)
    indicators = [str(labels[i]) for i in facts.indicators if i in labels]
    locale = to_locale(translation.get_language() or "en")
    try:
        joined = format_list(indicators, locale=locale) if indicators else ""
    except (ValueError, LookupError):
        joined = ", ".join(indicators)
    return {
        "consumer": country_name(facts.consumer_country),
        "merchant": country_name(facts.merchant_country),
        "chosen_law": country_name(facts.chosen_law),
        "chosen_forum": country_name(facts.chosen_forum),
        "indicators": joined,
    }


def statement(rule: Rule, facts: Facts) -> str:
    return str(rule.statement) % _names(facts)


def protection_text(country: str) -> str:
    return str(PROTECTION_RETAINED) % {"consumer": country_name(country)}


def localise(record: dict) -> dict:
    """A stored record with its reasons rendered in the active language.

    Reasons from the engine are rendered again from their rule and the stored facts; others (a decision's
    reason, written by a person) keep their text.
    """
    if not record or "facts" not in record:
        return record
    facts = Facts.from_dict(record["facts"])
    protections = [{**p, "text": protection_text(p["country"])} for p in record.get("mandatory_protection", [])]
    ruleset = next((r for r in RULESETS if r.id == record.get("ruleset")), None)
    localised = {
        **record,
        "reasons": _localise_reasons(record.get("reasons", []), facts),
        "mandatory_protection": protections,
        "ruleset_name": str(ruleset.name) if ruleset else "",
        "caveat": str(ruleset.caveat) if ruleset and ruleset.caveat else "",
    }
    if record.get("proposal"):
        proposal = record["proposal"]
        localised["proposal"] = {**proposal, "reasons": _localise_reasons(proposal.get("reasons") or [], facts)}
    return localised


def _localise_reasons(reasons: list, facts: Facts) -> list:
    out = []
    for reason in reasons:
        rule = RULES.get(reason.get("rule"))
        out.append({**reason, "text": statement(rule, facts)} if rule else reason)
    return out


def describe_rules() -> list[dict]:
    """Every rule set as a readable table (``manage.py jurisdiction_rules``)."""
    return [
        {
            "ruleset": ruleset.id,
            "name": str(ruleset.name),
            "version": ruleset.version,
            "rules": [
                {
                    "id": rule.id,
                    "question": rule.question,
                    "citation": rule.citation,
                    "when": str(rule.when),
                    "then": str(rule.then) if rule.then else "",
                    "also": [str(t) for t in rule.also],
                    "protects": str(rule.protect) if rule.protect else "",
                    "statement": str(rule.statement),
                }
                for rule in ruleset.rules()
            ],
        }
        for ruleset in RULESETS
    ]


__all__ = ["Answer", "FORUM", "LAW", "NOTE", "RULES", "RULESETS", "evaluate", "localise", "ruleset_for"]
