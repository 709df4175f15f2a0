"""``manage.py state_diagram``: print the case lifecycle as a Mermaid diagram (pasted into the README)."""

from django.core.management.base import BaseCommand

from cases.diagram import mermaid


class Command(BaseCommand):
    help = "Print the case state machine as a Mermaid stateDiagram generated from the transitions."

    def handle(self, *args, **opts):
        self.stdout.write(mermaid())
