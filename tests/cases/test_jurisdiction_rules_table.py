"""The rule table a lawyer reads (``manage.py jurisdiction_rules``) lists every rule the engine applies."""

import io
import json

from django.core.management import call_command

from cases.jurisdiction import RULES, RULESETS


def test_the_markdown_table_lists_every_rule_with_its_citation():
    out = io.StringIO()
    call_command("jurisdiction_rules", stdout=out)
    table = out.getvalue()
    for ruleset in RULESETS:
        assert f"(`{ruleset.id}`, version {ruleset.version})" in table
    for rule in RULES.values():
        if rule.id == "odr.no_objection":
            continue  # the platform's own rule, not part of a rule set
        assert f"| {rule.id} | {rule.question} |" in table
        assert rule.citation.replace("|", "\\|") in table


def test_the_json_table_in_chinese_keeps_identifiers_and_translates_statements():
    out = io.StringIO()
    call_command("jurisdiction_rules", format="json", language="zh-hans", stdout=out)
    rulesets = json.loads(out.getvalue())
    assert [r["ruleset"] for r in rulesets] == ["eu", "cn", "uk", "us", "general"]
    cn = next(r for r in rulesets if r["ruleset"] == "cn")
    art42 = next(rule for rule in cn["rules"] if rule["id"] == "cn.lal.42")
    assert art42["statement"] == "消费者合同适用消费者经常居所地%(consumer)s的法律。"
    assert "art. 42" in art42["citation"] and art42["when"] == "always"
