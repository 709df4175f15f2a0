"""Neutrals assigned before appointments were recorded get one, so they can disclose and be challenged."""

import datetime as dt

from django.conf import settings
from django.db import migrations


def record(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    Appointment = apps.get_model("mediation", "Appointment")
    days = dt.timedelta(days=getattr(settings, "ODR_CHALLENGE_DAYS", 5))
    for role, state in (("mediator", "mediation"), ("arbitrator", "arbitration")):
        for case in Case.objects.filter(status=state, **{f"{role}__isnull": False}):
            if Appointment.objects.filter(case=case, role=role, status="active").exists():
                continue
            Appointment.objects.create(
                case=case,
                neutral_id=getattr(case, f"{role}_id"),
                role=role,
                automatic=False,
                appointed_at=case.updated_at,
                challenge_until=case.updated_at + days,
            )


class Migration(migrations.Migration):
    dependencies = [("mediation", "0003_appointments"), ("cases", "0006_evidence")]

    operations = [migrations.RunPython(record, migrations.RunPython.noop)]
