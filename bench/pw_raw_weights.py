"""Cost of a pointwise call with raw (unpacked) weights against the same call with packed ones.

Packed and raw calls alternate in one process (out= given, so neither allocates the output);
prints the median time of each and their ratio, per layer and layout. The thread count comes
from DSCONV_NUM_THREADS. Run with a build on PYTHONPATH:
    DSCONV_NUM_THREADS=1 PYTHONPATH=build-x/py python3 bench/pw_raw_weights.py [--reps 200]
"""
import argparse
import statistics
import time

import numpy as np

import dsconv

# (cin, cout, hw): the pointwise layers of ../shared/anchors/layers.py, then a few others.
LAYERS = [(32, 16, 112), (16, 96, 112), (144, 24, 56), (24, 144, 56), (192, 32, 28), (384, 64, 14),
          (576, 160, 7), (960, 320, 7), (320, 1280, 7), (64, 128, 56), (512, 512, 14), (1152, 192, 7)]


def time_pair(fa, fb, reps, rounds):
    """Medians of fa and fb, timed in alternating rounds of `reps` calls each."""
    ta, tb = [], []
    for _ in range(rounds):
        for f, t in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            for _ in range(reps):
                f()
            t.append((time.perf_counter() - t0) / reps)
    return statistics.median(ta), statistics.median(tb)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=20, help="calls per timed round")
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--layout", choices=["NHWC", "NCHW", "both"], default="both")
    ap.add_argument("--layers", default="", help="indices into LAYERS, comma-separated (default all)")
    args = ap.parse_args()
    layers = [LAYERS[int(i)] for i in args.layers.split(",")] if args.layers else LAYERS
    layouts = ["NHWC", "NCHW"] if args.layout == "both" else [args.layout]
    rng = np.random.default_rng(0)
    print(f"threads {dsconv.get_num_threads()}  isa {dsconv.cpu_info()['isa']}")
    print(f"{'layer':24} {'layout':6} {'packed us':>10} {'raw us':>10} {'raw/packed':>10}  kernel")
    for cin, cout, hw in layers:
        w = rng.standard_normal((cout, cin), dtype=np.float32)
        b = rng.standard_normal(cout, dtype=np.float32)
        for layout in layouts:
            shape = (1, hw, hw, cin) if layout == "NHWC" else (1, cin, hw, hw)
            x = rng.standard_normal(shape, dtype=np.float32)
            out = dsconv.pointwise_conv2d(x, w, b, layout=layout, activation="relu")
            wp = dsconv.pack_weights(w, "pointwise", layout=layout)
            ref = dsconv.pointwise_conv2d(x, wp, b, layout=layout, activation="relu")
            if not np.array_equal(out, ref):
                raise SystemExit(f"raw and packed results differ: {cin}->{cout} {hw}x{hw} {layout}")
            packed = lambda: dsconv.pointwise_conv2d(x, wp, b, layout=layout, activation="relu", out=out)
            raw = lambda: dsconv.pointwise_conv2d(x, w, b, layout=layout, activation="relu", out=out)
            tp, tr = time_pair(packed, raw, args.reps, args.rounds)
            name = dsconv.kernel_name("pointwise", shape, w.shape + (1, 1), layout=layout)
            print(f"{f'pw {cin}->{cout} {hw}x{hw}':24} {layout:6} {tp * 1e6:10.1f} {tr * 1e6:10.1f} "
                  f"{tr / tp:10.3f}  {name}", flush=True)


if __name__ == "__main__":
    main()
