"""The Celery app the celery-exporter tests and benchmark run: tasks that succeed, fail, retry
and sleep. Configured from the environment so one file serves every test:

    CELERY_BROKER_URL             redis://127.0.0.1:PORT/DB (required)
    CELERY_GLOBAL_KEYPREFIX       kombu transport option global_keyprefix (optional)
    CELERY_SEND_SENT_EVENT        "0" to not send task-sent events (default: send them)
"""

import os
import time

from celery import Celery

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
