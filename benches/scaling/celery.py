#!/usr/bin/env python3
"""How the Celery exporter's cost grows with tracked tasks and workers: ours against Flower 2.0.1's
/metrics, both subscribed to the same Redis broker, in one run.

The stream is benches/celery_compare.py's: the envelopes captured from a celery 5.4.0 worker and
client (exporters/celery/tests/fixtures/celery-5.4.0-events.jsonl), replayed with fresh task uuids
and, for the workers axis, the worker's hostname rotated over N workers, each announced with a
worker-online and a heartbeat first. All on a loopback redis-server this script starts.

  * tracked tasks: 10k, 100k, 1M. The state is grown in chunks of 10,000 tasks (published while
    the consumers run, each drained before the next), then the last part is a burst of 100,000
    events (or the whole size if smaller): both consumers SIGSTOPped, the burst PUBLISHed, both
    SIGCONTed at one instant; each one's rate is the events it consumed over the time it took
    (its own counter). Flower takes part up to 100k tasks: at its rate (~4,000 events/s) 1M
    tasks (4.6M events) would take about 20 minutes, so it is stopped before the 1M step;
  * workers: 1, 10, 100 (fresh consumers for each), a burst of 50,000 task events spread over them.
At every size: events/s of the burst, RSS, p50 of 10 /metrics scrapes, series. Ours runs with
`--flower-metrics` (Flower's families too) and `--max-tasks 1000000`; Flower with
`--max_tasks=1000000`. Each wait is bounded (--window seconds for Flower per burst).

    cargo build --release -p celery-exporter
    python3 benches/scaling/celery.py [--quick] [--window 150]
"""

import argparse
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import ROOT, fmt, free_port, markdown_table, plot, sched_ns, status_mb, stop  # noqa: E402
from celery_compare import (FIXTURE, metric_sum, pattern_subscribers, publish, redis_call,  # noqa: E402
                            resp_command, wait_until)

WORKER = "w1@vm"
OURS_COUNTER = "celery_exporter_events_received_total"
FLOWER_COUNTER = "flower_events_total"


def get(url, timeout=60):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


class Stream:
    """The captured envelopes as templates whose task uuids and worker hostname can be swapped
    fast: each body is split at every uuid and hostname once, then joined per task round."""

    def __init__(self):
        self.tasks, self.workers = [], {}
        uuids = []
        raw = []
        with open(FIXTURE) as f:
            for line in f:
                m = json.loads(line)
                if "/0.celeryev/" not in m["channel"]:
                    continue
                env = json.loads(m["data"])
                body = base64.b64decode(env["body"]).decode()
                events = json.loads(body)
                events = events if isinstance(events, list) else [events]
                if "/0.celeryev/task." in m["channel"]:
                    for e in events:
                        if e["uuid"] not in uuids:
                            uuids.append(e["uuid"])
                    raw.append((m["channel"], env, body, len(events)))
                elif events[0]["type"] in ("worker-online", "worker-heartbeat") and events[0]["type"] not in self.workers:
                    self.workers[events[0]["type"]] = (m["channel"], env, events[0])
        self.per_round = len(uuids)
        slots = {u: i for i, u in enumerate(uuids)}
        slots[WORKER] = len(uuids)
        pattern = re.compile("|".join(re.escape(s) for s in slots))
        for channel, env, body, n in raw:
            marker = "\x00BODY\x00"
            env = dict(env, body=marker)
            text = json.dumps(env)
            prefix, suffix = text.split(json.dumps(marker)[1:-1])
            parts, refs, pos = [], [], 0
            for mo in pattern.finditer(body):
                parts.append(body[pos:mo.start()])
                refs.append(slots[mo.group(0)])
                pos = mo.end()
            parts.append(body[pos:])
            self.tasks.append((resp_command(b"PUBLISH", channel.encode(), b"").rsplit(b"$0\r\n", 1)[0],
                               prefix.replace(WORKER, "\x01"), parts, refs, suffix, n))
        self.events_per_round = sum(t[5] for t in self.tasks)

    def task_rounds(self, rounds, workers=1, first=0):
        """(RESP bytes, messages, events) of `rounds` rounds of fresh tasks, round r on worker
        w{r % workers}."""
        out, messages, events = [], 0, 0
        for r in range(first, first + rounds):
            host = f"w{r % workers}@vm"
            fills = [str(uuid.uuid4()) for _ in range(self.per_round)] + [host]
            for head, prefix, parts, refs, suffix, n in self.tasks:
                body = parts[0] + "".join(fills[ref] + parts[i + 1] for i, ref in enumerate(refs))
                payload = (prefix.replace("\x01", host) + base64.b64encode(body.encode()).decode() + suffix).encode()
                out.append(head + b"$%d\r\n%s\r\n" % (len(payload), payload))
                messages += 1
                events += n
        return b"".join(out), messages, events

    def worker_announcements(self, workers):
        out = []
        for w in range(workers):
            host = f"w{w}@vm"
            for kind in ("worker-online", "worker-heartbeat"):
                channel, env, event = self.workers[kind]
                event = dict(event, hostname=host, timestamp=time.time())
                env = json.loads(json.dumps(env).replace(WORKER, host))
                env["body"] = base64.b64encode(json.dumps(event).encode()).decode()
                out.append(resp_command(b"PUBLISH", channel.encode(), json.dumps(env).encode()))
        return b"".join(out), len(out)


