"""The jurisdiction and choice-of-law engine: which courts may hear a consumer's complaint, and which
country's law governs the contract, each conclusion with the rule behind it.

Rule sets live one per module (``eu``, ``cn``, ``uk``, ``us``, ``general``), written as data in the
vocabulary of ``rules``; ``engine`` applies them. Not legal advice: a proposal the parties may contest.
"""

from .engine import RULES, RULESETS, Answer, evaluate, localise, ruleset_for
from .facts import Contract, Facts, Indicator

__all__ = ["RULES", "RULESETS", "Answer", "Contract", "Facts", "Indicator", "evaluate", "localise", "ruleset_for"]
