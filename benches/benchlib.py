"""Measurement helpers shared by the side-by-side benchmark scripts in this directory."""

import os
import socket

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process, from /proc/<pid>/stat (clock-tick resolution)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def status_mb(pid, key):
    """A /proc/<pid>/status field in MB, e.g. VmRSS or VmHWM."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------------------------
# Additions for the scaling benchmarks (benches/scaling/): per-thread scheduler CPU, the CPU of a
# process tree, a bounded scrape loop, markdown tables and matplotlib plots from a private venv.

import argparse
import glob
import http.client
import json
import pwd
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sched_ns(pid):
    """Time on CPU of every thread of `pid`, in nanoseconds (scheduler clock)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            with open(path) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that just exited
    return total


def children_of(ppid):
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == ppid:
                out.append(int(entry))
        except OSError:
            pass
    return out


def tree_cpu_ns(parent):
    """CPU of `parent`, its live children (schedstat) and the children it has reaped (cutime +
    cstime): what a forking server such as PostgreSQL spends, connection churn included."""
    total = 0
    for pid in [parent] + children_of(parent):
        try:
            with open(f"/proc/{pid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    with open(f"/proc/{parent}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return total + (int(fields[13]) + int(fields[14])) * 1_000_000_000 // CLK_TCK


def http_get(conn, path="/metrics"):
    """One GET on a kept-alive connection: (seconds, status, body)."""
    start = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "text/plain"})
    resp = conn.getresponse()
    body = resp.read()
    return time.perf_counter() - start, resp.status, body


def scrape(conn, path="/metrics"):
    """One GET that must answer 200: (seconds, body)."""
    elapsed, status, body = http_get(conn, path)
    if status != 200:
        raise RuntimeError(f"HTTP {status}")
    return elapsed, body


def resp(*args):
    """One Redis command in the RESP wire format (an array of bulk strings)."""
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def wait_http(port, path="/metrics", deadline=30, timeout=60, ok=None):
    """A kept-alive connection to 127.0.0.1:port once `path` answers 200 (and `ok(body)`)."""
    end = time.time() + deadline
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            _, status, body = http_get(c, path)
            if status == 200 and (ok is None or ok(body)):
                return c
            c.close()
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"127.0.0.1:{port}{path} did not come up")


def scrape_rounds(targets, max_rounds, budget_s, side_cpu=None, min_rounds=3, warmup=2, path_side_cpu=None):
    """Alternating scrapes of several exporters, bounded by rounds and by time.

    `targets` maps a name to (pid, [(conn, path), ...]): every round scrapes each exporter's
    paths once, the order of the exporters flipping every round. Stops after `max_rounds`, or
    once `budget_s` seconds have passed and `min_rounds` are done. `side_cpu()` (optional) is read
    right before and after each scrape: the CPU the scraped server spent for that exporter;
    `path_side_cpu(path)` instead reads it around each single request (the server that path is
    about: with many servers, the others' idle work stays out).
    Returns per name: p50/p99 scrape ms (a scrape = all its paths), exporter CPU ms per scrape
    (schedstat of all threads), side CPU ms per scrape, RSS and peak RSS in MB, bytes, series,
    and p50_each: the median of the single requests (one path) in ms."""
    names = list(targets)
    for _ in range(warmup):
        for n in names:
            for conn, path in targets[n][1]:
                http_get(conn, path)
    lat = {n: [] for n in names}
    each = {n: [] for n in names}
    side = {n: 0 for n in names}
    cpu0 = {n: sched_ns(targets[n][0]) for n in names}
    size, series = {}, {}
    start = time.time()
    rounds = 0
    while rounds < max_rounds and (rounds < min_rounds or time.time() - start < budget_s):
        for n in (names if rounds % 2 == 0 else names[::-1]):
            pid, paths = targets[n]
            s0 = side_cpu() if side_cpu else 0
            t, total, lines = 0.0, 0, 0
            for conn, path in paths:
                p0 = path_side_cpu(path) if path_side_cpu else 0
                dt, status, body = http_get(conn, path)
                if path_side_cpu:
                    side[n] += path_side_cpu(path) - p0
                if status != 200:
                    raise RuntimeError(f"{n}: HTTP {status} on {path}")
                t += dt
                each[n].append(dt * 1000)
                total += len(body)
                lines += body.count(b"\n") - body.count(b"\n#")
            if side_cpu:
                side[n] += side_cpu() - s0
            lat[n].append(t * 1000)
            size[n], series[n] = total, lines
        rounds += 1
    out = {}
    for n in names:
        pid = targets[n][0]
        out[n] = {
            "rounds": rounds,
            **percentiles(lat[n]),
            "p50_each": statistics.median(each[n]),
            "cpu": (sched_ns(pid) - cpu0[n]) / 1e6 / rounds,
            "side": side[n] / 1e6 / rounds,
            "rss": status_mb(pid, "VmRSS"),
            "peak": status_mb(pid, "VmHWM"),
            "bytes": size[n],
            "series": series[n],
        }
    return out


