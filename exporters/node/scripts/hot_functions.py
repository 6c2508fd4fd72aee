#!/usr/bin/env python3
"""Writes exporters/node/hot-functions.txt: the functions a default scrape runs, for build.rs to
lay out next to each other (see build.rs for why).

Runs the release binary under valgrind's callgrind with benches/scrape_compare.py's collectors
(our defaults), scrapes it, and lists every function of the binary that ran, in the order
callgrind first names them. Regenerate after a rustc or dependency update (their symbol hashes
change) or a large change to what a scrape runs, then rebuild and re-measure:

    RUSTFLAGS="-C strip=none" cargo build --release -p node-exporter --target-dir /tmp/t
    python3 exporters/node/scripts/hot_functions.py --binary /tmp/t/release/node-exporter
    cargo build --release -p node-exporter
    python3 benches/scrape_compare.py node --scrapes 500

Needs valgrind, and a binary with symbols whose names are the release build's: keep the release
profile (a profile change, even `strip`, changes every symbol's hash) and add the flag instead,
`RUSTFLAGS="-C strip=none" cargo build --release -p node-exporter --target-dir /tmp/t`, then
`--binary /tmp/t/release/node-exporter` (and delete /tmp/t).
"""

import argparse
import os
import subprocess
import sys
import tempfile

NODE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(NODE))
sys.path.insert(0, os.path.join(ROOT, "benches"))
from benchlib import free_port, scrape, wait_http  # noqa: E402
from scrape_compare import NODE_COLLECTORS  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True, help="a release build with symbols (see above)")
    ap.add_argument("--scrapes", type=int, default=50)
    ap.add_argument("--out", default=os.path.join(NODE, "hot-functions.txt"))
    args = ap.parse_args()

    defined = set()
    nm = subprocess.run(["nm", "--defined-only", args.binary], capture_output=True, text=True)
    for line in nm.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "tTwW":
            defined.add(parts[2])
    if not defined:
        sys.exit(f"{args.binary} has no symbols: build it with RUSTFLAGS='-C strip=none' (see --help)")

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        port = free_port()
        flags = ["--collector.disable-defaults"] + [f"--collector.{c}" for c in NODE_COLLECTORS]
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
               "--compress-strings=no", "--compress-pos=no", "--demangle=no", args.binary]
        p = subprocess.Popen(cmd + flags + [f"--web.listen-address=127.0.0.1:{port}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            c = wait_http(port, deadline=120, timeout=60)
            for _ in range(args.scrapes):
                scrape(c)
        finally:
            p.terminate()
            p.wait(timeout=60)
        seen, order = set(), []
        with open(out) as f:
            for line in f:
                if line.startswith(("fn=", "cfn=")):
                    name = line.split("=", 1)[1].strip()
                    if name in defined and name not in seen:
                        seen.add(name)
                        order.append(name)
    with open(args.out, "w") as f:
        f.write("".join(n + "\n" for n in order))
    print(f"{len(order)} functions -> {args.out}")


if __name__ == "__main__":
    sys.exit(main())
