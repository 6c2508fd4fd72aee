#!/usr/bin/env python3
"""Side-by-side scrape benchmark: one of our exporters against its upstream Go peer, in one run.

Starts both on loopback with the same collectors, warms them up, then scrapes each N times in
alternation (so both see the same machine state) and reports p50/p99 latency, CPU per scrape
(from /proc/<pid>/stat), response size and peak RSS, with ours/upstream ratios.

    python3 benches/scrape_compare.py node [--scrapes 200]

Build ours first: cargo build --release -p node-exporter
"""

import argparse
import os
import statistics
import subprocess
import sys
from benchlib import cpu_seconds, free_port, scrape, status_mb, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The collectors ours enables by default; upstream gets exactly the same set.
NODE_COLLECTORS = [
    "arp", "conntrack", "cpu", "cpufreq", "diskstats", "edac", "entropy", "filefd",
    "filesystem", "hwmon", "loadavg", "meminfo", "netclass", "netdev", "netstat", "os",
    "powersupplyclass", "pressure", "schedstat", "selinux", "sockstat", "softnet", "stat",
    "textfile", "thermal_zone", "time", "timex", "udp_queues", "uname", "vmstat",
]


def exporters(kind, ours_bin):
    if kind == "node":
        flags = ["--collector.disable-defaults"] + [f"--collector.{c}" for c in NODE_COLLECTORS]
        return [
            ("ours", [ours_bin] + flags, "--web.listen-address=127.0.0.1:{port}"),
            ("upstream", ["prometheus-node-exporter"] + flags, "--web.listen-address=127.0.0.1:{port}"),
        ]
    raise SystemExit(f"unknown exporter kind {kind!r}")




def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["node"])
    ap.add_argument("--scrapes", type=int, default=200)
    ap.add_argument("--ours", default=None, help="path to our binary (default: target/release)")
    args = ap.parse_args()
    ours_bin = args.ours or os.path.join(ROOT, "target", "release", f"{args.kind}-exporter")

    procs, conns, stats = [], {}, {}
    try:
        for name, cmd, listen in exporters(args.kind, ours_bin):
            port = free_port()
            p = subprocess.Popen(cmd + [listen.format(port=port)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append((name, p))
            conns[name] = (p, wait_http(port, deadline=20, timeout=5))
        for _ in range(10):
            for name, (p, c) in conns.items():
                scrape(c)
        cpu0 = {name: cpu_seconds(p.pid) for name, (p, _) in conns.items()}
        lat = {name: [] for name in conns}
        size, families = {}, {}
        for _ in range(args.scrapes):
            for name, (p, c) in conns.items():
                t, body = scrape(c)
                lat[name].append(t * 1000)
                size[name] = len(body)
                families[name] = body.count(b"\n# TYPE ")
        for name, (p, _) in conns.items():
            l = sorted(lat[name])
            stats[name] = {
                "p50": statistics.median(l),
                "p99": l[int(len(l) * 0.99) - 1],
                "cpu": (cpu_seconds(p.pid) - cpu0[name]) * 1000 / args.scrapes,
                "bytes": size[name],
                "rss": status_mb(p.pid, "VmRSS"),
                "peak": status_mb(p.pid, "VmHWM"),
                "families": families[name],
            }
    finally:
        for _, p in procs:
            p.terminate()
            p.wait(timeout=10)

    o, u = stats["ours"], stats["upstream"]
    print(f"{args.kind} exporter, {args.scrapes} sequential scrapes each, same collectors\n")
    print("| metric | ours | upstream | ours/upstream |")
    print("|---|---|---|---|")
    rows = [("p50 latency (ms)", "p50"), ("p99 latency (ms)", "p99"),
            ("CPU per scrape (ms)", "cpu"), ("RSS after (MB)", "rss"),
            ("peak RSS (MB)", "peak"), ("response bytes", "bytes"), ("families", "families")]
    for label, key in rows:
        ratio = o[key] / u[key] if u[key] else float("nan")
        print(f"| {label} | {o[key]:.2f} | {u[key]:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
