#!/usr/bin/env python3
"""How the Redis exporter's cost grows: ours against Debian's prometheus-redis-exporter
(oliver006/redis_exporter 1.45) in one run, on loopback redis-servers this script starts.

Two axes:
  * targets: 1, 10, 100 redis-servers (each with 1,000 keys) scraped through
    `/scrape?target=redis://127.0.0.1:PORT` by both exporters, started with an empty
    `--redis.addr`. A round scrapes every target once; figures are per target scrape (CPU, Redis
    CPU, p50 of one request) and the exporter's RSS after the rounds;
  * keys: one redis-server with 10k, 100k and 1M keys (DEBUG POPULATE) plus 100 keys matching
    `check:*`, both exporters with `--check-keys=db0=check:*` (SCAN MATCH over the whole keyspace
    in batches of 1,000, both exporters' default): CPU, Redis CPU, p50 and RSS per scrape.
Redis CPU is the scheduler time of every thread of the scraped redis-server, read right before
and after each request. Exporters are restarted at every size; each size is a bounded number of
alternating rounds.

    cargo build --release -p redis-exporter
    python3 benches/scaling/redis.py [--quick]
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchlib import (ROOT, fmt, free_port, markdown_table, plot, ratio_panel, resp,  # noqa: E402
                      scaling_parser, sched_ns, scrape_rounds, stop, vs_panel, wait_http)

UPSTREAM = "/usr/bin/prometheus-redis-exporter"



def call(port, *cmds):
    """Sends the commands pipelined and reads one reply line per command (simple replies only)."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(b"".join(resp(*c) for c in cmds))
        f = s.makefile("rb")
        out = []
        for _ in cmds:
            line = f.readline()
            if line.startswith(b"$") and not line.startswith(b"$-1"):
                line = f.readline()
            out.append(line)
        return out


def start_redis(tmp, name):
    port = free_port()
    d = os.path.join(tmp, name)
    os.makedirs(d)
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", d, "--enable-debug-command", "yes"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return p, port


