"""Benchmark plumbing shared by `python -m dsconv` and `python -m dsconv bench`: the shapes file,
the timing method, and the op cases (inputs, packed weights, preallocated outputs, cost, kernel).

Method: every callable is warmed up, then timed in rounds; each round runs every callable once,
in an order rotated by one each round, so that drift (frequency, other processes) hits all of
them alike. A sample batches enough calls to last >= 0.2 ms. Rounds go on until the time budget
is spent (at least `min_rounds`). We report medians and the interquartile range.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

OPS = {"dw": "depthwise", "pw": "pointwise", "conv": "conv2d", "sep": "separable"}
LAYOUTS = ("NCHW", "NHWC")


@dataclasses.dataclass(frozen=True)
class Layer:
    """One line of a shapes file (see bench/shapes.txt)."""
    name: str
    op: str      # dw | pw | conv | sep
    cin: int
    cout: int
    h: int
    w: int
    k: int
    stride: int
    repeat: int = 1

    @property
    def padding(self) -> int:
        return self.k // 2

    def array_shape(self, layout: str, channels: Optional[int] = None) -> tuple:
        c = self.cin if channels is None else channels
        return (1, c, self.h, self.w) if layout == "NCHW" else (1, self.h, self.w, c)

    @property
    def out_hw(self) -> tuple:
        p = self.padding
        return ((self.h + 2 * p - self.k) // self.stride + 1, (self.w + 2 * p - self.k) // self.stride + 1)

    def describe(self) -> str:
        if self.op == "pw":
            return f"pw {self.cin}->{self.cout} {self.h}x{self.w}"
        kind = {"dw": "dw", "conv": "conv", "sep": "dw+pw"}[self.op]
        return f"{kind}{self.k}x{self.k}/s{self.stride} {self.cin}->{self.cout} {self.h}x{self.w}"


def parse_shapes(text: str, source: str = "<shapes>") -> List[Layer]:
    """Parses the shapes format; errors name the file and line."""
    layers: List[Layer] = []
    seen = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue

        def fail(msg):
            raise ValueError(f"{source}:{lineno}: {msg}: {raw.strip()!r}")

        if len(line) not in (8, 9):
            fail("expected 'name op cin cout h w k stride [repeat]'")
        name, op = line[0], line[1]
        if op not in OPS:
            fail(f"op must be one of {', '.join(OPS)}")
        try:
            nums = [int(v) for v in line[2:]]
        except ValueError:
            fail("cin, cout, h, w, k, stride and repeat must be integers")
        if any(v <= 0 for v in nums):
            fail("sizes must be positive")
        layer = Layer(name, op, *nums)
        if name in seen:
            fail(f"duplicate name {name!r}")
        if op == "pw" and (layer.k != 1 or layer.stride != 1):
            fail("a pw layer has k = 1 and stride 1")
        if op == "dw" and layer.cout % layer.cin:
            fail("a dw layer's cout must be a multiple of cin (the depth multiplier)")
        seen.add(name)
        layers.append(layer)
    return layers


def read_shapes(path) -> List[Layer]:
    """Parses a shapes file; a missing file or a bad line exits with its message."""
    path = Path(path)
    try:
        return parse_shapes(path.read_text(), str(path))
    except OSError as e:
        raise SystemExit(f"cannot read the shapes file {path}: {e.strerror}") from None
    except ValueError as e:
        raise SystemExit(str(e)) from None


def default_shapes_path() -> Optional[Path]:
    """bench/shapes.txt of the source checkout, or the copy installed beside the package."""
    here = Path(__file__)
    for candidate in (here.resolve().parents[2] / "bench" / "shapes.txt", here.parent / "_bench_shapes.txt"):
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------------------- timing

@dataclasses.dataclass
class Stats:
    """Seconds per call: median and quartiles over the samples."""
    median: float
    q1: float
    q3: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> "Stats":
        s = sorted(samples)
        if len(s) == 1:
            return cls(s[0], s[0], s[0], 1)
        q1, _, q3 = statistics.quantiles(s, n=4, method="inclusive")
        return cls(statistics.median(s), q1, q3, len(s))

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        return (self.q3 - self.q1) / self.median if self.median > 0 else 0.0

    def to_dict(self) -> dict:
        return {"median": self.median, "q1": self.q1, "q3": self.q3, "n": self.n}


SAMPLE_FLOOR_S = 2e-4


def measure(fns: Dict[str, Callable[[], object]], budget_s: float, *, min_rounds: int = 3,
            max_rounds: int = 2000) -> Dict[str, List[float]]:
    """Times each callable in alternating rounds (see the module doc); returns, per name, the
    seconds per call of each round, in round order (so round-wise sums are meaningful).

    A callable so slow that one round exceeds the budget (a scalar reference kernel on a large
    layer) is timed once, on its warm-up call (its outputs are pre-touched, so that call pays no
    first-touch cost): the report then shows n = 1."""
    clock = time.perf_counter
    names = list(fns)
    first = {}
    for name in names:
        t0 = clock()
        fns[name]()  # warm-up: lazy allocations, caches, branch predictors
        first[name] = clock() - t0
    if sum(first.values()) > budget_s:
        return {name: [first[name]] for name in names}
    inner = {name: max(1, int(SAMPLE_FLOOR_S / max(t, 1e-9))) for name, t in first.items()}
    min_rounds = max(1, min(min_rounds, int(2 * budget_s / sum(first.values()))))
    samples: Dict[str, List[float]] = {name: [] for name in names}
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = clock()
        r = 0
        while r < max_rounds and (r < min_rounds or clock() - start < budget_s):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                fn, k = fns[name], inner[name]
                t0 = clock()
                for _ in range(k):
                    fn()
                samples[name].append((clock() - t0) / k)
            r += 1
    finally:
        if gc_was_enabled:
            gc.enable()
    return samples


# ---------------------------------------------------------------------------------- op cases

@dataclasses.dataclass
class Case:
    """One op on one layer, ready to time: `packed` (weights packed once, out= preallocated) and
    `raw` (PyTorch-layout weights, packed inside every call)."""
    op: str            # depthwise | pointwise | conv2d | separable
    layout: str
    cost: object       # dsconv.cost.Cost
    kernel: str
    packed: Callable[[], object]
    raw: Callable[[], object]
    x: np.ndarray      # the input, in `layout`
    weights: tuple     # PyTorch-layout weights (separable: depthwise, pointwise)
    biases: tuple
    y: np.ndarray      # the preallocated output


def _rng_array(rng, shape):
    return rng.standard_normal(shape, dtype=np.float32)


def make_case(layer: Layer, op: str, layout: str, rng=None) -> Case:
    """op: depthwise | pointwise | conv2d | separable, with `layer`'s sizes (for a sep layer the
    depthwise part is k x k on cin and the pointwise part cin -> cout). Shapes given to dsconv
    (ops, kernel_name, cost) are array shapes, in `layout`'s order."""
    import dsconv
    from dsconv import cost as cm

    rng = rng or np.random.default_rng(0)
    k, s, p = layer.k, layer.stride, layer.padding
    x = _rng_array(rng, layer.array_shape(layout))
    oh, ow = layer.out_hw

    def out_array(c, h, w):
        y = np.empty((1, c, h, w) if layout == "NCHW" else (1, h, w, c), np.float32)
        y.fill(0.0)  # first touch here, not in the first timed call
        return y

    if op == "depthwise":
        cout = layer.cout if layer.op == "dw" else layer.cin
        w = _rng_array(rng, (cout, 1, k, k))
        b = _rng_array(rng, (cout,))
        pw_ = dsconv.pack_weights(w, "depthwise", layout=layout)
        y = out_array(cout, oh, ow)
        kw = dict(stride=s, padding=p, layout=layout, out=y)
        return Case(op, layout, cm.depthwise(x.shape, k, stride=s, padding=p, multiplier=cout // layer.cin,
                                             layout=layout),
                    dsconv.kernel_name("depthwise", x.shape, w.shape, stride=s, padding=p, layout=layout),
                    lambda: dsconv.depthwise_conv2d(x, pw_, b, **kw), lambda: dsconv.depthwise_conv2d(x, w, b, **kw),
                    x, (w,), (b,), y)
    if op == "pointwise":
        # For a dw/conv/sep layer the pointwise part runs on the depthwise output grid.
        h, w_ = (layer.h, layer.w) if layer.op == "pw" else (oh, ow)
        xs = (1, layer.cin, h, w_) if layout == "NCHW" else (1, h, w_, layer.cin)
        x = x if xs == x.shape else _rng_array(rng, xs)
        w = _rng_array(rng, (layer.cout, layer.cin))
        b = _rng_array(rng, (layer.cout,))
        pw_ = dsconv.pack_weights(w, "pointwise", layout=layout)
        y = out_array(layer.cout, h, w_)
        return Case(op, layout, cm.pointwise(x.shape, layer.cout, layout=layout),
                    dsconv.kernel_name("pointwise", x.shape, w.shape, layout=layout),
                    lambda: dsconv.pointwise_conv2d(x, pw_, b, layout=layout, out=y),
                    lambda: dsconv.pointwise_conv2d(x, w, b, layout=layout, out=y), x, (w,), (b,), y)
    if op == "conv2d":
        w = _rng_array(rng, (layer.cout, layer.cin, k, k))
        b = _rng_array(rng, (layer.cout,))
        pw_ = dsconv.pack_weights(w, "conv2d", layout=layout)
        y = out_array(layer.cout, oh, ow)
        kw = dict(stride=s, padding=p, layout=layout, out=y)
        return Case(op, layout, cm.standard(x.shape, layer.cout, k, stride=s, padding=p, layout=layout),
                    dsconv.kernel_name("conv2d", x.shape, w.shape, stride=s, padding=p, layout=layout),
                    lambda: dsconv.conv2d(x, pw_, b, **kw), lambda: dsconv.conv2d(x, w, b, **kw), x, (w,), (b,), y)
    if op == "separable":
        wd = _rng_array(rng, (layer.cin, 1, k, k))
        wp = _rng_array(rng, (layer.cout, layer.cin))
        bd, bp = _rng_array(rng, (layer.cin,)), _rng_array(rng, (layer.cout,))
        pd = dsconv.pack_weights(wd, "depthwise", layout=layout)
        pp = dsconv.pack_weights(wp, "pointwise", layout=layout)
        y = out_array(layer.cout, oh, ow)
        kw = dict(stride=s, padding=p, layout=layout, out=y)
        mid = (1, layer.cin, oh, ow) if layout == "NCHW" else (1, oh, ow, layer.cin)
        kernel = (dsconv.kernel_name("depthwise", x.shape, wd.shape, stride=s, padding=p, layout=layout) + " + "
                  + dsconv.kernel_name("pointwise", mid, wp.shape, layout=layout))
        return Case(op, layout, cm.separable(x.shape, layer.cout, k, stride=s, padding=p, layout=layout), kernel,
                    lambda: dsconv.separable_conv2d(x, pd, pp, bd, bp, **kw),
                    lambda: dsconv.separable_conv2d(x, wd, wp, bd, bp, **kw), x, (wd, wp), (bd, bp), y)
    raise ValueError(f"unknown op {op!r}")


def ops_of(layer: Layer) -> List[str]:
    """The ops `python -m dsconv bench` and the C++ benchmarks time for a shapes-file line."""
    return {"dw": ["depthwise"], "pw": ["pointwise"], "conv": ["conv2d"],
            "sep": ["depthwise", "pointwise", "separable"]}[layer.op]


# -------------------------------------------------------------------------------- progress line

class Progress:
    """One status line on stderr, rewritten in place on a terminal."""

    def __init__(self, stream=None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._width = 0

    def update(self, text: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.tty and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
        self._width = 0


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def emit(result, json_target, render):
    """Prints the result: as JSON on stdout when json_target is "-", else as the rendered table,
    also writing the JSON to the file json_target names (if any)."""
    if json_target == "-":
        json.dump(result, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return
    print(render(result))
    if json_target:
        with open(json_target, "w") as f:
            json.dump(result, f, indent=1)
