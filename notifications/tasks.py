"""Celery tasks of notifications: thin wrappers over services; idempotent through the delivery rows."""

import time

from celery import shared_task

from . import services

IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(name="notifications.deliver", time_limit=60, soft_time_limit=50, **IDEMPOTENT)
def deliver(delivery_id: int) -> str:
    return services.delivery_perform(delivery_id=delivery_id)


@shared_task(name="notifications.deliver_many", time_limit=300, soft_time_limit=280, **IDEMPOTENT)
def deliver_many(delivery_ids: list[int]) -> dict:
    """Several deliveries in one task (a batch's e-mails: one message on the broker instead of one each);
    each is its own attempt, as ``deliver`` makes it. Past ``MANY_BUDGET_SECONDS`` (a slow mail server) the
    rest go to a new task, well before the time limit could cut a send short."""
    started = time.monotonic()
    done: dict[str, int] = {}
    for i, delivery_id in enumerate(delivery_ids):
        if time.monotonic() - started > MANY_BUDGET_SECONDS:
            deliver_many.delay(delivery_ids[i:])
            done["requeued"] = len(delivery_ids) - i
            break
        outcome = services.delivery_perform(delivery_id=delivery_id)
        done[outcome] = done.get(outcome, 0) + 1
    return done


MANY_BUDGET_SECONDS = 120


@shared_task(name="notifications.retry_sweep", time_limit=120, soft_time_limit=100, **IDEMPOTENT)
def retry_sweep() -> int:
    return services.delivery_retry_sweep()