def wait_redis(port, deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        try:
            if call(port, ["PING"])[0].startswith(b"+PONG"):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not come up")


def start_exporters(args, extra_ours, extra_up, procs):
    ports = {}
    for name, cmd in (("ours", [args.ours, "--log.level", "error", *extra_ours]),
                      ("upstream", [UPSTREAM, *extra_up])):
        port = free_port()
        listen = ["--web.listen-address", f"127.0.0.1:{port}"] if name == "ours" \
            else [f"-web.listen-address=127.0.0.1:{port}"]
        p = subprocess.Popen(cmd + listen, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        ports[name] = (p, port)
    return ports


def measure_targets(args, tmp, n, servers):
    while len(servers) < n:
        p, port = start_redis(tmp, f"r{len(servers)}")
        servers.append((p, port))
        wait_redis(port)
        call(port, ["DEBUG", "POPULATE", "1000", "key"], ["SET", "x", "1", "EX", "3600"])
    live = servers[:n]
    procs = []
    try:
        ports = start_exporters(args, ["--redis.addr", ""], ["-redis.addr="], procs)
        targets = {}
        for name, (p, port) in ports.items():
            conn = wait_http(port, path=f"/scrape?target=redis://127.0.0.1:{live[0][1]}")
            targets[name] = (p.pid, [(conn, f"/scrape?target=redis://127.0.0.1:{rp}") for _, rp in live])
        by_path = {f"/scrape?target=redis://127.0.0.1:{rp}": sp.pid for sp, rp in live}
        r = scrape_rounds(targets, args.rounds, args.budget, path_side_cpu=lambda path: sched_ns(by_path[path]))
    finally:
        stop(procs)
    for v in r.values():
        v["cpu"] /= n
        v["side"] /= n
        v["series"] //= n
    return r


def measure_keys(args, rport, rpid, keys):
    procs = []
    try:
        ports = start_exporters(args, ["--redis.addr", f"redis://127.0.0.1:{rport}", "--check-keys", "db0=check:*"],
                                [f"-redis.addr=redis://127.0.0.1:{rport}", "-check-keys=db0=check:*"], procs)
        targets = {}
        for name, (p, port) in ports.items():
            targets[name] = (p.pid, [(wait_http(port, timeout=120), "/metrics")])
        return scrape_rounds(targets, args.rounds, args.budget, side_cpu=lambda: sched_ns(rpid))
    finally:
        stop(procs)


def report(axis, sizes, results, note):
    rows = []
    for size, r in zip(sizes, results):
        o, u = r["ours"], r["upstream"]
        rows.append([f"{size:,}", fmt(o["cpu"], 3), fmt(u["cpu"], 3), fmt(o["cpu"] / u["cpu"]) + "x",
                     fmt(o["side"], 3), fmt(u["side"], 3), fmt(o["side"] / u["side"]) + "x",
                     fmt(o["p50_each"]), fmt(u["p50_each"]), fmt(o["rss"], 1), fmt(u["rss"], 1),
                     fmt(o["rss"] / u["rss"]) + "x", f"{o['series']:,}", f"{u['series']:,}", o["rounds"]])
    print(f"\n### {axis} ({note})\n")
    print(markdown_table([axis, "exporter CPU ms ours", "upstream", "ratio", "Redis CPU ms ours", "upstream",
                          "ratio", "p50 ms ours", "upstream", "RSS MB ours", "upstream", "ratio",
                          "series ours", "upstream", "rounds"], rows))


def panels(axis, sizes, results, per):
    up = "upstream 1.45"
    return [
        vs_panel(f"exporter CPU {per} vs {axis}", axis, sizes, results, "cpu", "ms", up),
        vs_panel(f"Redis CPU {per} vs {axis}", axis, sizes, results, "side", "ms", up),
        vs_panel(f"p50 of one scrape vs {axis}", axis, sizes, results, "p50_each", "ms", up),
        vs_panel(f"RSS vs {axis}", axis, sizes, results, "rss", "MB", up, ylog=False),
        ratio_panel(axis, sizes, results,
                    {"ours CPU ratio": "cpu", "ours Redis-CPU ratio": "side", "ours RSS ratio": "rss"},
                    [{"y": 0.33, "label": "CPU target 0.33x"}]),
    ]


def main():
    ap = scaling_parser("redis", 100, 10.0, "10 targets and 100k keys at most")
    args = ap.parse_args()
    for exe in (args.ours, UPSTREAM):
        if not os.path.exists(exe):
            raise SystemExit(f"missing {exe} (cargo build --release -p redis-exporter)")
    target_sizes = [1, 10] + ([] if args.quick else [100])
    key_sizes = [10_000, 100_000] + ([] if args.quick else [1_000_000])

    tmp = tempfile.mkdtemp(prefix="redisscale", dir="/tmp")
    servers = []
    try:
        print(f"targets: {target_sizes}", flush=True)
        target_results = []
        for n in target_sizes:
            target_results.append(measure_targets(args, tmp, n, servers))
            o, u = target_results[-1]["ours"], target_results[-1]["upstream"]
            print(f"  {n} targets: ours {o['cpu']:.3f} ms/target, upstream {u['cpu']:.3f}", flush=True)
        stop([p for p, _ in servers])
        servers.clear()

        print(f"keys, --check-keys=db0=check:*: {key_sizes}", flush=True)
        rp, rport = start_redis(tmp, "keys")
        servers.append((rp, rport))
        wait_redis(rport)
        call(rport, *[["SET", f"check:{i}", "x" * (i % 50)] for i in range(100)])
        key_results = []
        for n in key_sizes:
            call(rport, ["DEBUG", "POPULATE", str(n), "key"])
            key_results.append(measure_keys(args, rport, rp.pid, n))
            o, u = key_results[-1]["ours"], key_results[-1]["upstream"]
            print(f"  {n:,} keys: ours {o['cpu']:.2f} ms, upstream {u['cpu']:.2f}; redis {o['side']:.1f} vs "
                  f"{u['side']:.1f} ms; p50 {o['p50']:.1f} vs {u['p50']:.1f} ms", flush=True)
    finally:
        stop([p for p, _ in servers])
        shutil.rmtree(tmp, ignore_errors=True)

    print("\nredis exporter vs redis_exporter 1.45")
    report("targets", target_sizes, target_results, "per target scrape through /scrape?target=, 1,000 keys each")
    report("keys", key_sizes, key_results, "one instance, --check-keys=db0=check:* matching 100 keys")
    out = plot(args.plot, "Redis exporter: ours vs redis_exporter 1.45",
               panels("targets (/scrape?target=)", target_sizes, target_results, "per target scrape")
               + panels("keys (--check-keys)", key_sizes, key_results, "per scrape"), cols=5)
    if out:
        print(f"\nplot: {os.path.relpath(out, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
