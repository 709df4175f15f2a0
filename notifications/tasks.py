"""Celery tasks of notifications: thin wrappers over services; idempotent through the delivery rows."""

from celery import shared_task

from . import services

IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="notifications.deliver", time_limit=60, soft_time_limit=50, **IDEMPOTENT)
def deliver(delivery_id: int) -> str:
    return services.delivery_perform(delivery_id=delivery_id)


@shared_task(name="notifications.retry_sweep", time_limit=120, soft_time_limit=100, **IDEMPOTENT)
def retry_sweep() -> int:
    return services.delivery_retry_sweep()
