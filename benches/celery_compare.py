#!/usr/bin/env python3
"""Event-consumption benchmark: our celery-exporter against Flower's /metrics, both subscribed to
the same Redis broker in the same run, plus our RSS with 100,000 tracked tasks.

The stream is real: the envelopes captured from a celery 5.4.0 prefork worker and client
(exporters/celery/tests/fixtures/celery-5.4.0-events.jsonl: task-sent singles and task.multi
batches), replayed with a fresh uuid per task so every replayed task is a new one.

Method. A redis-server on loopback (temp dir, persistence off, no pub/sub output-buffer limit so
the slow consumer is not disconnected). Ours (release build) and Flower (`celery flower`, same
venv as the tests) subscribe; both are then SIGSTOPped, the whole stream is PUBLISHed at full
speed (Redis queues it in each subscriber's output buffer), and both are SIGCONTed at the same
instant. Each one's rate is the events it consumed over the time it took, read from its own
counter (ours: celery_exporter_events_received_total; Flower: the sum of flower_events_total).
The stream holds task events only, which both count. Ours also reports events per CPU-second
(utime+stime): its rate on one core whatever else ran. Flower is given --window seconds at most.

RabbitMQ (--broker rabbitmq): the same stream on a rabbitmq-server (Debian's; temp dir, own node
name and ports, loopback), published with py-amqp from the venv (bodies as Celery sends them on
AMQP: raw JSON) to the `celeryev` topic exchange. Ours, alone, is SIGSTOPped while the stream is
published: it acknowledges under a prefetch limit, so the backlog waits in its queue (message TTL
off: --event-queue-ttl 0), and its rate is the drain after SIGCONT, as on Redis. Flower cannot be
measured that way: Celery's receiver consumes without acks, so RabbitMQ pushes into the stopped
process's socket and credit flow then blocks the publisher. Flower runs alone next, on the same
broker, while the stream is published; its rate is what it consumed over --window seconds (the
publisher waits for it: a no-ack consumer back-pressures the exchange's publishers). The broker's
own CPU per event while ours drains is printed too: it bounds what any consumer can reach.

    cargo build --release -p celery-exporter
    python3 benches/celery_compare.py [--tasks 100000] [--window 60] [--broker redis|rabbitmq]
"""

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

from benchlib import ROOT, cpu_seconds, free_port

FIXTURE = os.path.join(ROOT, "exporters/celery/tests/fixtures/celery-5.4.0-events.jsonl")


def status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric_sum(text, name):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_until(what, timeout, f):
    end = time.time() + timeout
    while time.time() < end:
        try:
            v = f()
            if v:
                return v
        except Exception:
            pass
        time.sleep(0.1)
    sys.exit(f"timed out waiting for {what}")


def resp_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def redis_call(port, *args):
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(resp_command(*[a.encode() if isinstance(a, str) else a for a in args]))
        return s.recv(65536)


def pattern_subscribers(port):
    """Clients with a pattern subscription (PUBSUB NUMPAT counts patterns, not clients)."""
    clients = redis_call(port, "CLIENT", "LIST").decode(errors="replace")
    return sum(1 for line in clients.splitlines() if " psub=" in line and " psub=0 " not in line)


def load_templates():
    """(channel, envelope prefix, decoded body, envelope suffix, events) of every captured task
    message, and the uuids they mention."""
    templates, uuids = [], []
    with open(FIXTURE) as f:
        for line in f:
            m = json.loads(line)
            channel = m["channel"]
            if "/0.celeryev/task." not in channel:
                continue
            env = json.loads(m["data"])
            body = base64.b64decode(env["body"]).decode()
            events = json.loads(body)
            events = events if isinstance(events, list) else [events]
            for e in events:
                if e["uuid"] not in uuids:
                    uuids.append(e["uuid"])
            marker = "\x00BODY\x00"
            env["body"] = marker
            text = json.dumps(env)
            prefix, suffix = text.split(json.dumps(marker)[1:-1])
            templates.append((channel, prefix, body, suffix, len(events)))
    return templates, uuids


