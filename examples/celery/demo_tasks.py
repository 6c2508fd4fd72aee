"""Demo Celery app for the local stack and the compose file: tasks that succeed, fail, retry and
take a while, so every panel of the Celery dashboard has data.

    celery -A demo_tasks worker -E --loglevel=INFO       # a worker that sends task events
    python demo_producer.py                               # a producer sending a steady mix
"""

import os
import random
import time

from celery import Celery

app = Celery("demo_tasks", broker=os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_send_sent_event=True,   # PENDING counts need task-sent events from the producer
    worker_send_task_events=True,
    task_acks_late=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="demo.forecast")
def forecast(weeks):
    """A unit of real work: a short Monte Carlo of `weeks` samples."""
    total = sum(random.random() for _ in range(weeks * 1000))
    time.sleep(random.uniform(0.05, 0.4))
    return total / weeks


@app.task(name="demo.flaky")
def flaky(failure_rate):
    """Fails with the given probability, to drive the failure panels and alert."""
    time.sleep(random.uniform(0.01, 0.1))
    if random.random() < failure_rate:
        raise RuntimeError("flaky task failed")
    return "ok"


@app.task(name="demo.retrying", bind=True, max_retries=2, default_retry_delay=1)
def retrying(self):
    """Retries twice before it succeeds."""
    if self.request.retries < 2:
        raise self.retry(exc=TimeoutError("upstream timed out"))
    return "ok after retries"
