#!/usr/bin/env python3
"""Side-by-side scrape benchmark: our redis-exporter against Debian's prometheus-redis-exporter
(oliver006/redis_exporter 1.45), both scraping the same redis-server, in one run.

Starts a redis-server on loopback (temp dir, persistence off) and fills it with some data, starts
both exporters with default flags (ours without LATENCY HISTOGRAM) against it, warms them up, then scrapes each N times in
alternation (the order flips every round) and reports per exporter: p50/p99 scrape latency, CPU
per scrape (utime+stime from /proc/<pid>/stat, and the nanosecond scheduler clock from
/proc/<pid>/task/*/schedstat), RSS, response size, and the CPU the redis-server spent per scrape of
that exporter (schedstat of every redis-server thread, read right before and after each scrape).

    cargo build --release -p redis-exporter
    python3 benches/redis_compare.py [--scrapes 500] [--keys 10000]
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from benchlib import (ROOT, cpu_seconds, free_port, print_ratio_table, resp, sched_ns, scrape, scrape_summary,
                      stop, wait_http)




def populate(port, keys):
    """Keys in a few databases, with TTLs on some, and traffic for commandstats/errorstats."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        batch, sent = [], 0
        for i in range(keys):
            db = i % 4
            batch.append(resp("SELECT", db))
            batch.append(resp("SET", f"key:{i}", i) if i % 3 else resp("SET", f"key:{i}", i, "EX", 3600))
            batch.append(resp("GET", f"key:{i}"))
            sent += 3
        batch.append(resp("NOSUCHCOMMAND"))
        sent += 1
        s.sendall(b"".join(batch))
        # Drain every reply (one line each: +OK, $n + value, -ERR).
        f = s.makefile("rb")
        got = 0
        while got < sent:
            line = f.readline()
            if line.startswith(b"$") and not line.startswith(b"$-1"):
                f.readline()
            got += 1




def wait_redis(port, deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not come up")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scrapes", type=int, default=500)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--ours", default=os.path.join(ROOT, "target", "release", "redis-exporter"))
    ap.add_argument("--upstream", default="prometheus-redis-exporter")
    args = ap.parse_args()
    for exe in (args.ours, args.upstream):
        if not shutil.which(exe) and not os.path.exists(exe):
            raise SystemExit(f"{exe} not found (cargo build --release -p redis-exporter; apt-get install prometheus-redis-exporter)")

    tmp = tempfile.TemporaryDirectory()
    rport = free_port()
    redis = subprocess.Popen(
        ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", tmp.name],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs, conns = [], {}
    try:
        wait_redis(rport)
        populate(rport, args.keys)
        addr = f"redis://127.0.0.1:{rport}"
        for name, cmd in [
            # Like for like: 1.45 does not send LATENCY HISTOGRAM (current releases do, and so
            # do we by default).
            ("ours", [args.ours, "--redis.addr", addr, "--log.level", "error",
                      "--exclude-latency-histogram-metrics", "--web.listen-address"]),
            ("upstream", [args.upstream, "-redis.addr", addr, "-web.listen-address"]),
        ]:
            port = free_port()
            p = subprocess.Popen(cmd + [f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            conns[name] = (p, wait_http(port, timeout=10))
        for _ in range(20):
            for _, c in conns.values():
                scrape(c)

        names = list(conns)
        lat = {n: [] for n in names}
        redis_ns = {n: 0 for n in names}
        size, families = {}, {}
        cpu0 = {n: cpu_seconds(p.pid) for n, (p, _) in conns.items()}
        ns0 = {n: sched_ns(p.pid) for n, (p, _) in conns.items()}
        for i in range(args.scrapes):
            for n in (names if i % 2 == 0 else names[::-1]):
                p, c = conns[n]
                r0 = sched_ns(redis.pid)
                t, body = scrape(c)
                redis_ns[n] += sched_ns(redis.pid) - r0
                lat[n].append(t * 1000)
                size[n] = len(body)
                families[n] = body.count(b"\n# TYPE ") + body.startswith(b"# TYPE")
        stats = {}
        for n, (p, _) in conns.items():
            stats[n] = {
                "cpu": (cpu_seconds(p.pid) - cpu0[n]) * 1000 / args.scrapes,
                "cpu_ns": (sched_ns(p.pid) - ns0[n]) / 1e6 / args.scrapes,
                "redis": redis_ns[n] / 1e6 / args.scrapes,
                **scrape_summary(lat[n], p.pid, size[n], families[n]),
            }
    finally:
        stop([redis] + procs)
        tmp.cleanup()

    o, u = stats["ours"], stats["upstream"]
    print(f"redis exporter, {args.scrapes} alternating scrapes each, default flags (ours without LATENCY HISTOGRAM, which 1.45 lacks), "
          f"same redis-server ({args.keys} keys in 4 databases)\n")
    rows = [("p50 latency (ms)", "p50"), ("p99 latency (ms)", "p99"),
            ("exporter CPU per scrape, /proc stat (ms)", "cpu"),
            ("exporter CPU per scrape, schedstat (ms)", "cpu_ns"),
            ("redis-server CPU per scrape (ms)", "redis"),
            ("RSS after (MB)", "rss"), ("peak RSS (MB)", "peak"),
            ("response bytes", "bytes"), ("families", "families")]
    print_ratio_table(o, u, rows, digits=3)


if __name__ == "__main__":
    sys.exit(main())
