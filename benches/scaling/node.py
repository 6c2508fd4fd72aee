#!/usr/bin/env python3
"""How the node exporter's cost grows with network interfaces, mounts and textfile series: ours
against Debian's prometheus-node-exporter 1.5, same collectors (benches/scrape_compare.py's set),
in one run.

Everything happens inside namespaces this script makes and removes:
  * a network namespace (`ip netns add`), holding only `lo` and the inert links made here
    (1, 10, 100, 500: `ip link add dN type ifb`, set up; `type dummy` where the kernel has the
    dummy driver, with NODE_SCALING_LINK_TYPE=dummy: this machine type's kernel does not);
  * `ip netns exec NS unshare --pid --fork --mount-proc`: a private mount namespace (so the
    tmpfs mounts, 10, 100 and 1,000 of them under a temp dir, never reach the host) and a PID
    namespace in which this script is PID 1, because both exporters read the mount table of
    PID 1 (`/proc/1/mountinfo`, `/proc/1/mounts`);
  * a textfile directory with one .prom file of 100, 1,000 and 10,000 series
    (`--collector.textfile.directory`, both).
Both exporters listen on 127.0.0.1 inside the namespace and are restarted at every size; each size
is a bounded number of alternating rounds. Per exporter: CPU per scrape (schedstat of all
threads), p50, RSS and series. The namespace, links and mounts go when the script ends (the PID
namespace's init exits, then `ip netns del`).

    cargo build --release -p node-exporter
    python3 benches/scaling/node.py [--quick]
"""

import argparse
import ctypes
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402
from benchlib import (ROOT, fmt, free_port, markdown_table, plot, ratio_panel, scaling_parser,  # noqa: E402
                      scrape_rounds, stop, vs_panel, wait_http)
from scrape_compare import NODE_COLLECTORS  # noqa: E402

UPSTREAM = "/usr/bin/prometheus-node-exporter"
IFACES = [1, 10, 100, 500]
MOUNTS = [10, 100, 1000]
SERIES = [100, 1000, 10000]
# `dummy` is the natural choice, but this machine type's kernel has no dummy driver (nor modules);
# `ifb` links are just as inert: standalone devices with no peer and no traffic.
LINK_TYPE = os.environ.get("NODE_SCALING_LINK_TYPE", "ifb")


_THREAD_NS = {}


def sched_ns_keeping_exited(pid):
    """benchlib.sched_ns, but a thread that has exited keeps the CPU it had when last seen.

    A thread exiting between the reads before and after the rounds (a tokio blocking-pool thread
    idling out after 10 s, as ours does with 500 interfaces, whose collectors fan out) would
    otherwise take its whole lifetime's CPU out of the second sum: a negative CPU per scrape."""
    seen = _THREAD_NS.setdefault(pid, {})
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                seen[path] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just exited: its last reading stays
    return sum(seen.values())


# scrape_rounds reads the exporters' CPU through benchlib's module-level sched_ns.
benchlib.sched_ns = sched_ns_keeping_exited