def percentiles(ms):
    """{"p50": median, "p99": 99th percentile} of a list of latencies."""
    l = sorted(ms)
    return {"p50": statistics.median(l), "p99": l[max(0, int(len(l) * 0.99) - 1)]}


def scrape_summary(lat, pid, size, families):
    """What the compare scripts report of every exporter besides CPU: p50/p99 of the scrape
    latencies `lat` (ms), RSS and peak RSS (MB), and the last response's bytes and families."""
    return {**percentiles(lat), "rss": status_mb(pid, "VmRSS"), "peak": status_mb(pid, "VmHWM"),
            "bytes": size, "families": families}


def print_ratio_table(ours, upstream, rows, upstream_label="upstream", digits=2):
    """The markdown table of a compare script: per (label, key) of `rows`, ours, upstream's and
    ours/upstream."""
    print(f"| metric | ours | {upstream_label} | ours/upstream |")
    print("|---|---|---|---|")
    for label, key in rows:
        o, u = ours[key], upstream[key]
        ratio = o / u if u else float("nan")
        print(f"| {label} | {o:.{digits}f} | {u:.{digits}f} | {ratio:.2f}x |")


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        lines.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(lines)


def fmt(v, digits=2):
    if isinstance(v, str):
        return v
    if v != v:  # NaN
        return "-"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def plot_python():
    """The python of a venv with matplotlib (target/scaling-venv, made on first use), or None."""
    venv = os.environ.get("SCALING_VENV", os.path.join(ROOT, "target", "scaling-venv"))
    py = os.path.join(venv, "bin", "python")
    if os.path.exists(py) and subprocess.run([py, "-c", "import matplotlib"],
                                             capture_output=True).returncode == 0:
        return py
    try:
        if not os.path.exists(py):
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "matplotlib"], check=True)
        return py
    except (subprocess.CalledProcessError, OSError) as e:
        print(f"(no plot: could not make the matplotlib venv: {e})", file=sys.stderr)
        return None


_PLOT_SCRIPT = r"""
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
spec = json.load(sys.stdin)
panels = spec["panels"]
cols = min(len(panels), spec.get("cols", 2))
rows = -(-len(panels) // cols)
fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
from matplotlib.ticker import FuncFormatter
def human(v, _=None):
    for div, unit in ((1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:g}{unit}"
    return f"{v:g}"
plain = FuncFormatter(human)
ratio_colors = ["tab:blue", "tab:green", "tab:purple", "tab:orange"]
for ax, p in zip([a for row in axes for a in row], panels):
    ratios = 0
    for label, ys in p["lines"].items():
        pts = [(x, y) for x, y in zip(p["x"], ys) if y is not None]
        if not pts:
            continue
        if "ratio" in label:
            style = dict(color=ratio_colors[ratios % 4], marker="o^sv"[ratios % 4], linestyle="--")
            ratios += 1
        elif label.startswith("ours"):
            style = dict(color="tab:blue", marker="o", linestyle="-")
        else:
            style = dict(color="tab:red", marker="s", linestyle="-")
        ax.plot([a for a, _ in pts], [b for _, b in pts], label=label, **style)
    if p.get("xlog"):
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain)
    if p.get("ylog"):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    for h in p.get("hlines", []):
        ax.axhline(h["y"], color="gray", linestyle=":", linewidth=1)
        ax.annotate(h["label"], (0.01, h["y"]), xycoords=("axes fraction", "data"), fontsize=7,
                    color="gray", va="bottom")
    ax.set_title(p["title"], fontsize=10)
    ax.set_xlabel(p["xlabel"], fontsize=9)
    ax.set_ylabel(p["ylabel"], fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
for ax in [a for row in axes for a in row][len(panels):]:
    ax.axis("off")
fig.suptitle(spec["title"], fontsize=11)
fig.tight_layout()
fig.savefig(spec["out"], dpi=spec.get("dpi", 90))
"""


