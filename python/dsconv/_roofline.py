"""This machine's roofline: peak FMA throughput per ISA and memory bandwidth per cache level,
measured once and cached per machine (CPU model + ISAs) in $XDG_CACHE_HOME/dsconv (or
~/.cache/dsconv). Single thread.

Peak: dsconv._core._peak_flops(isa, seconds) when the core has it (independent FMA chains);
otherwise the library's own pointwise kernel on a GEMM shape whose every image stays in L1
(64 -> 64 channels, 8x8 pixels, 32 images per call), best sample. That is a lower bound of the
peak, only as good as that kernel: the record names the kernel, and the cache is re-measured
when the kernel (or dsconv's version) changes.

Bandwidth: NumPy streaming at a working set of half of each cache level (L1d, L2, L3) and of a
buffer far larger than the last level (DRAM); best of a copy loop (read + write = 8 bytes per
float) and of a row-wise add.reduce over a stride-0 view (12 bytes per float), which avoids
the per-call overhead that hides L1 bandwidth. STREAM convention: write-allocate not counted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

CACHE_FORMAT = 1
_DEFAULT_CACHES = {1: 32 << 10, 2: 1 << 20, 3: 8 << 20}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dsconv"


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for key in ("model name", "Model", "Hardware", "cpu model"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", text, re.M)
        if m:
            return m.group(1).strip()
    m = re.search(r"^CPU part\s*:\s*(\S+)$", text, re.M)
    if m:
        return f"ARM part {m.group(1)}"
    return platform.processor() or platform.machine() or "unknown CPU"


def cache_sizes() -> Dict[int, int]:
    """Per-core data/unified cache sizes by level, from sysfs (defaults where unreadable)."""
    sizes: Dict[int, int] = {}
    root = Path("/sys/devices/system/cpu/cpu0/cache")
    for index in sorted(root.glob("index*")):
        try:
            level = int((index / "level").read_text())
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        if kind == "Instruction":
            continue
        m = re.fullmatch(r"(\d+)([KMG]?)", size)
        if m:
            sizes[level] = int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]
    return {level: sizes.get(level, default) for level, default in _DEFAULT_CACHES.items()} | sizes


@dataclasses.dataclass
class Level:
    name: str          # L1, L2, L3, DRAM
    capacity: int      # bytes (0 for DRAM: unbounded)
    working_set: int   # bytes streamed by the probe
    bandwidth: float   # bytes/s


@dataclasses.dataclass
class Roofline:
    cpu: str
    arch: str
    peak: Dict[str, dict]   # isa -> {"flops": FLOP/s, "method": ..., "kernel": ...}
    levels: List[Level]
    key: dict               # what the cache is valid for
    measured_at: str
    path: Optional[Path] = None
    from_cache: bool = False

    def peak_flops(self, isa: str) -> float:
        return self.peak[isa]["flops"]

    def level_for(self, nbytes: int) -> Level:
        """The fastest level whose capacity holds `nbytes` (the op's compulsory traffic)."""
        for lv in self.levels:
            if lv.capacity == 0 or nbytes <= lv.capacity:
                return lv
        return self.levels[-1]

    def bound(self, cost, isa: str) -> float:
        """Roofline lower bound in seconds: Cost.roofline_seconds at this ISA's peak and the
        bandwidth of the level holding the op's working set."""
        return cost.roofline_seconds(self.peak_flops(isa), self.level_for(cost.bytes).bandwidth)

    def to_dict(self) -> dict:
        return {"format": CACHE_FORMAT, "cpu": self.cpu, "arch": self.arch, "key": self.key,
                "measured_at": self.measured_at, "peak": self.peak,
                "levels": [dataclasses.asdict(lv) for lv in self.levels]}

    @classmethod
    def from_dict(cls, d: dict, path: Optional[Path] = None) -> "Roofline":
        return cls(d["cpu"], d["arch"], d["peak"], [Level(**lv) for lv in d["levels"]], d["key"],
                   d["measured_at"], path, True)


# ------------------------------------------------------------------------------------ probes

_PROBE = dict(n=32, c=64, hw=8)  # pointwise 64 -> 64 on 8x8: x, w and y of one image = 48 KiB


def _probe_kernel(isa: str) -> str:
    """Names what measures `isa`'s peak (switching the dispatch to `isa` for the look-up)."""
    from . import _core
    if hasattr(_core, "_peak_flops"):
        return "fma-chains"
    import dsconv
    _core._select_isa(isa)
    n, c, hw = _PROBE["n"], _PROBE["c"], _PROBE["hw"]
    return dsconv.kernel_name("pointwise", (n, hw, hw, c), (c, c), layout="NHWC")


def _peak_by_pointwise(seconds: float) -> float:
    import dsconv
    n, c, hw = _PROBE["n"], _PROBE["c"], _PROBE["hw"]
    rng = np.random.default_rng(1)
    best = 0.0
    flops = 2.0 * n * hw * hw * c * c
    for layout, xs in (("NHWC", (n, hw, hw, c)), ("NCHW", (n, c, hw, hw))):
        x = rng.standard_normal(xs, dtype=np.float32)
        w = dsconv.pack_weights(rng.standard_normal((c, c), dtype=np.float32), "pointwise", layout=layout)
        y = np.empty(xs, np.float32)
        dsconv.pointwise_conv2d(x, w, layout=layout, out=y)
        end = time.perf_counter() + seconds / 2
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            dsconv.pointwise_conv2d(x, w, layout=layout, out=y)
            best = max(best, flops / (time.perf_counter() - t0))
    return best


def measure_peak(isas, seconds: float = 0.4) -> Dict[str, dict]:
    """Peak FLOP/s per ISA at one thread. Leaves the dispatch on the ISA that was active."""
    import dsconv
    from . import _core
    active = dsconv.cpu_info()["isa"]
    threads = dsconv.get_num_threads()
    out = {}
    try:
        dsconv.set_num_threads(1)
        for isa in isas:
            kernel = _probe_kernel(isa)
            if kernel == "fma-chains":
                flops = _core._peak_flops(isa, seconds)
                method = ("independent multiply-add chains, baseline code" if isa == "scalar"
                          else "independent FMA chains") + " (dsconv._core._peak_flops)"
            else:
                _core._select_isa(isa)
                flops = _peak_by_pointwise(seconds)
                method = "dsconv pointwise kernel, L1-resident GEMM (a lower bound of the peak)"
            out[isa] = {"flops": flops, "method": method, "kernel": kernel}
    finally:
        _core._select_isa(active)
        dsconv.set_num_threads(threads)
    return out


def _bandwidth(working_set: int, seconds: float) -> float:
    from numpy.lib.stride_tricks import as_strided
    n = max(1024, working_set // 8)  # two float32 arrays fill the working set
    src = np.ones(n, np.float32)
    dst = np.zeros(n, np.float32)
    target = 64e6  # bytes per sample: long enough to time, short enough for many samples
    copies = max(1, int(target // (8 * n)))
    rows = max(2, int(target // (12 * n)))
    view = as_strided(src, (rows, n), (0, src.itemsize), writeable=False)
    best = 0.0
    end = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        for _ in range(copies):
            np.copyto(dst, src)
        t1 = time.perf_counter()
        np.add.reduce(view, axis=0, out=dst)
        t2 = time.perf_counter()
        best = max(best, 8.0 * n * copies / (t1 - t0), 12.0 * n * rows / (t2 - t1))
        if t2 >= end:
            return best


def measure_bandwidth(seconds_per_level: float = 0.3) -> List[Level]:
    caches = cache_sizes()
    levels = [Level(f"L{lv}", caches[lv], caches[lv] // 2, 0.0) for lv in sorted(caches)]
    dram = min(max(4 * max(caches.values()), 64 << 20), 512 << 20)
    levels.append(Level("DRAM", 0, dram, 0.0))
    for lv in levels:
        lv.bandwidth = _bandwidth(lv.working_set, seconds_per_level)
    return levels


# ------------------------------------------------------------------------------------- cache

def _key() -> dict:
    import dsconv
    info = dsconv.cpu_info()
    return {"cpu": cpu_model(), "arch": info["arch"], "available": list(info["available"]),
            "dsconv": dsconv.__version__}


def cache_path(key: Optional[dict] = None) -> Path:
    key = key or _key()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{key['cpu']}-{key['arch']}-{'-'.join(key['available'])}").strip("-")
    return cache_dir() / f"roofline-{slug.lower()}.json"


def _probe_kernels(isas) -> Dict[str, str]:
    import dsconv
    from . import _core
    active = dsconv.cpu_info()["isa"]
    try:
        return {isa: _probe_kernel(isa) for isa in isas}
    finally:
        _core._select_isa(active)


def load(key: Optional[dict] = None) -> Optional[Roofline]:
    """The cached roofline if it was measured on this machine with today's probe kernels."""
    key = key or _key()
    path = cache_path(key)
    try:
        d = json.loads(path.read_text())
        if d.get("format") != CACHE_FORMAT or d.get("key") != key:
            return None
        kernels = _probe_kernels(key["available"])
        if any(d["peak"][isa]["kernel"] != kernels[isa] for isa in key["available"]):
            return None
        return Roofline.from_dict(d, path)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def measure(progress=None) -> Roofline:
    """Measures and writes the cache (a cache that cannot be written is only skipped)."""
    key = _key()
    if progress:
        progress.update("roofline: peak FMA throughput per ISA ...")
    peak = measure_peak(key["available"])
    if progress:
        progress.update("roofline: memory bandwidth at L1/L2/L3/DRAM working sets ...")
    levels = measure_bandwidth()
    r = Roofline(key["cpu"], key["arch"], peak, levels, key, time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    path = cache_path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(r.to_dict(), indent=1))
        tmp.replace(path)
        r.path = path
    except OSError:
        r.path = None
    return r


def get(progress=None, refresh: bool = False) -> Roofline:
    """The cached roofline, or a fresh measurement (a few seconds) that is then cached."""
    if not refresh:
        r = load()
        if r is not None:
            return r
    return measure(progress)


def describe(r: Roofline, isa: str) -> str:
    bw = ", ".join(f"{lv.name} {lv.bandwidth / 1e9:.0f}" for lv in r.levels)
    return f"peak {r.peak_flops(isa) / 1e9:.1f} GFLOP/s ({isa}, 1 thread); bandwidth GB/s: {bw}"


def table(r: Roofline) -> str:
    lines = [f"Roofline of this machine: {r.cpu} ({r.arch}), 1 thread",
             f"  {'cached in ' + str(r.path) if r.path else 'not cached (the cache directory is not writable)'}"
             f"{' (from the cache)' if r.from_cache else ''}, measured {r.measured_at}",
             "", "  peak FMA throughput", f"    {'ISA':8} {'GFLOP/s':>9}  method"]
    for isa, p in r.peak.items():
        lines.append(f"    {isa:8} {p['flops'] / 1e9:9.1f}  {p['method']}"
                     + ("" if p["kernel"] == "fma-chains" else f" [{p['kernel']}]"))
        if p["kernel"].startswith("reference"):
            lines.append(f"    {'':8} {'':9}  " + (
                "(the portable reference kernel: on this ISA, % of roofline compares with that kernel, "
                "not with the hardware)" if isa == "scalar" else
                "(the reference kernel: far below this ISA's true peak, so % of roofline reads high until "
                "its SIMD kernel lands)"))
    lines += ["", "  memory bandwidth (STREAM convention)",
              f"    {'level':6} {'capacity':>10} {'probe set':>10} {'GB/s':>8}"]
    for lv in r.levels:
        cap = "-" if lv.capacity == 0 else _size(lv.capacity)
        lines.append(f"    {lv.name:6} {cap:>10} {_size(lv.working_set):>10} {lv.bandwidth / 1e9:8.1f}")
    best = max(r.peak, key=lambda i: r.peak[i]["flops"])
    lines += ["", f"  machine balance ({best}): {r.peak_flops(best) / r.levels[-1].bandwidth:.3g} FLOP/byte from DRAM, "
              f"{r.peak_flops(best) / r.levels[1].bandwidth:.3g} from L2 — an op with a lower arithmetic intensity "
              "is memory-bound"]
    return "\n".join(lines)


def _size(nbytes: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if nbytes >= 1 << shift:
            return f"{nbytes / (1 << shift):g} {unit}"
    return f"{nbytes} B"
