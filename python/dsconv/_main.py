"""`python -m dsconv`: standard convolution against depthwise-separable on MobileNetV2's blocks,
the cost model's prediction beside the measured times, and why they differ.

Sub-commands: `python -m dsconv bench` (microbenchmarks of every op over a shapes file) and
`python -m dsconv roofline` (measure this machine's peak and bandwidths, and cache them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional

from . import _bench, _roofline
from ._bench import Layer, Progress, Stats

# MobileNetV2 (224x224) inverted-residual blocks: the depthwise 3x3 on the expanded channels and
# the pointwise projection after it, in the shapes-file format; repeat = blocks of that shape.
MOBILENETV2_BLOCKS = """
mbv2.b1      sep   32   16  112 112  3 1
mbv2.b2      sep   96   24  112 112  3 2
mbv2.b3      sep  144   24   56  56  3 1
mbv2.b4      sep  144   32   56  56  3 2
mbv2.b5-6    sep  192   32   28  28  3 1  2
mbv2.b7      sep  192   64   28  28  3 2
mbv2.b8-10   sep  384   64   14  14  3 1  3
mbv2.b11     sep  384   96   14  14  3 1
mbv2.b12-13  sep  576   96   14  14  3 1  2
mbv2.b14     sep  576  160   14  14  3 2
mbv2.b15-16  sep  960  160    7   7  3 1  2
mbv2.b17     sep  960  320    7   7  3 1
"""

DEFAULT_SECONDS = 25.0
PARTS = ("standard", "depthwise", "pointwise", "separable")


def _cost_dict(c) -> dict:
    return {"macs": c.macs, "flops": c.flops, "bytes": c.bytes, "intensity": c.intensity}


def _blocks(path: Optional[str]) -> List[Layer]:
    if path is None:
        return _bench.parse_shapes(MOBILENETV2_BLOCKS, "built-in MobileNetV2 blocks")
    layers = _bench.read_shapes(path)
    blocks = [ly for ly in layers if ly.op in ("sep", "conv") and ly.k > 1]
    if not blocks:
        raise SystemExit(f"{path}: no sep or conv line with k > 1: nothing to compare "
                         "(the main job compares a standard k x k convolution with depthwise + pointwise)")
    skipped = len(layers) - len(blocks)
    if skipped:
        print(f"note: {skipped} line(s) of {path} skipped (only sep and conv lines with k > 1 are blocks)",
              file=sys.stderr)
    return blocks


def run(args, progress: Progress) -> dict:
    """Measures everything and returns the result that both the table and --json show."""
    import dsconv
    from . import _main_compare

    info = dsconv.cpu_info()
    isa = info["isa"]
    blocks = _blocks(args.layers)
    threads = list(range(1, args.threads + 1))
    saved_threads = dsconv.get_num_threads()

    roof = _roofline.get(progress)
    frameworks, notes = _main_compare.open_frameworks(args.compare, 1) if args.compare else ({}, {})

    result = {
        "dsconv_version": dsconv.__version__,
        "machine": {"cpu": roof.cpu, "arch": info["arch"], "isa": isa, "available": info["available"],
                    "features": info["features"], "openmp": info["openmp"], "default_threads": info["threads"],
                    "cpus": os.cpu_count(), "load_average": _load()},
        "kernels": info["kernels"],
        "roofline": roof.to_dict() | {"path": str(roof.path) if roof.path else None, "from_cache": roof.from_cache},
        "layout": args.layout, "threads": 1, "thread_counts": threads,
        "method": {"seconds": args.seconds, "sample_floor_s": _bench.SAMPLE_FLOOR_S,
                   "statistic": "median seconds per call; q1, q3 = quartiles"},
        "compare": {name: fw.version for name, fw in frameworks.items()}, "compare_notes": notes,
        "blocks": [],
    }
    budget = args.seconds / len(blocks)
    try:
        for i, layer in enumerate(blocks, 1):
            progress.update(f"[{i}/{len(blocks)}] {layer.name} ({layer.describe()}): timing standard conv, "
                            f"depthwise, pointwise{', ' + ', '.join(frameworks) if frameworks else ''} ...")
            result["blocks"].append(_block(layer, args.layout, isa, roof, threads, frameworks, budget))
    finally:
        dsconv.set_num_threads(saved_threads)
        progress.done()
    result["total"] = _totals(result["blocks"], threads, list(frameworks))
    result["summary"] = _summary(result)
    return result


def _load() -> Optional[float]:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _with_threads(n: int, fn):
    import dsconv

    def call():
        dsconv.set_num_threads(n)
        return fn()
    return call


def _block(layer: Layer, layout: str, isa: str, roof, threads, frameworks, budget: float) -> dict:
    from . import _main_compare
    cases = {"standard": _bench.make_case(layer, "conv2d", layout),
             "depthwise": _bench.make_case(layer, "depthwise", layout),
             "pointwise": _bench.make_case(layer, "pointwise", layout)}
    fns = {}
    for part, case in cases.items():
        fns[f"{part}@1"] = _with_threads(1, case.packed)
    mismatches = {}
    for name, fw in frameworks.items():
        std_fn, sep_fn, their_y = fw.block(cases["standard"], cases["depthwise"], cases["pointwise"], layer, layout)
        cases["standard"].packed()
        err = _main_compare.mismatch(cases["standard"].y, their_y, layout)
        if err is not None:
            mismatches[name] = err
        fns[f"{name}:standard"] = _with_threads(1, std_fn)
        fns[f"{name}:separable"] = _with_threads(1, sep_fn)
    samples = _bench.measure(fns, budget)
    if len(threads) > 1:
        # A separate pass, so that waking worker threads does not disturb the one-thread figures.
        samples.update({f"t:{k}": v for k, v in _bench.measure(
            {f"{part}@{n}": _with_threads(n, case.packed) for n in threads for part, case in cases.items()},
            budget).items()})

    def pair(n, prefix=""):  # depthwise then pointwise, round by round
        return [a + b for a, b in zip(samples[f"{prefix}depthwise@{n}"], samples[f"{prefix}pointwise@{n}"])]

    stats = {part: Stats.of(samples[f"{part}@1"]) for part in cases}
    stats["separable"] = Stats.of(pair(1))
    costs = {part: case.cost for part, case in cases.items()}
    bounds = {part: roof.bound(c, isa) for part, c in costs.items()}
    bounds["separable"] = bounds["depthwise"] + bounds["pointwise"]  # the intermediate goes through memory
    flops = {part: c.flops for part, c in costs.items()}
    flops["separable"] = flops["depthwise"] + flops["pointwise"]
    std_macs, sep_macs = costs["standard"].macs, costs["depthwise"].macs + costs["pointwise"].macs
    import dsconv
    out = {
        "name": layer.name, "cin": layer.cin, "cout": layer.cout, "h": layer.h, "w": layer.w, "k": layer.k,
        "stride": layer.stride, "repeat": layer.repeat, "padding": layer.padding,
        "kernels": {part: case.kernel for part, case in cases.items()},
        "cost": {part: _cost_dict(c) for part, c in costs.items()}
        | {"separable": {"macs": sep_macs, "flops": 2 * sep_macs}},
        "reduction_ratio": dsconv.cost.reduction_ratio(layer.cout, layer.k),
        "predicted_speedup": std_macs / sep_macs,
        "time_s": {part: s.to_dict() for part, s in stats.items()},
        "measured_speedup": stats["standard"].median / stats["separable"].median,
        "gflops": {part: flops[part] / stats[part].median / 1e9 for part in PARTS},
        "roofline_pct": {part: 100.0 * bounds[part] / stats[part].median for part in PARTS},
        "roofline_level": {part: roof.level_for(c.bytes).name for part, c in costs.items()},
    }
    if len(threads) > 1:
        out["threads"] = {str(n): {"standard": Stats.of(samples[f"t:standard@{n}"]).to_dict(),
                                   "separable": Stats.of(pair(n, "t:")).to_dict()} for n in threads}
    if frameworks:
        out["compare"] = {}
        for name in frameworks:
            st, sp = Stats.of(samples[f"{name}:standard"]), Stats.of(samples[f"{name}:separable"])
            out["compare"][name] = {"standard": st.to_dict(), "separable": sp.to_dict(),
                                    "measured_speedup": st.median / sp.median}
            if name in mismatches:
                out["compare"][name]["max_rel_diff"] = mismatches[name]
    return out


def _totals(blocks: List[dict], threads, frameworks) -> dict:
    def tsum(key, part):
        return sum(b["repeat"] * b[key][part]["median"] for b in blocks)

    def csum(part, field):
        return sum(b["repeat"] * b["cost"][part][field] for b in blocks)

    t = {"blocks": sum(b["repeat"] for b in blocks),
         "macs": {part: csum(part, "macs") for part in PARTS},
         "time_s": {part: tsum("time_s", part) for part in PARTS}}
    t["predicted_speedup"] = t["macs"]["standard"] / t["macs"]["separable"]
    t["measured_speedup"] = t["time_s"]["standard"] / t["time_s"]["separable"]
    if len(threads) > 1:
        t["threads"] = {str(n): {part: sum(b["repeat"] * b["threads"][str(n)][part]["median"] for b in blocks)
                                 for part in ("standard", "separable")} for n in threads}
    if frameworks:
        t["compare"] = {}
        for name in frameworks:
            st = sum(b["repeat"] * b["compare"][name]["standard"]["median"] for b in blocks)
            sp = sum(b["repeat"] * b["compare"][name]["separable"]["median"] for b in blocks)
            t["compare"][name] = {"standard": st, "separable": sp, "measured_speedup": st / sp}
    return t


def _range(values) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.1f}" if f"{lo:.1f}" == f"{hi:.1f}" else f"{lo:.1f}–{hi:.1f}"


def _summary(r: dict) -> str:
    """The closing explanation, built from this run's numbers. Exact identity behind it:
    measured speed-up = predicted speed-up x (separable GFLOP/s / standard GFLOP/s)."""
    blocks, t = r["blocks"], r["total"]
    isa = r["machine"]["isa"]
    peak_rec = r["roofline"]["peak"][isa]
    bandwidth = {lv["name"]: lv["bandwidth"] for lv in r["roofline"]["levels"]}
    # ridge point = peak / bandwidth of the level each depthwise layer streams from
    ridge = [peak_rec["flops"] / bandwidth[b["roofline_level"]["depthwise"]] for b in blocks]
    below = all(b["cost"]["depthwise"]["intensity"] < x for b, x in zip(blocks, ridge))
    ai = {part: _range([b["cost"][part]["intensity"] for b in blocks]) for part in ("depthwise", "pointwise", "standard")}
    dw_mac_share = 100.0 * t["macs"]["depthwise"] / t["macs"]["separable"]
    dw_time_share = 100.0 * t["time_s"]["depthwise"] / (t["time_s"]["depthwise"] + t["time_s"]["pointwise"])
    gf = {part: 2 * t["macs"][part] / t["time_s"][part] / 1e9 for part in PARTS}

    def pct(part):  # share of the roofline bound reached over all blocks
        bound = sum(b["repeat"] * b["roofline_pct"][part] / 100 * b["time_s"][part]["median"] for b in blocks)
        return 100.0 * bound / t["time_s"][part]

    pred, meas = t["predicted_speedup"], t["measured_speedup"]
    text = (f"Depthwise-separable needs {pred:.1f}x fewer MACs than the standard convolution on these blocks "
            f"(1/N + 1/k^2 per block) and runs {meas:.1f}x faster here: the pair runs at {gf['separable']:.1f} "
            f"GFLOP/s against the standard convolution's {gf['standard']:.1f}, so measured = predicted x "
            f"{gf['separable'] / gf['standard']:.2f}. ")
    why = (f"its arithmetic intensity is only {ai['depthwise']} FLOP/byte (pointwise {ai['pointwise']}, standard "
           f"{ai['standard']}): each input value feeds only k^2 multiply-adds of its own channel, where a standard "
           "or pointwise convolution reuses it for every output channel. "
           + (f"That is below this CPU's ridge point ({_range(ridge)} FLOP/byte = peak / bandwidth of the cache level "
              "each layer streams from), so even a perfect depthwise kernel is bound by memory traffic, not by its "
              "FMA units" if below else
              f"That is close to or below this CPU's ridge point ({_range(ridge)} FLOP/byte = peak / bandwidth of the cache "
              "level each layer streams from), so depthwise is bound by moving data (memory and the load units), "
              "not by its FMA units")
           + f" ({gf['depthwise']:.1f} GFLOP/s, {pct('depthwise'):.0f}% of its roofline bound, against the "
           f"pointwise's {gf['pointwise']:.1f} GFLOP/s, {pct('pointwise'):.0f}%).")
    if dw_time_share > dw_mac_share:
        text += (f"MACs are not time: the depthwise part does only {dw_mac_share:.0f}% of the separable MACs but "
                 f"takes {dw_time_share:.0f}% of its time, because {why}")
    else:
        text += (f"Here the depthwise part is not what limits (it does {dw_mac_share:.0f}% of the separable MACs in "
                 f"{dw_time_share:.0f}% of its time): the difference comes from the kernels' efficiencies "
                 f"(standard {gf['standard']:.1f}, depthwise {gf['depthwise']:.1f}, pointwise {gf['pointwise']:.1f} "
                 f"GFLOP/s). Depthwise is still the data-bound part: {why}")
    beyond = [b for b in blocks if b["measured_speedup"] > b["predicted_speedup"]]
    if beyond and len(beyond) < len(blocks):
        rest = [b["gflops"]["standard"] for b in blocks if b not in beyond]
        text += (f" On {', '.join(b['name'] for b in beyond)} measured exceeds predicted: there the standard "
                 f"convolution itself runs at only {_range([b['gflops']['standard'] for b in beyond])} GFLOP/s "
                 f"(up to {max(rest):.1f} on the other blocks), so those ratios also compare two kernels' efficiency.")
    if peak_rec["kernel"].startswith("reference"):
        text += (f" The peak was measured with {peak_rec['kernel']} (no SIMD pointwise kernel yet), so the ridge "
                 "point reads far too low and % of roofline far too high.")
    slow = sorted({k for b in blocks for k in b["kernels"].values() if k.startswith("reference")})
    if slow:
        text += (f" Note: {', '.join(slow)} {'is the portable reference kernel' if len(slow) == 1 else 'are the portable reference kernels'}"
                 " (no SIMD kernel for that op and shape on this ISA yet): their speed says little about this CPU.")
    return text


# ------------------------------------------------------------------------------------ output

def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f}"


def _spread(stats: dict) -> str:
    if stats["n"] < 2 or stats["median"] <= 0:
        return "n=1"
    return f"±{100.0 * (stats['q3'] - stats['q1']) / stats['median']:.0f}%"


def _table(header: List[str], rows: List[List[str]], left: int = 1) -> List[str]:
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    def line(r):
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def render(r: dict) -> str:
    m, blocks, t = r["machine"], r["blocks"], r["total"]
    roof = _roofline.Roofline.from_dict(r["roofline"])
    isa = m["isa"]
    kernels = {}
    for b in blocks:
        for part, name in b["kernels"].items():
            kernels.setdefault(part, [])
            if name not in kernels[part]:
                kernels[part].append(name)
    out = [f"dsconv {r['dsconv_version']} on {m['cpu']} ({m['arch']}): ISA {isa} "
           f"(available: {', '.join(m['available'])}), {r['layout']}, batch 1, 1 thread",
           "kernels in use: " + "; ".join(f"{part} {', '.join(names)}" for part, names in kernels.items()),
           "roofline: " + _roofline.describe(roof, isa)
           + (f" [{r['roofline']['path']}]" if r["roofline"]["path"] else "")]
    if m["load_average"] is not None and m["cpus"] and m["load_average"] > m["cpus"]:
        out.append(f"note: this machine is busy (load average {m['load_average']:.1f} on {m['cpus']} CPUs): "
                   "timings are noisy; compare numbers within one run")
    out += ["", "What the cost model predicts (MMAC = million multiply-accumulates; standard = one k x k conv "
            "cin -> cout; separable = depthwise k x k + pointwise 1x1)"]
    rows = []
    for b in blocks:
        c = b["cost"]
        rows.append([b["name"], f"x{b['repeat']}", f"{b['cin']}x{b['h']}x{b['w']}", str(b["cout"]),
                     f"{b['k']}x{b['k']}/s{b['stride']}", f"{c['standard']['macs'] / 1e6:.1f}",
                     f"{c['separable']['macs'] / 1e6:.2f}", f"{c['depthwise']['macs'] / 1e6:.2f}",
                     f"{c['pointwise']['macs'] / 1e6:.2f}", f"{b['reduction_ratio']:.4f}",
                     f"{b['predicted_speedup']:.2f}x", f"{c['standard']['intensity']:.1f}",
                     f"{c['depthwise']['intensity']:.1f}", f"{c['pointwise']['intensity']:.1f}"])
    rows.append(["total", f"x{t['blocks']}", "", "", "", f"{t['macs']['standard'] / 1e6:.1f}",
                 f"{t['macs']['separable'] / 1e6:.2f}", f"{t['macs']['depthwise'] / 1e6:.2f}",
                 f"{t['macs']['pointwise'] / 1e6:.2f}", "", f"{t['predicted_speedup']:.2f}x", "", "", ""])
    out += _table(["block", "rep", "input CxHxW", "N", "kernel", "std MMAC", "sep MMAC", "dw", "pw",
                   "1/N+1/k^2", "predicted", "FLOP/B std", "dw", "pw"], rows, left=5)
    out += ["", "What it measures (median ms per call, ± = interquartile range / median; "
            "sep = depthwise then pointwise; % roofline = lower bound / measured)"]
    rows = []
    for b in blocks:
        ts, g, p = b["time_s"], b["gflops"], b["roofline_pct"]
        rows.append([b["name"], _ms(ts["standard"]["median"]), _spread(ts["standard"]),
                     _ms(ts["depthwise"]["median"]), _ms(ts["pointwise"]["median"]),
                     _ms(ts["separable"]["median"]), _spread(ts["separable"]),
                     f"{b['measured_speedup']:.2f}x", f"{b['predicted_speedup']:.2f}x",
                     f"{g['standard']:.1f}", f"{g['depthwise']:.1f}", f"{g['pointwise']:.1f}",
                     f"{p['standard']:.0f}", f"{p['depthwise']:.0f}", f"{p['pointwise']:.0f}"])
    rows.append(["total (x rep)", _ms(t["time_s"]["standard"]), "", _ms(t["time_s"]["depthwise"]),
                 _ms(t["time_s"]["pointwise"]), _ms(t["time_s"]["separable"]), "", f"{t['measured_speedup']:.2f}x",
                 f"{t['predicted_speedup']:.2f}x", "", "", "", "", "", ""])
    out += _table(["block", "standard ms", "±", "dw ms", "pw ms", "sep ms", "±", "measured", "predicted",
                   "GFLOP/s std", "dw", "pw", "% roofline std", "dw", "pw"], rows)
    if "threads" in t:
        counts = r["thread_counts"]
        out += ["", "Scaling with threads (dsconv, median ms, timed in a pass of their own; total weighted by repeats)"]
        rows = [[b["name"]] + [_ms(b["threads"][str(n)]["standard"]["median"]) for n in counts]
                + [_ms(b["threads"][str(n)]["separable"]["median"]) for n in counts] for b in blocks]
        rows.append(["total (x rep)"] + [_ms(t["threads"][str(n)]["standard"]) for n in counts]
                    + [_ms(t["threads"][str(n)]["separable"]) for n in counts])
        rows.append(["speed-up vs 1"]
                    + [f"{t['threads']['1']['standard'] / t['threads'][str(n)]['standard']:.2f}x" for n in counts]
                    + [f"{t['threads']['1']['separable'] / t['threads'][str(n)]['separable']:.2f}x" for n in counts])
        out += _table(["block"] + [f"std {n}T" for n in counts] + [f"sep {n}T" for n in counts], rows)
    if r["compare"] or r["compare_notes"]:
        out += ["", "Side by side (1 thread, median ms; the same weights, inputs prepared outside the timing)"]
        names = list(r["compare"])
        if names:
            rows = []
            for b in blocks:
                row = [b["name"], _ms(b["time_s"]["standard"]["median"]), _ms(b["time_s"]["separable"]["median"])]
                for n in names:
                    row += [_ms(b["compare"][n]["standard"]["median"]), _ms(b["compare"][n]["separable"]["median"])]
                rows.append(row)
            row = ["total (x rep)", _ms(t["time_s"]["standard"]), _ms(t["time_s"]["separable"])]
            for n in names:
                row += [_ms(t["compare"][n]["standard"]), _ms(t["compare"][n]["separable"])]
            rows.append(row)
            out += _table(["block", "dsconv std", "sep"] + [h for n in names for h in (f"{n} std", "sep")], rows)
            for n in names:
                bad = [b["name"] for b in blocks if "max_rel_diff" in b["compare"][n]]
                out.append(f"  {r['compare'][n]}" + (f" — results differ from dsconv's on {', '.join(bad)}" if bad else
                                                     ": results agree with dsconv's (standard conv, rel. 1e-3)"))
        for n, note in r["compare_notes"].items():
            out.append(f"  {n}: {note}")
    out += ["", _wrap(r["summary"])]
    return "\n".join(out)


def _wrap(text: str, width: int = 100) -> str:
    import textwrap
    return textwrap.fill(text, width, break_on_hyphens=False, break_long_words=False)


def plot(r: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    blocks = r["blocks"]
    xs = range(len(blocks))
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(blocks) + 2), 4.5))
    ax.bar([x - 0.2 for x in xs], [b["predicted_speedup"] for b in blocks], 0.4, label="predicted (MACs)")
    ax.bar([x + 0.2 for x in xs], [b["measured_speedup"] for b in blocks], 0.4, label="measured (time)")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([b["name"] for b in blocks], rotation=45, ha="right")
    ax.set_ylabel("speed-up of depthwise-separable\nover standard convolution")
    ax.set_title(f"dsconv on {r['machine']['cpu']} ({r['machine']['isa']}, {r['layout']}, 1 thread)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ------------------------------------------------------------------------------------ commands

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m dsconv",
        description="Standard convolution vs depthwise-separable on MobileNetV2's blocks: the cost model's "
                    "prediction, measured times on this CPU, and why they differ.",
        epilog="sub-commands: 'python -m dsconv bench --help' (microbenchmarks of every op), "
               "'python -m dsconv roofline --help' (this machine's peak and bandwidth)")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="write the results as JSON: to stdout instead of the table (no FILE), or to FILE")
    p.add_argument("--plot", metavar="FILE.png", help="chart predicted vs measured speed-up per block (matplotlib)")
    p.add_argument("--layers", metavar="FILE", help="your own blocks, in bench/shapes.txt's format (sep and conv lines)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="add a scaling table for 1..N threads")
    p.add_argument("--compare", type=lambda s: [v for v in s.split(",") if v], default=[], metavar="LIBS",
                   help="also time these libraries, e.g. torch,onnxruntime")
    p.add_argument("--layout", choices=_bench.LAYOUTS, default="NCHW")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                   help=f"time budget for the measurements (default {DEFAULT_SECONDS:g})")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "bench":
        from . import _bench_cli
        return _bench_cli.main(argv[1:])
    if argv and argv[0] == "roofline":
        return _roofline_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.threads < 1:
        raise SystemExit("--threads must be >= 1")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SystemExit("--plot needs matplotlib: pip install matplotlib (or pip install 'dsconv[plot]')")
    result = run(args, Progress(enabled=not args.quiet))
    _bench.emit(result, args.json, render)
    if args.plot:
        plot(result, args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


def _roofline_main(argv) -> int:
    p = argparse.ArgumentParser(prog="python -m dsconv roofline",
                                description="Measure this machine's peak FMA throughput per ISA and its memory "
                                            "bandwidth per cache level (1 thread), and cache them in "
                                            f"{_roofline.cache_dir()}.")
    p.add_argument("--cached", action="store_true", help="show the cached result; measure only if there is none")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    args = p.parse_args(argv)
    progress = Progress()
    r = _roofline.get(progress, refresh=not args.cached)
    progress.done()
    print(json.dumps(r.to_dict() | {"path": str(r.path) if r.path else None}, indent=1) if args.json
          else _roofline.table(r))
    return 0