class Consumer:
    def __init__(self, name, proc, url, counter):
        self.name, self.proc, self.url, self.counter = name, proc, url, counter
        self.base = 0.0

    def seen(self, timeout=60):
        return metric_sum(get(self.url, timeout), self.counter)


def start_consumers(args, broker, tmp, venv, with_flower, procs):
    oport = free_port()
    ours = subprocess.Popen([args.ours, "--broker-url", broker, "--web.listen-address", f"127.0.0.1:{oport}",
                             "--max-tasks", "1000000", "--flower-metrics", "--log.level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(ours)
    out = [Consumer("ours", ours, f"http://127.0.0.1:{oport}/metrics", OURS_COUNTER)]
    if with_flower:
        fport = free_port()
        env = dict(os.environ, CELERY_BROKER_URL=broker, PYTHONPATH=os.path.join(ROOT, "tests/celery"))
        flower = subprocess.Popen(
            [os.path.join(venv, "bin/celery"), "-A", "app", "flower", "--address=127.0.0.1", f"--port={fport}",
             "--logging=warning", "--max_tasks=1000000"],
            env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "flower.log"), "a"))
        procs.append(flower)
        out.append(Consumer("flower", flower, f"http://127.0.0.1:{fport}/metrics", FLOWER_COUNTER))
    for c in out:
        wait_until(c.name, 60, lambda: get(c.url))
    return out


def start_subscribed(args, broker, tmp, venv, rport, procs):
    """Fresh ours and Flower, both subscribed to the broker (also added to `procs`): the consumers
    and their processes."""
    group = []
    consumers = start_consumers(args, broker, tmp, venv, True, group)
    procs += group
    wait_until("both subscribed", 60, lambda: pattern_subscribers(rport) >= 2)
    time.sleep(1)
    return consumers, group


def drain(rport, consumers, expected, window):
    """Waits until every consumer has seen `expected` events past its base (bounded)."""
    start = time.time()
    pending = list(consumers)
    while pending and time.time() - start < window:
        for c in list(pending):
            if c.seen() - c.base >= expected:
                pending.remove(c)
        time.sleep(0.2)
    return [c.name for c in pending]


def burst(rport, consumers, data, messages, events, window):
    """Publishes while every consumer is stopped, resumes them at one instant, returns per name
    (events/s, events consumed, seconds) and each one's CPU over its drain."""
    for c in consumers:
        c.base = c.seen()
    for c in consumers:
        os.kill(c.proc.pid, signal.SIGSTOP)
    try:
        publish(rport, data, messages)
    finally:
        cpu0 = {c.name: sched_ns(c.proc.pid) for c in consumers}
        start = time.time()
        for c in consumers:
            os.kill(c.proc.pid, signal.SIGCONT)
    done, out = {}, {}
    last = {c.name: (0.0, start) for c in consumers}
    while len(done) < len(consumers) and time.time() - start < window:
        for c in consumers:
            if c.name in done:
                continue
            try:
                got = c.seen() - c.base
            except Exception:
                continue
            last[c.name] = (got, time.time())
            if got >= events:
                done[c.name] = time.time() - start
                out[c.name] = {"rate": events / done[c.name], "consumed": events, "secs": done[c.name],
                               "cpu_s": (sched_ns(c.proc.pid) - cpu0[c.name]) / 1e9}
        time.sleep(0.02 if "ours" not in done else 0.5)
    for c in consumers:
        if c.name not in out:
            got, at = last[c.name]
            out[c.name] = {"rate": got / (at - start) if at > start else 0.0, "consumed": got, "secs": at - start,
                           "cpu_s": (sched_ns(c.proc.pid) - cpu0[c.name]) / 1e9, "partial": True}
    return out


