"""Records every pub/sub message on a Redis broker as JSON lines {"channel": ..., "data": ...}.

How exporters/celery/tests/fixtures/celery-5.4.0-events.jsonl was made: start a redis-server,
run this for ~25 s, meanwhile start `celery -A app worker -E -P prefork -c 2 -n w1@%h` (this
directory on PYTHONPATH), send 3 tests.add, 2 tests.fail, 1 tests.flaky(1) and one
tests.sleep(0.5) at priority 6 from a client, then stop the worker with SIGTERM.

    python capture_events.py PORT OUT.jsonl SECONDS
"""

import json
import sys
import time

import redis

r = redis.Redis(port=int(sys.argv[1]))
p = r.pubsub()
p.psubscribe("*")
end = time.time() + float(sys.argv[3])
with open(sys.argv[2], "w") as out:
    while time.time() < end:
        m = p.get_message(timeout=0.5)
        if m and m["type"] == "pmessage":
            out.write(json.dumps({"channel": m["channel"].decode(),
                                  "data": m["data"].decode("utf-8", "replace")}) + "\n")
            out.flush()