def replay(tasks):
    """The captured task messages replayed round after round, each round with fresh task uuids,
    until at least `tasks` tasks: (the task count, an iterator of (channel, envelope prefix, body,
    envelope suffix, events))."""
    templates, uuids = load_templates()
    rounds = -(-tasks // len(uuids))

    def messages():
        for _ in range(rounds):
            fresh = {u: str(uuid.uuid4()) for u in uuids}
            for channel, prefix, body, suffix, n in templates:
                for old, new in fresh.items():
                    if old in body:
                        body = body.replace(old, new)
                yield channel, prefix, body, suffix, n

    return rounds * len(uuids), messages()


def build_stream(tasks):
    """RESP bytes of every PUBLISH, the message count, the event count and the task count."""
    tasks, replayed = replay(tasks)
    chunks, messages, events = [], 0, 0
    for channel, prefix, body, suffix, n in replayed:
        payload = prefix + base64.b64encode(body.encode()).decode() + suffix
        chunks.append(resp_command(b"PUBLISH", channel.encode(), payload.encode()))
        messages += 1
        events += n
    return b"".join(chunks), messages, events, tasks


RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"


def start_rabbitmq(tmp):
    """rabbitmq-server with the management plugin in tmp/rabbitmq; returns (process, env, AMQP
    port, management port, epmd port)."""
    d = os.path.join(tmp, "rabbitmq")
    os.makedirs(d)
    amqp_port, mgmt_port, dist_port, epmd_port = free_port(), free_port(), free_port(), free_port()
    with open(os.path.join(d, "enabled_plugins"), "w") as f:
        f.write("[rabbitmq_management].\n")
    with open(os.path.join(d, "rabbitmq.conf"), "w") as f:
        f.write(f"listeners.tcp.default = 127.0.0.1:{amqp_port}\n"
                f"management.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {mgmt_port}\n"
                # A backlog of 400,000 messages per queue is the point: no flow control.
                "vm_memory_high_watermark.relative = 0.8\n")
    env = dict(os.environ, HOME=d, RABBITMQ_NODENAME=f"bench-{amqp_port}@localhost",
               RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(amqp_port),
               RABBITMQ_DIST_PORT=str(dist_port), ERL_EPMD_PORT=str(epmd_port), ERL_EPMD_ADDRESS="127.0.0.1",
               RABBITMQ_MNESIA_BASE=os.path.join(d, "mnesia"), RABBITMQ_LOG_BASE=os.path.join(d, "log"),
               RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(d, "enabled_plugins"),
               RABBITMQ_CONFIG_FILE=os.path.join(d, "rabbitmq"),
               RABBITMQ_CONF_ENV_FILE=os.path.join(d, "rabbitmq-env.conf"),
               RABBITMQ_ADVANCED_CONFIG_FILE=os.path.join(d, "advanced.config"),
               RABBITMQ_PID_FILE=os.path.join(d, "rabbitmq.pid"),
               RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
    proc = subprocess.Popen([os.path.join(RABBITMQ_BIN, "rabbitmq-server")], env=env, start_new_session=True,
                            stdout=open(os.path.join(d, "server.out"), "w"), stderr=subprocess.STDOUT)
    wait_until("rabbitmq", 90, lambda: rabbit_api(mgmt_port, "/api/overview"))
    return proc, env, amqp_port, mgmt_port, epmd_port


def broker_vm_pid(tmp):
    """The Erlang VM of the benchmark's rabbitmq-server (its -home is the temp dir)."""
    out = subprocess.run(["pgrep", "-f", f"beam.smp.*-home {tmp}/rabbitmq "], capture_output=True, text=True)
    return int(out.stdout.split()[0])


def rabbit_api(port, path):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 headers={"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def event_consumers(mgmt_port):
    """Event queues (celeryev.*) with a consumer."""
    return sum(1 for q in rabbit_api(mgmt_port, "/api/queues/%2F")
               if q["name"].startswith("celeryev.") and q.get("consumers", 0) > 0)


def build_amqp_stream(tasks):
    """(routing key, JSON body) of every message, the event count and the task count: the same
    captured messages as on Redis, bodies as Celery publishes them on AMQP."""
    tasks, replayed = replay(tasks)
    out, events = [], 0
    for channel, _prefix, body, _suffix, n in replayed:
        out.append((channel.rsplit("/", 1)[1], body))
        events += n
    return out, events, tasks


PUBLISHER = """
import amqp, json, sys
port, path = int(sys.argv[1]), sys.argv[2]
c = amqp.Connection(host=f"127.0.0.1:{port}", userid="guest", password="guest", virtual_host="/")
c.connect()
ch = c.channel()
ch.exchange_declare("celeryev", "topic", durable=True, auto_delete=False)
with open(path) as f:
    for line in f:
        key, body = json.loads(line)
        ch.basic_publish(amqp.Message(body, content_type="application/json", content_encoding="utf-8"),
                         exchange="celeryev", routing_key=key)
c.close()
"""


def publish_amqp(venv, port, tmp, stream, check=True):
    path = os.path.join(tmp, "stream.jsonl")
    with open(path, "w") as f:
        for key, body in stream:
            f.write(json.dumps([key, body]) + "\n")
    start = time.time()
    subprocess.run([os.path.join(venv, "bin/python"), "-c", PUBLISHER, str(port), path], check=check,
                   stderr=None if check else subprocess.DEVNULL)
    return time.time() - start


def queued_events(mgmt_port):
    return sum(q.get("messages", 0) for q in rabbit_api(mgmt_port, "/api/queues/%2F")
               if q["name"].startswith("celeryev."))


_last_queued = [None]


def queue_stable(mgmt_port):
    """True once the event queues' depth has not moved over two polls 2 s apart."""
    now = queued_events(mgmt_port)
    stable = now == _last_queued[0]
    _last_queued[0] = now
    time.sleep(2)
    return stable


def publish(port, stream, messages):
    """Writes the whole stream and waits for every reply."""
    s = socket.create_connection(("127.0.0.1", port))
    got = [0]

    def reader():
        buf = b""
        while got[0] < messages:
            data = s.recv(1 << 20)
            if not data:
                break
            buf += data
            got[0] += buf.count(b"\r\n")
            buf = buf[buf.rfind(b"\r\n") + 2:]

    t = threading.Thread(target=reader)
    t.start()
    start = time.time()
    view = memoryview(stream)
    for i in range(0, len(stream), 1 << 20):
        s.sendall(view[i:i + (1 << 20)])
    t.join()
    s.close()
    return time.time() - start


def drain_rate(url, counter, base, events, window, fast):
    """Polls `counter` until `events` more were consumed or `window` passed: (consumed, seconds)."""
    start = time.time()
    seen = 0.0
    while time.time() - start < window:
        try:
            seen = metric_sum(get(url, timeout=60), counter) - base
        except Exception:
            pass
        if seen >= events:
            break
        time.sleep(0.02 if fast else 1.0)
    return seen, time.time() - start


def start_flower(venv, broker, tmp, **env):
    """Flower's exporter on `broker` on a free port: the process and its /metrics URL."""
    port = free_port()
    env = dict(os.environ, CELERY_BROKER_URL=broker, PYTHONPATH=os.path.join(ROOT, "tests/celery"), **env)
    flower = subprocess.Popen(
        [os.path.join(venv, "bin/celery"), "-A", "app", "flower", "--address=127.0.0.1",
         f"--port={port}", "--logging=warning"],
        env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "flower.log"), "w"))
    return flower, f"http://127.0.0.1:{port}/metrics"


def start_ours(ours_bin, broker, *flags):
    """Our exporter on `broker` on a free port, tracking up to 100,000 tasks, with `flags` too:
    the process and its /metrics URL."""
    port = free_port()
    ours = subprocess.Popen(
        [ours_bin, "--broker-url", broker, "--web.listen-address", f"127.0.0.1:{port}",
         "--max-tasks", "100000", "--log.level", "warn", *flags])
    return ours, f"http://127.0.0.1:{port}/metrics"


def report(broker, ours, flower, ours_cpu_s, ours_hwm_kb, tracked, cpu_note="", notes=()):
    """The side-by-side table, then ours' events per CPU-second (`cpu_note` after it), `notes`,
    and ours' tracked tasks and RSS. `ours` and `flower` are (consumed, seconds, RSS idle kB,
    RSS after kB). Returns both rates (events/s)."""
    ours_rate = ours[0] / ours[1]
    flower_rate = flower[0] / flower[1] if flower[1] > 0 else 0.0
    print()
    print(f"broker: {broker}")
    print(f"{'':24} {'events/s':>12} {'consumed':>10} {'seconds':>8} {'RSS idle MB':>12} {'RSS after MB':>13}")
    for name, rate, (consumed, seconds, idle_kb, rss_kb) in (("celery-exporter (ours)", ours_rate, ours),
                                                              ("flower 2.0.1", flower_rate, flower)):
        print(f"{name:24} {rate:>12,.0f} {int(consumed):>10} {seconds:>8.2f} "
              f"{idle_kb / 1024:>12.1f} {rss_kb / 1024:>13.1f}")
    print()
    print(f"ours: {ours[0] / ours_cpu_s:,.0f} events per CPU-second{cpu_note}, "
          f"{ours_rate / flower_rate if flower_rate else float('inf'):.0f}x Flower's rate")
    for line in notes:
        print(line)
    print(f"ours: {int(tracked)} tracked tasks, RSS {ours[3] / 1024:.1f} MB (peak {ours_hwm_kb / 1024:.1f} MB)")
    return ours_rate, flower_rate


def wait_consuming(name, proc, url, counter, mgmt_port, timeout):
    """Waits (up to `timeout` s) for `proc` to answer on `url`, then for it to consume from an event
    queue; a second later, its idle RSS (kB) and the value of its events `counter`."""
    wait_until(name, timeout, lambda: get(url))
    wait_until(f"{name} consuming", 60, lambda: event_consumers(mgmt_port) >= 1)
    time.sleep(1)
    return status_kb(proc.pid, "VmRSS"), metric_sum(get(url), counter)


def kill_all(procs):
    """Kills every started process, last started first, stopped ones included."""
    for p in reversed(procs):
        try:
            os.kill(p.pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        p.kill()
        p.wait()


def main_rabbitmq(args, ours_bin, venv):
    procs = []
    rabbit_proc = rabbit_epmd = None
    tmp = tempfile.mkdtemp(prefix="celery-bench-")
    try:
        rabbit_proc, _, aport, mport, rabbit_epmd = start_rabbitmq(tmp)
        broker = f"amqp://guest:guest@127.0.0.1:{aport}//"
        # Heartbeats off for ours: a process stopped longer than two heartbeats loses its
        # connection, and its exclusive queue with the backlog.
        ours_broker = broker + "?heartbeat=0"
        stream, events, tasks = build_amqp_stream(args.tasks)
        messages = len(stream)
        print(f"rabbitmq: {messages} messages, {events} events, {tasks} tasks, "
              f"{sum(len(b) for _, b in stream) / 1e6:.0f} MB")

        # Ours: backlog published while stopped, then drained.
        ours, ours_url = start_ours(ours_bin, ours_broker, "--event-queue-ttl", "0", "--queues", "bench")
        procs.append(ours)
        ours_idle_kb, base = wait_consuming("ours", ours, ours_url, "celery_exporter_events_received_total", mport, 20)
        os.kill(ours.pid, signal.SIGSTOP)
        took = publish_amqp(venv, aport, tmp, stream)
        wait_until("the broker to settle", 120, lambda: queue_stable(mport))
        print(f"published in {took:.2f} s ({messages / took:,.0f} messages/s) while ours was stopped; "
              f"{queued_events(mport):,} messages queued")
        beam = broker_vm_pid(tmp)
        cpu0, broker_cpu0 = cpu_seconds(ours.pid), cpu_seconds(beam)
        os.kill(ours.pid, signal.SIGCONT)
        got, ours_s = drain_rate(ours_url, "celery_exporter_events_received_total", base, events, 300, True)
        ours_cpu = cpu_seconds(ours.pid) - cpu0
        broker_cpu = cpu_seconds(beam) - broker_cpu0
        tracked = metric_sum(get(ours_url), "celery_exporter_tracked_tasks")
        ours_rss, ours_hwm = status_kb(ours.pid, "VmRSS"), status_kb(ours.pid, "VmHWM")
        ours.kill()
        ours.wait()
        procs.remove(ours)

        # Flower: alone, consuming while the stream is published.
        flower, flower_url = start_flower(venv, broker, tmp, CELERY_EVENT_QUEUE_TTL="")
        procs.append(flower)
        flower_idle_kb, fbase = wait_consuming("flower", flower, flower_url, "flower_events_total", mport, 60)
        # Still publishing when Flower's window ends and the broker stops: that failure is expected.
        publisher = threading.Thread(target=lambda: publish_amqp(venv, aport, tmp, stream, check=False),
                                     daemon=True)
        publisher.start()
        fgot, flower_s = drain_rate(flower_url, "flower_events_total", fbase, events, args.window, False)
        flower_rss = status_kb(flower.pid, "VmRSS")

        report("rabbitmq", (got, ours_s, ours_idle_kb, ours_rss), (fgot, flower_s, flower_idle_kb, flower_rss),
               ours_cpu, ours_hwm, tracked,
               notes=[f"rabbitmq-server while ours drained: {got / broker_cpu:,.0f} events per CPU-second "
                      f"({broker_cpu:.1f} s of CPU; its queue process, not the consumer, sets the pace)"])
    finally:
        kill_all(procs)
        if rabbit_proc is not None:
            rabbit_proc.terminate()  # the script forwards SIGTERM to the node and waits
            try:
                rabbit_proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(rabbit_proc.pid, signal.SIGKILL)
                rabbit_proc.wait()
            subprocess.run(["epmd", "-port", str(rabbit_epmd), "-kill"],
                           env=dict(os.environ, ERL_EPMD_PORT=str(rabbit_epmd)),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", type=int, default=100_000)
    ap.add_argument("--window", type=float, default=60.0, help="max seconds given to Flower")
    ap.add_argument("--broker", choices=["redis", "rabbitmq"], default="redis")
    args = ap.parse_args()
    rabbit = args.broker == "rabbitmq"

    ours_bin = os.path.join(ROOT, "target/release/celery-exporter")
    if not os.access(ours_bin, os.X_OK):
        sys.exit("build first: cargo build --release -p celery-exporter")
    venv = os.path.join(ROOT, "target/celery-venv")
    subprocess.run(["bash", os.path.join(ROOT, "tests/celery/setup-venv.sh"), venv, "--with-flower"], check=True)
    if rabbit:
        return main_rabbitmq(args, ours_bin, venv)

    procs = []
    tmp = tempfile.mkdtemp(prefix="celery-bench-")
    try:
        rport = free_port()
        procs.append(subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(rport), "--save", "", "--appendonly", "no",
             "--dir", tmp, "--client-output-buffer-limit", "pubsub 0 0 0"],
            stdout=subprocess.DEVNULL))
        wait_until("redis", 10, lambda: redis_call(rport, "PING").startswith(b"+PONG"))
        broker = f"redis://127.0.0.1:{rport}/0"

        ours, ours_url = start_ours(ours_bin, broker)
        procs.append(ours)
        flower, flower_url = start_flower(venv, broker, tmp)
        procs.append(flower)
        wait_until("ours", 20, lambda: get(ours_url))
        wait_until("flower", 60, lambda: get(flower_url))
        wait_until("both subscribed", 60, lambda: pattern_subscribers(rport) >= 2)
        time.sleep(1)
        ours_idle_kb = status_kb(ours.pid, "VmRSS")
        flower_idle_kb = status_kb(flower.pid, "VmRSS")

        t = time.time()
        stream, messages, events, tasks = build_stream(args.tasks)
        print(f"redis: {messages} messages, {events} events, {tasks} tasks, {len(stream) / 1e6:.0f} MB "
              f"(built in {time.time() - t:.1f} s)")

        base_ours = metric_sum(get(ours_url), "celery_exporter_events_received_total")
        base_flower = metric_sum(get(flower_url), "flower_events_total")
        for p in (ours, flower):
            os.kill(p.pid, signal.SIGSTOP)
        took = publish(rport, stream, messages)
        print(f"published in {took:.2f} s ({messages / took:,.0f} messages/s) while both were stopped")

        ours_cpu0 = cpu_seconds(ours.pid)
        start = time.time()
        for p in (ours, flower):
            os.kill(p.pid, signal.SIGCONT)
        ours_done = None
        flower_seen, flower_at = 0.0, start
        last_flower_poll = 0.0
        while True:
            now = time.time()
            if ours_done is None:
                got = metric_sum(get(ours_url), "celery_exporter_events_received_total") - base_ours
                if got >= events:
                    ours_done = time.time() - start
                    ours_cpu = cpu_seconds(ours.pid) - ours_cpu0
            if now - last_flower_poll >= 1.0:
                last_flower_poll = now
                try:
                    flower_seen = metric_sum(get(flower_url, timeout=60), "flower_events_total") - base_flower
                    flower_at = time.time() - start
                except Exception:
                    pass
            if ours_done is not None and (flower_seen >= events or time.time() - start > args.window):
                break
            time.sleep(0.02 if ours_done is None else 0.5)

        text = get(ours_url)
        tracked = metric_sum(text, "celery_exporter_tracked_tasks")
        ours_rss = status_kb(ours.pid, "VmRSS")
        ours_hwm = status_kb(ours.pid, "VmHWM")
        flower_rss = status_kb(flower.pid, "VmRSS")
        ours_rate, flower_rate = report(
            "redis", (events, ours_done, ours_idle_kb, ours_rss), (flower_seen, flower_at, flower_idle_kb, flower_rss),
            ours_cpu, ours_hwm, tracked, cpu_note=" (one thread)")
        ok = ours_rate >= 50_000 and (flower_rate == 0 or ours_rate >= 20 * flower_rate) and ours_rss <= 10 * 1024
        print("targets (>= 50,000 events/s, >= 20x Flower, RSS <= 10 MB):", "met" if ok else "NOT met")
    finally:
        kill_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
