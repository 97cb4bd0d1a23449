"""Depthwise and dense convolution with the input against an inaccessible page.

Where a tensor starts or ends depends on the allocator: a large NumPy array is its own mmap, and
the page before or after it is often unmapped. A kernel that issues loads (even fully masked
ones) at addresses in the padding around the input touches that page; x86 then takes a
microcode assist per load. This times each layer with the input in an ordinary NumPy array,
starting right after a PROT_NONE page, and ending right before one, alternating in one process,
and checks that the three give the same output (to rounding for the dense NHWC kernel).

    PYTHONPATH=build-x/py python3 bench/guard_pages.py [--threads 1] [--calls 200]
"""

import argparse
import ctypes
import mmap
import statistics
import time

import numpy as np

import dsconv

PAGE = mmap.PAGESIZE
PROT_NONE = 0  # not exported by the mmap module
LAYERS = [  # op, layout, cin, cout, hw, k, stride
    ("depthwise", "NHWC", 672, 672, 14, 5, 1),
    ("depthwise", "NHWC", 1152, 1152, 7, 5, 1),
    ("depthwise", "NHWC", 120, 120, 28, 5, 1),
    ("depthwise", "NHWC", 72, 72, 56, 5, 2),
    ("depthwise", "NHWC", 96, 96, 28, 7, 1),
    ("depthwise", "NHWC", 960, 960, 7, 3, 1),
    ("depthwise", "NCHW", 672, 672, 14, 5, 1),
    ("conv2d", "NHWC", 64, 64, 28, 3, 1),
    ("conv2d", "NCHW", 64, 64, 28, 3, 1),
]


class Fenced:
    """Anonymous pages for n bytes between two PROT_NONE pages."""

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

    def __init__(self, nbytes):
        self.pages = (nbytes + PAGE - 1) // PAGE
        self.size = (self.pages + 2) * PAGE
        base = self.libc.mmap(None, self.size, mmap.PROT_READ | mmap.PROT_WRITE,
                              mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if base in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        self.base = base
        for guard in (base, base + (self.pages + 1) * PAGE):
            if self.libc.mprotect(guard, PAGE, PROT_NONE) != 0:
                raise OSError(ctypes.get_errno(), "mprotect failed")

    def array(self, like, at_end):
        """A copy of `like` starting right after the first guard page, or ending right before the second."""
        start = self.base + PAGE + (self.pages * PAGE - like.nbytes if at_end else 0)
        a = np.frombuffer((ctypes.c_char * like.nbytes).from_address(start), dtype=like.dtype).reshape(like.shape)
        a[...] = like
        return a

    def close(self):
        self.libc.munmap(self.base, self.size)


def median_us(call, calls):
    call()
    samples = []
    for _ in range(calls):
        t = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t) * 1e6)
    return statistics.median(samples)


def bench_layer(op, layout, cin, cout, hw, k, stride, calls, rng):
    x = rng.standard_normal((1, hw, hw, cin) if layout == "NHWC" else (1, cin, hw, hw), dtype=np.float32)
    w = rng.standard_normal((cout, 1 if op == "depthwise" else cin, k, k), dtype=np.float32)
    wp = dsconv.pack_weights(w, op, layout=layout)
    fn = dsconv.depthwise_conv2d if op == "depthwise" else dsconv.conv2d
    fences = [Fenced(x.nbytes), Fenced(x.nbytes)]
    inputs = {"ordinary": x, "after a guard page": fences[0].array(x, False),
              "before a guard page": fences[1].array(x, True)}
    expected = fn(x, wp, None, stride=stride, padding=k // 2, layout=layout)
    y = np.empty_like(expected)
    times = {name: [] for name in inputs}
    for name, xi in inputs.items():
        fn(xi, wp, None, stride=stride, padding=k // 2, layout=layout, out=y)
        # Depthwise must match bit for bit; the dense NHWC kernel sums an input off a 64-byte
        # boundary in another order (README, "Threads"), so it may differ by rounding.
        same = np.array_equal(y, expected) if op == "depthwise" else np.allclose(y, expected, rtol=1e-5, atol=1e-5)
        if not same:
            raise SystemExit(f"{op} {layout}: the output differs with the input {name}")
    for _ in range(5):  # alternate, so drift hits all three alike
        for name, xi in inputs.items():
            times[name].append(median_us(lambda: fn(xi, wp, None, stride=stride, padding=k // 2, layout=layout,
                                                    out=y), max(1, calls // 5)))
    for f in fences:
        f.close()
    return {name: statistics.median(v) for name, v in times.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--calls", type=int, default=200, help="timed calls per layer and placement")
    args = ap.parse_args()
    dsconv.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    print(f"threads: {args.threads}; median us per call")
    print("| layer | ordinary array | after a guard page | before a guard page |")
    print("|---|---|---|---|")
    for op, layout, cin, cout, hw, k, stride in LAYERS:
        t = bench_layer(op, layout, cin, cout, hw, k, stride, args.calls, rng)
        name = f"{'dw' if op == 'depthwise' else 'conv'}{k}x{k} {layout} {cin}->{cout} {hw}x{hw} s{stride}"
        print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in t.values()) + " |", flush=True)


if __name__ == "__main__":
    main()
