"""`python -m dsconv bench`: every op of every line of a shapes file (bench/shapes.txt by
default), in both layouts, on the active ISA (or --isa), timed from Python with weights packed
once and out= preallocated: median, spread, GFLOP/s, GB/s of compulsory traffic, and % of this
machine's roofline bound."""

from __future__ import annotations

import argparse
from typing import List, Optional

from . import _bench, _roofline
from ._bench import Progress, Stats

DEFAULT_SECONDS = 35.0
OP_NAMES = ("depthwise", "pointwise", "conv2d", "separable")


def _list(choices):
    def parse(s):
        vals = [v for v in s.split(",") if v]
        bad = [v for v in vals if v not in choices]
        if bad:
            raise argparse.ArgumentTypeError(f"{', '.join(bad)}: choose from {', '.join(choices)}")
        return vals
    return parse


def _parser():
    p = argparse.ArgumentParser(prog="python -m dsconv bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--shapes", metavar="FILE", help="shapes file (default: bench/shapes.txt)")
    p.add_argument("--filter", default="", metavar="TEXT", help="only layers whose name contains TEXT")
    p.add_argument("--ops", type=_list(OP_NAMES), default=list(OP_NAMES), help="comma-separated ops")
    p.add_argument("--layouts", type=_list(_bench.LAYOUTS), default=list(_bench.LAYOUTS))
    p.add_argument("--isa", default=None, help="comma-separated ISAs, or 'all' (default: the active one)")
    p.add_argument("--raw", action="store_true", help="also time raw (unpacked) weights, packed on every call")
    p.add_argument("--threads", type=int, default=1, metavar="N")
    p.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                   help=f"time budget for all measurements (default {DEFAULT_SECONDS:g})")
    p.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="JSON to stdout instead of the table (no FILE), or to FILE")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    return p


def run(args, progress: Progress) -> dict:
    import dsconv
    from . import _core
    path = args.shapes or _bench.default_shapes_path()
    if path is None:
        raise SystemExit("no shapes file found next to dsconv: pass --shapes FILE (format: bench/shapes.txt)")
    layers = [ly for ly in _bench.read_shapes(path) if args.filter in ly.name]
    info = dsconv.cpu_info()
    active = info["isa"]
    isas = (info["available"] if args.isa == "all" else args.isa.split(",")) if args.isa else [active]
    unknown = [i for i in isas if i not in info["available"]]
    if unknown:
        raise SystemExit(f"--isa: {', '.join(unknown)} not available here (available: {', '.join(info['available'])})")
    groups = [(ly, op) for ly in layers for op in _bench.ops_of(ly) if op in args.ops]
    if not groups:
        raise SystemExit("nothing to run: no layer/op matches the filters")
    roof = _roofline.get(progress)
    budget = args.seconds / (len(groups) * len(isas))
    saved = dsconv.get_num_threads()
    rows = []
    try:
        dsconv.set_num_threads(args.threads)
        for isa in isas:
            _core._select_isa(isa)
            for i, (layer, op) in enumerate(groups, 1):
                progress.update(f"[{isa} {i}/{len(groups)}] {layer.name} {op} ...")
                cases = {lay: _bench.make_case(layer, op, lay) for lay in args.layouts}
                fns = {}
                for lay, case in cases.items():
                    fns[f"{lay}/packed"] = case.packed
                    if args.raw:
                        fns[f"{lay}/raw"] = case.raw
                samples = _bench.measure(fns, budget)
                for lay, case in cases.items():
                    st = Stats.of(samples[f"{lay}/packed"])
                    row = {"name": layer.name, "op": op, "layout": lay, "isa": isa, "kernel": case.kernel,
                           "shape": layer.describe(), "time_s": st.to_dict(), "flops": case.cost.flops,
                           "bytes": case.cost.bytes, "intensity": case.cost.intensity,
                           "gflops": case.cost.flops / st.median / 1e9, "gbps": case.cost.bytes / st.median / 1e9,
                           "roofline_pct": 100.0 * roof.bound(case.cost, isa) / st.median,
                           "roofline_level": roof.level_for(case.cost.bytes).name}
                    if args.raw:
                        raw = Stats.of(samples[f"{lay}/raw"])
                        row["raw_time_s"] = raw.to_dict()
                        row["raw_over_packed"] = raw.median / st.median
                    rows.append(row)
    finally:
        _core._select_isa(active)
        dsconv.set_num_threads(saved)
        progress.done()
    return {"dsconv_version": dsconv.__version__, "cpu": roof.cpu, "arch": info["arch"], "threads": args.threads,
            "shapes": str(path), "roofline": roof.to_dict(), "seconds": args.seconds, "results": rows}


def render(r: dict) -> str:
    roof = _roofline.Roofline.from_dict(r["roofline"])
    isas = sorted({row["isa"] for row in r["results"]}, key=[row["isa"] for row in r["results"]].index)
    out = [f"dsconv {r['dsconv_version']} microbenchmarks on {r['cpu']} ({r['arch']}), {r['threads']} thread(s), "
           f"batch 1, shapes from {r['shapes']}"]
    out += [f"roofline ({isa}): {_roofline.describe(roof, isa)}" for isa in isas]
    out += ["median per call, ± = interquartile range / median; GB/s = compulsory traffic (input + weights + "
            "output) / time; % roofline = lower bound / measured (the level whose size holds the traffic)", ""]
    raw = any("raw_over_packed" in row for row in r["results"])
    header = ["layer", "op", "layout", "isa", "kernel", "time", "±", "GFLOP/s", "GB/s", "FLOP/B", "% roof", "level"]
    if raw:
        header.append("raw/packed")
    rows = []
    for row in r["results"]:
        st = row["time_s"]
        line = [row["name"], row["op"], row["layout"], row["isa"], row["kernel"], _bench.fmt_time(st["median"]),
                "n=1" if st["n"] < 2 else f"{100 * (st['q3'] - st['q1']) / st['median']:.0f}%",
                f"{row['gflops']:.1f}", f"{row['gbps']:.1f}", f"{row['intensity']:.1f}",
                f"{row['roofline_pct']:.0f}", row["roofline_level"]]
        if raw:
            line.append(f"{row['raw_over_packed']:.2f}x")
        rows.append(line)
    from ._main import _table
    out += _table(header, rows, left=5)
    return "\n".join(out)


def main(argv: Optional[List[str]] = None) -> int:
    args = _parser().parse_args(argv)
    if args.threads < 1:
        raise SystemExit("--threads must be >= 1")
    result = run(args, Progress(enabled=not args.quiet))
    _bench.emit(result, args.json, render)
    return 0
