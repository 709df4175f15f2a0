"""Translated names of actions, events, positions and decisions, for the web pages and e-mails."""

from django.utils.translation import gettext_lazy as _

ACTION_LABELS = {
    "submit": _("File the complaint"),
    "withdraw": _("Withdraw the complaint"),
    "respond": _("Respond to the complaint"),
    "declare_default": _("Declare the merchant in default"),
    "accept_jurisdiction": _("Accept the proposed forum and law"),
    "contest_jurisdiction": _("Contest the proposed forum and law"),
    "decide_jurisdiction": _("Decide the forum and applicable law"),
    "request_mediation": _("Ask for mediation"),
    "accept_settlement": _("Accept the other party's offer"),
    "escalate": _("Send to arbitration"),
    "assign_mediator": _("Assign a mediator"),
    "assign_arbitrator": _("Assign an arbitrator"),
    "challenge_neutral": _("Challenge the neutral"),
    "issue_award": _("Issue the award"),
    "report_compliance": _("Report that the outcome was carried out"),
    "confirm_compliance": _("Confirm the outcome was carried out"),
    "dispute_compliance": _("Dispute that the outcome was carried out"),
    "reject": _("Reject the complaint"),
    "close": _("Close the case"),
}

EVENT_LABELS = {
    "created": _("Complaint written"),
    "submit": _("Complaint filed"),
    "withdraw": _("Complaint withdrawn"),
    "respond": _("Merchant responded"),
    "declare_default": _("Merchant declared in default"),
    "accept_jurisdiction": _("Forum and law accepted"),
    "contest_jurisdiction": _("Forum and law contested"),
    "decide_jurisdiction": _("Forum and law decided"),
    "request_mediation": _("Mediation requested"),
    "accept_settlement": _("Settlement accepted"),
    "escalate": _("Sent to arbitration"),
    "assign_mediator": _("Mediator assigned"),
    "assign_arbitrator": _("Arbitrator assigned"),
    "challenge_neutral": _("Neutral challenged"),
    "issue_award": _("Award issued"),
    "report_compliance": _("Performance reported"),
    "confirm_compliance": _("Performance confirmed"),
    "dispute_compliance": _("Performance disputed"),
    "reject": _("Complaint rejected"),
    "close": _("Case closed"),
    "deadline_fired": _("A deadline passed"),
    "evidence_added": _("Evidence added"),
    "evidence_integrity_failure": _("A stored file failed its integrity check"),
    "party_data_erased": _("Personal data erased"),
}

FIELD_LABELS = {
    "reason": _("Reason"),
    "position": _("Your position"),
    "statement": _("Statement"),
    "offer": _("Offer"),
    "forum": _("Forum"),
    "applicable_law": _("Applicable law"),
    "user": _("Person"),
    "decision": _("Decision"),
    "amount": _("Amount"),
    "remedy": _("Remedy"),
    "reasons": _("Reasons"),
    "reference": _("Payment or shipment reference"),
    "odr_agreement": _("I agree that this platform's procedure decides the dispute if we do not settle"),
    "chosen_law": _("Law chosen in your terms of sale"),
    "chosen_forum": _("Courts chosen in your terms of sale"),
    "choice_made_after_dispute": _("These choices were agreed after the dispute arose"),
    "forum_clause_exclusive": _("What the forum clause says"),
}

CHOICE_LABELS = {
    "position": {"accept": _("Accept the claim"), "offer": _("Make an offer"), "contest": _("Contest the claim")},
    "decision": {"granted": _("Granted"), "partly_granted": _("Partly granted"), "dismissed": _("Dismissed")},
    "forum_clause_exclusive": {
        "true": _("Only the chosen courts"),
        "false": _("The chosen courts as well as the others"),
    },
}

PARTY_LABELS = {
    "consumer": _("Consumer"),
    "merchant": _("Merchant"),
    "parties": _("Either party"),
    "arbitrator": _("Arbitrator"),
}
