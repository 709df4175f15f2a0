"""Print the jurisdiction engine's rule sets as a table a lawyer can read (``--format markdown|json``)."""

import json

from django.core.management.base import BaseCommand
from django.utils import translation

from cases.jurisdiction.engine import describe_rules


class Command(BaseCommand):
    help = "Print every rule of the jurisdiction engine: identifier, citation, condition, conclusion, statement."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")
        parser.add_argument("--language", default="en", help="language of the statements (en, zh-hans)")

    def handle(self, *args, **opts):
        with translation.override(opts["language"]):
            rulesets = describe_rules()
        if opts["format"] == "json":
            self.stdout.write(json.dumps(rulesets, ensure_ascii=False, indent=2))
            return
        for ruleset in rulesets:
            self.stdout.write(f"\n## {ruleset['name']} (`{ruleset['ruleset']}`, version {ruleset['version']})\n")
            self.stdout.write("| rule | question | when | then | citation | statement |")
            self.stdout.write("|---|---|---|---|---|---|")
            for rule in ruleset["rules"]:
                then = rule["then"] + "".join(f"; also {a}" for a in rule["also"])
                if rule["protects"]:
                    then += f"; keeps the mandatory protection of {rule['protects']}"
                cells = [rule["id"], rule["question"], rule["when"], then, rule["citation"], rule["statement"]]
                self.stdout.write("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
