"""Measures the smallest layer worth splitting across threads.

For depthwise and pointwise layers of growing size, times each call with the split forced
(threshold 0) at 1 and at N threads, alternating, and prints the speed-up per MAC count. The
threshold dsconv uses (cpp/src/core/threads.cpp) is the MAC count per thread above which the
split pays on every layer measured.

    python scripts/measure_thread_threshold.py [--threads 2]
"""

import argparse
import statistics
import time

import numpy as np

import dsconv
from dsconv import _core


def median_time(fn, budget=0.05):
    fn()
    times = []
    end = time.perf_counter() + budget
    while time.perf_counter() < end or len(times) < 7:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def layers():
    for hw in (2, 4, 7, 10, 14, 20, 28):
        for c in (16, 64, 256):
            yield "depthwise", c, hw
            yield "pointwise", c, hw


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    saved = _core._min_macs_per_thread()
    _core._set_min_macs_per_thread(1)
    rows = []
    try:
        for op, c, hw in layers():
            x = rng.standard_normal((1, hw, hw, c)).astype(np.float32)
            if op == "depthwise":
                w = dsconv.pack_weights(rng.standard_normal((c, 1, 3, 3)).astype(np.float32), op, layout="NHWC")
                y = np.empty_like(x)
                call = lambda: dsconv.depthwise_conv2d(x, w, padding=1, layout="NHWC", out=y)  # noqa: E731
                macs = c * hw * hw * 9
            else:
                w = dsconv.pack_weights(rng.standard_normal((c, c)).astype(np.float32), op, layout="NHWC")
                y = np.empty_like(x)
                call = lambda: dsconv.pointwise_conv2d(x, w, layout="NHWC", out=y)  # noqa: E731
                macs = c * c * hw * hw
            t = {1: [], args.threads: []}
            for _ in range(5):
                for n in t:
                    dsconv.set_num_threads(n)
                    t[n].append(median_time(call))
            speedup = statistics.median(t[1]) / statistics.median(t[args.threads])
            rows.append((macs, op, c, hw, statistics.median(t[1]) * 1e6, speedup))
    finally:
        _core._set_min_macs_per_thread(saved)
    print(f"{'MACs':>10} {'op':>10} {'C':>4} {'HxW':>6} {'1 thread us':>12} {'speed-up':>9}")
    for macs, op, c, hw, us, sp in sorted(rows):
        print(f"{macs:>10} {op:>10} {c:>4} {hw:>3}x{hw:<3} {us:>12.1f} {sp:>9.2f}")
    losing = [macs for macs, *_, sp in rows if sp < 1.05]
    print(f"largest layer where {args.threads} threads do not pay (< 1.05x): {max(losing) if losing else 0} MACs")


if __name__ == "__main__":
    main()
