"""The Celery app the celery-exporter tests and benchmark run: tasks that succeed, fail, retry
and sleep. Configured from the environment so one file serves every test:

    CELERY_BROKER_URL             redis://127.0.0.1:PORT/DB (required)
    CELERY_GLOBAL_KEYPREFIX       kombu transport option global_keyprefix (optional)
    CELERY_SEND_SENT_EVENT        "0" to not send task-sent events (default: send them)
    CELERY_EVENT_QUEUE_TTL        event receivers' queue message TTL on RabbitMQ in seconds, ""
                                  for none (Flower in the benchmark; Celery's default is 5)
"""

import os
import time

from celery import Celery
from celery.exceptions import Reject

app = Celery("exporter_test", broker=os.environ["CELERY_BROKER_URL"])

transport_options = {}
if os.environ.get("CELERY_GLOBAL_KEYPREFIX"):
    transport_options["global_keyprefix"] = os.environ["CELERY_GLOBAL_KEYPREFIX"]

app.conf.update(
    broker_transport_options=transport_options,
    broker_connection_retry_on_startup=True,
    task_send_sent_event=os.environ.get("CELERY_SEND_SENT_EVENT", "1") != "0",
    task_serializer="json",
    accept_content=["json"],
    result_backend=None,
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    # Prefetch one at a time so "queued" and "unacked" are what the tests sent.
    worker_prefetch_multiplier=1,
)
if "CELERY_EVENT_QUEUE_TTL" in os.environ:
    ttl = os.environ["CELERY_EVENT_QUEUE_TTL"]
    app.conf.event_queue_ttl = float(ttl) if ttl else None


@app.task(name="tests.add")
def add(x, y):
    return x + y


@app.task(name="tests.fail")
def fail(message):
    raise ValueError(message)


@app.task(name="tests.flaky", bind=True, max_retries=3)
def flaky(self, retries_wanted=1):
    """Retries `retries_wanted` times (immediately), then succeeds."""
    if self.request.retries < retries_wanted:
        raise self.retry(countdown=0)
    return self.request.retries


@app.task(name="tests.sleep")
def sleep(seconds):
    time.sleep(seconds)
    return seconds


@app.task(name="tests.reject", bind=True, acks_late=True)
def reject(self):
    """Rejected by the worker without requeueing: a task-rejected event."""
    raise Reject("rejected by the test", requeue=False)
