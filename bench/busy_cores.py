"""Two-thread calls while other processes keep cores busy (a phone or a Pi running anything else).

For each load (no busy process, then one busy process per core but one) and each thread count,
prints the median time per call of a few MobileNet layers, measured in this process. With a
core taken, two threads can at best match one; what this checks is that they never stall: an
OpenMP join that waits for a worker without a core costs a scheduler slice (milliseconds),
which threads.hpp's fork gate turns into single-thread calls. Run with a build on PYTHONPATH:
    PYTHONPATH=build-x/py python3 bench/busy_cores.py [--calls 400]
"""
import argparse
import multiprocessing as mp
import os
import statistics
import time

import numpy as np

import dsconv

# (name, op, channels in, channels out, size, kernel, stride): layers of ../shared/anchors/layers.py
LAYERS = [("dw3x3 C384 14x14", "depthwise", 384, 384, 14, 3, 1), ("dw3x3 C144 56x56", "depthwise", 144, 144, 56, 3, 1),
          ("dw5x5 C672 14x14", "depthwise", 672, 672, 14, 5, 1), ("pw 384->64 14x14", "pointwise", 384, 64, 14, 1, 1),
          ("pw 960->320 7x7", "pointwise", 960, 320, 7, 1, 1)]


def spin(stop):
    while not stop.is_set():
        pass


def make_call(op, cin, cout, hw, k, s, rng):
    x = rng.standard_normal((1, hw, hw, cin), dtype=np.float32)
    ho = (hw + 2 * (k // 2) - k) // s + 1
    y = np.empty((1, ho, ho, cout), np.float32)
    if op == "depthwise":
        w = dsconv.pack_weights(rng.standard_normal((cout, 1, k, k), dtype=np.float32), op, layout="NHWC")
        return lambda: dsconv.depthwise_conv2d(x, w, None, stride=s, padding=k // 2, layout="NHWC", out=y)
    w = dsconv.pack_weights(rng.standard_normal((cout, cin), dtype=np.float32), op, layout="NHWC")
    return lambda: dsconv.pointwise_conv2d(x, w, None, layout="NHWC", out=y)


def median_us(call, calls):
    for _ in range(calls // 4):
        call()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=400, help="timed calls per layer, load and thread count")
    args = ap.parse_args()
    cores = len(os.sched_getaffinity(0))
    rng = np.random.default_rng(0)
    calls = [(name, make_call(*spec, rng)) for name, *spec in LAYERS]
    threads = sorted({1, min(2, cores), cores})
    print(f"{cores} cores; median us per call; columns: busy processes / threads")
    header = [f"{busy} busy / {t}T" for busy in (0, cores - 1) for t in threads]
    print("| layer | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    rows = {name: [] for name, _ in calls}
    for busy in (0, cores - 1):
        stop = mp.Event()
        spinners = [mp.Process(target=spin, args=(stop,), daemon=True) for _ in range(busy)]
        for p in spinners:
            p.start()
        time.sleep(0.2)
        try:
            for name, call in calls:
                for t in threads:
                    dsconv.set_num_threads(t)
                    rows[name].append(median_us(call, args.calls))
        finally:
            stop.set()
            for p in spinners:
                p.join()
    for name, cells in rows.items():
        print(f"| {name} | " + " | ".join(f"{c:.1f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
