"""Celery tasks of the cases app: thin wrappers over services."""

from celery import shared_task

from .deadlines import deadline_sweep as _deadline_sweep


@shared_task(
    name="cases.deadline_sweep", acks_late=True, reject_on_worker_lost=True, time_limit=300, soft_time_limit=240
)
def deadline_sweep() -> int:
    """Fire the due deadlines (idempotent: each row is claimed once under SKIP LOCKED and marked fired)."""
    return _deadline_sweep()