def write_textfile(d, n):
    families = max(1, n // 100)
    with open(os.path.join(d, "bench.prom.tmp"), "w") as f:
        for fam in range(families):
            f.write(f"# HELP bench_textfile_{fam} Synthetic series.\n# TYPE bench_textfile_{fam} gauge\n")
            for i in range(n // families):
                f.write(f'bench_textfile_{fam}{{instance_id="i{i}",zone="z{i % 7}"}} {i}.5\n')
    os.rename(os.path.join(d, "bench.prom.tmp"), os.path.join(d, "bench.prom"))


def measure(args, textdir):
    flags = ["--collector.disable-defaults"] + [f"--collector.{c}" for c in NODE_COLLECTORS] \
        + [f"--collector.textfile.directory={textdir}"]
    procs, targets = [], {}
    try:
        for name, exe in (("ours", args.ours), ("upstream", UPSTREAM)):
            port = free_port()
            p = subprocess.Popen([exe, *flags, f"--web.listen-address=127.0.0.1:{port}"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            targets[name] = (p.pid, [(wait_http(port), "/metrics")])
        return scrape_rounds(targets, args.rounds, args.budget, warmup=5)
    finally:
        stop(procs)


def inner(args):
    """Runs as PID 1 of the bench's PID namespace, inside its network and mount namespaces."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    work = tempfile.mkdtemp(prefix="nodescale", dir="/tmp")
    textdir = os.path.join(work, "textfile")
    os.makedirs(textdir)
    results = {"ifaces": [], "mounts": [], "series": []}
    ifaces = IFACES if not args.quick else IFACES[:3]
    mounts = MOUNTS if not args.quick else MOUNTS[:2]
    mounted = []
    try:
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        made = 0
        for n in ifaces:
            cmds = [f"link add d{i} type {LINK_TYPE}\nlink set d{i} up\n" for i in range(made, n)]
            subprocess.run(["ip", "-batch", "-"], input="".join(cmds).encode(), check=True)
            made = n
            results["ifaces"].append(measure(args, textdir))
            print(f"  {n} interfaces: ours {results['ifaces'][-1]['ours']['cpu']:.2f} ms, "
                  f"upstream {results['ifaces'][-1]['upstream']['cpu']:.2f} ms", flush=True)
        subprocess.run(["ip", "-batch", "-"], input="".join(f"link del d{i}\n" for i in range(1, made)).encode(),
                       check=True)
        for n in mounts:
            while len(mounted) < n:
                path = os.path.join(work, f"m{len(mounted)}")
                os.mkdir(path)
                if libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, b"size=1m") != 0:
                    raise OSError(ctypes.get_errno(), f"mount tmpfs {path}")
                mounted.append(path)
            results["mounts"].append(measure(args, textdir))
            print(f"  {n} tmpfs mounts: ours {results['mounts'][-1]['ours']['cpu']:.2f} ms, "
                  f"upstream {results['mounts'][-1]['upstream']['cpu']:.2f} ms", flush=True)
        for path in reversed(mounted):
            libc.umount2(path.encode(), 2)  # MNT_DETACH
        mounted.clear()
        for n in SERIES:
            write_textfile(textdir, n)
            results["series"].append(measure(args, textdir))
            print(f"  {n} textfile series: ours {results['series'][-1]['ours']['cpu']:.2f} ms, "
                  f"upstream {results['series'][-1]['upstream']['cpu']:.2f} ms", flush=True)
    finally:
        for path in reversed(mounted):
            libc.umount2(path.encode(), 2)
        shutil.rmtree(work, ignore_errors=True)
    results["sizes"] = {"ifaces": ifaces, "mounts": mounts, "series": SERIES}
    with open(args.inner, "w") as f:
        json.dump(results, f)


def report(axis, sizes, results):
    rows = []
    for size, r in zip(sizes, results):
        o, u = r["ours"], r["upstream"]
        rows.append([f"{size:,}", fmt(o["cpu"]), fmt(u["cpu"]), fmt(o["cpu"] / u["cpu"]) + "x",
                     fmt(o["p50"]), fmt(u["p50"]), fmt(o["p50"] / u["p50"]) + "x", fmt(o["rss"], 1),
                     fmt(u["rss"], 1), fmt(o["rss"] / u["rss"]) + "x", f"{o['series']:,}", f"{u['series']:,}",
                     o["rounds"]])
    print(f"\n### {axis}\n")
    print(markdown_table([axis, "CPU ms ours", "upstream", "ratio", "p50 ms ours", "upstream", "ratio",
                          "RSS MB ours", "upstream", "ratio", "series ours", "upstream", "rounds"], rows))


def panels(axis, sizes, results):
    up = "upstream 1.5"
    return [
        vs_panel(f"CPU per scrape vs {axis}", axis, sizes, results, "cpu", "ms", up),
        vs_panel(f"p50 scrape latency vs {axis}", axis, sizes, results, "p50", "ms", up),
        vs_panel(f"RSS vs {axis}", axis, sizes, results, "rss", "MB", up, ylog=False),
        ratio_panel(axis, sizes, results, {"ours CPU ratio": "cpu", "ours RSS ratio": "rss"},
                    [{"y": 0.2, "label": "CPU target 0.2x"}]),
    ]


def main():
    ap = scaling_parser("node", 150, 6.0, "100 interfaces and 100 mounts at most")
    ap.add_argument("--inner", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inner:
        return inner(args)
    if os.geteuid() != 0:
        raise SystemExit("needs root (network, mount and PID namespaces)")
    for exe in (args.ours, UPSTREAM):
        if not os.path.exists(exe):
            raise SystemExit(f"missing {exe} (cargo build --release -p node-exporter)")

    ns = f"nodescale{os.getpid()}"
    out = tempfile.NamedTemporaryFile(prefix="nodescale", suffix=".json", delete=False)
    out.close()
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        cmd = ["ip", "netns", "exec", ns, "unshare", "--pid", "--fork", "--mount-proc", "--kill-child",
               sys.executable, os.path.abspath(__file__), "--inner", out.name, "--ours", args.ours,
               "--rounds", str(args.rounds), "--budget", str(args.budget)] + (["--quick"] if args.quick else [])
        subprocess.run(cmd, check=True, timeout=1800)
        with open(out.name) as f:
            results = json.load(f)
    finally:
        subprocess.run(["ip", "netns", "del", ns])
        os.unlink(out.name)

    sizes = results["sizes"]
    print("\nnode exporter vs node_exporter 1.5, same collectors")
    report("network interfaces", sizes["ifaces"], results["ifaces"])
    report("tmpfs mounts", sizes["mounts"], results["mounts"])
    report("textfile series", sizes["series"], results["series"])
    png = plot(args.plot, "node exporter: ours vs node_exporter 1.5 (same collectors)",
               panels("network interfaces", sizes["ifaces"], results["ifaces"])
               + panels("tmpfs mounts", sizes["mounts"], results["mounts"])
               + panels("textfile series", sizes["series"], results["series"]), cols=4)
    if png:
        print(f"\nplot: {os.path.relpath(png, ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
