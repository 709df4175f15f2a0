"""Celery tasks of the cases app: thin wrappers over services."""

from celery import shared_task

from .deadlines import sweep_all


@shared_task(
    name="cases.deadline_sweep", acks_late=True, reject_on_worker_lost=True, time_limit=300, soft_time_limit=240
)
def deadline_sweep() -> dict:
    """Send due reminders and fire due deadlines (idempotent: rows claimed under SKIP LOCKED, marked once)."""
    return sweep_all()
