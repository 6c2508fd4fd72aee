"""Sends a steady mix of demo tasks: `python demo_producer.py [--rate 2] [--failure-rate 0.05]`."""

import argparse
import random
import time

from demo_tasks import flaky, forecast, retrying


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=2.0, help="tasks per second")
    ap.add_argument("--failure-rate", type=float, default=0.05)
    ap.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until stopped")
    args = ap.parse_args()
    end = time.time() + args.duration if args.duration else float("inf")
    while time.time() < end:
        pick = random.random()
        if pick < 0.6:
            forecast.delay(random.randint(1, 20))
        elif pick < 0.95:
            flaky.delay(args.failure_rate)
        else:
            retrying.delay()
        time.sleep(1.0 / args.rate)


if __name__ == "__main__":
    main()