def scaling_parser(name, rounds, budget, quick):
    """The options every scaling bench takes: --ours (default target/release/<name>-exporter),
    --rounds and --budget per size (defaults `rounds` and `budget`), --quick (`quick` says what
    it limits) and --plot (default benches/scaling/plots/<name>.png)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", default=os.path.join(ROOT, "target", "release", f"{name}-exporter"))
    ap.add_argument("--rounds", type=int, default=rounds, help="max alternating rounds per size")
    ap.add_argument("--budget", type=float, default=budget, help="seconds of scraping per size (>= 3 rounds)")
    ap.add_argument("--quick", action="store_true", help=quick)
    ap.add_argument("--plot", default=os.path.join(ROOT, "benches", "scaling", "plots", f"{name}.png"))
    return ap


def vs_panel(title, axis, sizes, results, key, ylabel, upstream, ylog=True, hlines=None):
    """A `plot` panel of `key` against `axis`, ours and upstream's (labelled `upstream`), from
    `results` ({"ours": {key: y}, "upstream": {key: y}} per size)."""
    p = {"title": title, "xlabel": axis, "ylabel": ylabel, "x": sizes, "xlog": True}
    if ylog:
        p["ylog"] = True
    p["lines"] = {"ours": [r["ours"][key] for r in results],
                  upstream: [r["upstream"][key] for r in results]}
    if hlines:
        p["hlines"] = hlines
    return p


def ratio_panel(axis, sizes, results, ratios, hlines):
    """A `plot` panel of ours / upstream against `axis`: `ratios` is {line label: key}."""
    return {"title": f"ours / upstream vs {axis}", "xlabel": axis, "ylabel": "ratio", "x": sizes, "xlog": True,
            "lines": {label: [r["ours"][key] / r["upstream"][key] for r in results]
                      for label, key in ratios.items()},
            "hlines": hlines}


def plot(out, title, panels, cols=2):
    """Writes a PNG of `panels`: each a dict with title, xlabel, ylabel, x (sizes), lines
    ({label: [y per x, or None]}, labels starting with "ours" drawn blue, others red), and
    optionally xlog/ylog and hlines ([{y, label}])."""
    for p in panels:  # a log axis over less than a decade and a half shows almost no ticks
        ys = [y for line in p["lines"].values() for y in line if y]
        if p.get("ylog") and ys and max(ys) / min(ys) < 30:
            p["ylog"] = False
    py = plot_python()
    if py is None:
        return None
    os.makedirs(os.path.dirname(out), exist_ok=True)
    spec = {"out": out, "title": title, "panels": panels, "cols": cols}
    subprocess.run([py, "-c", _PLOT_SCRIPT], input=json.dumps(spec).encode(), check=True)
    return out


PG_BIN = "/usr/lib/postgresql/15/bin"


def as_postgres_owner(cmd):
    """`cmd` as `nobody` when we are root (PostgreSQL refuses to run as root)."""
    if os.geteuid() != 0:
        return cmd
    nobody = pwd.getpwnam("nobody")
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"] + cmd


def start_postgres(tmp, password, *settings):
    """A throw-away PostgreSQL 15 cluster in `tmp` (made if missing): initdb with scram-sha-256
    and `password` for `postgres`, the server on a free loopback port (as root, as `nobody`), each
    of `settings` ("name=value") passed as `-c`. Returns (process, port) once it accepts
    connections."""
    os.makedirs(tmp, exist_ok=True)
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chmod(tmp, 0o755)
    pwfile = os.path.join(tmp, "pw")
    with open(pwfile, "w") as f:
        f.write(password)
    if os.geteuid() == 0:
        for p in (tmp, pwfile):
            os.chown(p, nobody.pw_uid, nobody.pw_gid)
    data = os.path.join(tmp, "data")
    subprocess.run(as_postgres_owner([f"{PG_BIN}/initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256",
                                      f"--pwfile={pwfile}", "--no-sync"]),
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    log = open(os.path.join(tmp, "server.log"), "w")
    cmd = [f"{PG_BIN}/postgres", "-D", data, "-k", tmp, "-c", "listen_addresses=127.0.0.1", "-p", str(port)]
    for setting in settings:
        cmd += ["-c", setting]
    proc = subprocess.Popen(as_postgres_owner(cmd), stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(600):
        if subprocess.run([f"{PG_BIN}/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(port)]).returncode == 0:
            return proc, port
        time.sleep(0.1)
    raise RuntimeError("PostgreSQL did not start")


def stop(procs, timeout=10):
    """Terminates (then kills) every started process, in reverse order; never raises."""
    for p in reversed(procs):
        try:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=timeout)
        except Exception as e:  # keep stopping the others
            print(f"(could not stop pid {p.pid}: {e})", file=sys.stderr)