def snapshot(c):
    lat, body = [], ""
    for _ in range(10):
        t = time.perf_counter()
        body = get(c.url)
        lat.append((time.perf_counter() - t) * 1000)
    series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    tracked = metric_sum(body, "celery_exporter_tracked_tasks") if c.name == "ours" else float("nan")
    return {"rss": status_mb(c.proc.pid, "VmRSS"), "scrape": statistics.median(lat), "series": series,
            "tracked": tracked}


def add_row(rows, row, consumers, res, head, series=False, settle=lambda c: None):
    """Each consumer's burst result `res` and its snapshot (once `settle(c)` returned) into `row`,
    appended to `rows`; prints a progress line starting with `head`."""
    for c in consumers:
        settle(c)
        row[c.name] = dict(res[c.name], **snapshot(c))
    rows.append(row)
    print(f"  {head}: " + "; ".join(
        f"{c.name} {row[c.name]['rate']:,.0f} ev/s, RSS {row[c.name]['rss']:.1f} MB, "
        f"scrape {row[c.name]['scrape']:.1f} ms" + (f", {row[c.name]['series']} series" if series else "")
        for c in consumers), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", default=os.path.join(ROOT, "target/release/celery-exporter"))
    ap.add_argument("--window", type=float, default=150.0, help="max seconds given to a consumer per burst or fill")
    ap.add_argument("--quick", action="store_true", help="100k tasks and 10 workers at most")
    ap.add_argument("--plot", default=os.path.join(ROOT, "benches", "scaling", "plots", "celery.png"))
    args = ap.parse_args()
    if not os.access(args.ours, os.X_OK):
        sys.exit("build first: cargo build --release -p celery-exporter")
    venv = os.path.join(ROOT, "target/celery-venv")
    subprocess.run(["bash", os.path.join(ROOT, "tests/celery/setup-venv.sh"), venv, "--with-flower"], check=True)
    task_sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])
    worker_sizes = [1, 10] + ([] if args.quick else [100])
    flower_max_tasks = 100_000
    burst_events = 100_000

    stream = Stream()
    procs = []
    tmp = tempfile.mkdtemp(prefix="celeryscale")
    task_rows, worker_rows = [], []
    try:
        rport = free_port()
        redis = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(rport), "--save", "", "--appendonly", "no",
             "--dir", tmp, "--client-output-buffer-limit", "pubsub 0 0 0"], stdout=subprocess.DEVNULL)
        procs.append(redis)
        wait_until("redis", 10, lambda: redis_call(rport, "PING").startswith(b"+PONG"))
        broker = f"redis://127.0.0.1:{rport}/0"

        print(f"tracked tasks: {task_sizes}", flush=True)
        consumers, group = start_subscribed(args, broker, tmp, venv, rport, procs)
        idle = {c.name: status_mb(c.proc.pid, "VmRSS") for c in consumers}
        rounds_done = 0
        for size in task_sizes:
            if size > flower_max_tasks and len(consumers) > 1:
                stop([consumers[1].proc])
                consumers = consumers[:1]
            target_rounds = -(-size // stream.per_round)
            burst_rounds = min(target_rounds - rounds_done, -(-burst_events // stream.events_per_round))
            fill_rounds = target_rounds - rounds_done - burst_rounds
            chunk = 10_000 // stream.per_round
            t = time.time()
            while fill_rounds > 0:
                n = min(chunk, fill_rounds)
                for c in consumers:
                    c.base = c.seen()
                data, messages, events = stream.task_rounds(n, first=rounds_done)
                publish(rport, data, messages)
                late = drain(rport, consumers, events, args.window)
                if late:
                    raise SystemExit(f"{late} did not drain a chunk of {events} events in {args.window} s")
                rounds_done += n
                fill_rounds -= n
            data, messages, events = stream.task_rounds(burst_rounds, first=rounds_done)
            rounds_done += burst_rounds
            fill_s = time.time() - t
            res = burst(rport, consumers, data, messages, events, args.window)

            def finish(c):
                if res[c.name].get("partial"):
                    # Let it finish, so its state holds the whole size before the snapshot.
                    c.base = c.seen() - res[c.name]["consumed"]
                    drain(rport, [c], events, args.window)

            add_row(task_rows, {"size": size, "events": events, "fill_s": fill_s}, consumers, res,
                    f"{size:,} tasks (burst {events:,} events)", settle=finish)
        stop(group)

        print(f"workers: {worker_sizes}", flush=True)
        for w in worker_sizes:
            consumers, group = start_subscribed(args, broker, tmp, venv, rport, procs)
            data, messages = stream.worker_announcements(w)
            publish(rport, data, messages)
            rounds = -(-50_000 // stream.events_per_round)
            data, messages, events = stream.task_rounds(rounds, workers=w)
            res = burst(rport, consumers, data, messages, events, args.window)
            add_row(worker_rows, {"size": w, "events": events}, consumers, res,
                    f"{w} workers (burst {events:,} events)", series=True)
            stop(group)
    finally:
        for p in procs:
            try:
                os.kill(p.pid, signal.SIGCONT)
            except (ProcessLookupError, OSError):
                pass
        stop(procs)
        shutil.rmtree(tmp, ignore_errors=True)

    def cells(row, who):
        r = row.get(who)
        if r is None:
            return ["-", "-", "-", "-"]
        rate = fmt(r["rate"], 0) + (" (partial)" if r.get("partial") else "")
        return [rate, fmt(r["rss"], 1), fmt(r["scrape"]), f"{r['series']:,}"]

    print("\ncelery exporter vs Flower 2.0.1 (/metrics), same Redis broker\n")
    print(f"### tracked tasks (idle RSS: ours {idle['ours']:.1f} MB, Flower {idle['flower']:.1f} MB)\n")
    print(markdown_table(["tracked tasks", "burst events", "events/s ours", "RSS MB ours", "scrape ms ours",
                          "series ours", "events/s Flower", "RSS MB Flower", "scrape ms Flower", "series Flower",
                          "ours tracked (gauge)"],
                         [[f"{r['size']:,}", f"{r['events']:,}"] + cells(r, "ours") + cells(r, "flower")
                          + [fmt(r["ours"]["tracked"], 0)] for r in task_rows]))
    print("\n### workers (burst of task events spread over the workers)\n")
    print(markdown_table(["workers", "burst events", "events/s ours", "RSS MB ours", "scrape ms ours", "series ours",
                          "events/s Flower", "RSS MB Flower", "scrape ms Flower", "series Flower"],
                         [[f"{r['size']:,}", f"{r['events']:,}"] + cells(r, "ours") + cells(r, "flower")
                          for r in worker_rows]))

    def col(rows, who, key):
        return [r[who][key] if who in r else None for r in rows]
    panels = []
    for axis, rows in (("tracked tasks", task_rows), ("workers", worker_rows)):
        x = [r["size"] for r in rows]
        panels += [
            {"title": f"events/s of a burst vs {axis}", "xlabel": axis, "ylabel": "events/s", "x": x, "xlog": True,
             "ylog": True, "lines": {"ours": col(rows, "ours", "rate"), "Flower 2.0.1": col(rows, "flower", "rate")}},
            {"title": f"RSS vs {axis}", "xlabel": axis, "ylabel": "MB", "x": x, "xlog": True, "ylog": True,
             "lines": {"ours": col(rows, "ours", "rss"), "Flower 2.0.1": col(rows, "flower", "rss")}},
            {"title": f"/metrics scrape time (p50) vs {axis}", "xlabel": axis, "ylabel": "ms", "x": x, "xlog": True,
             "ylog": True, "lines": {"ours": col(rows, "ours", "scrape"), "Flower 2.0.1": col(rows, "flower", "scrape")}},
        ]
    out = plot(args.plot, "Celery: ours vs Flower 2.0.1 (Flower not run at 1M tasks: ~20 min at its rate)", panels, cols=3)
    if out:
        print(f"\nplot: {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
