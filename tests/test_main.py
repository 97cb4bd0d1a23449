"""The main job (`python -m dsconv`), its --json output, the `bench` and `roofline` sub-commands,
the shapes file and the roofline cache. Small layers and short budgets: the timings are not
checked, only that they are reported consistently."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dsconv
from dsconv import _bench, _roofline

ROOT = Path(__file__).resolve().parents[1]
SMALL = """
# name  op  cin cout h w k stride [repeat]
tiny.sep   sep  16  24  14 14  3 1  2
tiny.conv  conv  8  16  10 10  3 2
tiny.pw    pw    8  16   6  6  1 1
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A private cache directory shared by this module's runs (only the first one measures)."""
    cache = tmp_path_factory.mktemp("cache")
    e = dict(os.environ, XDG_CACHE_HOME=str(cache))
    e["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    return e


@pytest.fixture(scope="module")
def layers_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("layers") / "small.txt"
    path.write_text(SMALL)
    return path


def dsconv_cli(env, *args, check=True):
    r = subprocess.run([sys.executable, "-m", "dsconv", *args], env=env, capture_output=True, text=True,
                       timeout=120)
    if check:
        assert r.returncode == 0, r.stderr
    return r


@pytest.fixture(scope="module")
def main_run(env, layers_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "result.json"
    r = dsconv_cli(env, "--layers", str(layers_file), "--seconds", "1", "--json", str(out))
    return r, json.loads(out.read_text())


def table_rows(text, header):
    """Rows of the table whose header line matches the regex `header`, split on whitespace."""
    lines = text.splitlines()
    i = next(n for n, line in enumerate(lines) if re.match(header, line))
    rows = []
    for line in lines[i + 2:]:
        if not line.strip():
            break
        rows.append(line.split())
    return rows


def test_main_job_reports_cpu_kernels_cost_and_times(main_run):
    r, res = main_run
    info = dsconv.cpu_info()
    assert f"ISA {info['isa']}" in r.stdout
    assert res["machine"]["isa"] == info["isa"]
    # only sep and conv lines with k > 1 are blocks; the pw line is skipped with a note
    assert [b["name"] for b in res["blocks"]] == ["tiny.sep", "tiny.conv"]
    assert "1 line(s)" in r.stderr and "skipped" in r.stderr
    assert "tiny.sep" in r.stderr  # the progress line names the block being timed
    for b in res["blocks"]:
        std = dsconv.cost.standard((1, b["cin"], b["h"], b["w"]), b["cout"], b["k"], stride=b["stride"],
                                   padding=b["k"] // 2)
        assert b["cost"]["standard"]["macs"] == std.macs
        assert b["predicted_speedup"] == pytest.approx(1 / dsconv.cost.reduction_ratio(b["cout"], b["k"]))
        assert b["kernels"]["standard"] == dsconv.kernel_name(
            "conv2d", (1, b["cin"], b["h"], b["w"]), (b["cout"], b["cin"], b["k"], b["k"]), stride=b["stride"],
            padding=b["k"] // 2)
        for part in ("standard", "depthwise", "pointwise", "separable"):
            t = b["time_s"][part]
            assert t["n"] >= 1 and 0 < t["q1"] <= t["median"] <= t["q3"]
            assert b["gflops"][part] > 0 and b["roofline_pct"][part] > 0
        assert b["measured_speedup"] == pytest.approx(b["time_s"]["standard"]["median"]
                                                      / b["time_s"]["separable"]["median"])
    assert "memory" in res["summary"] and "FLOP/byte" in res["summary"]


def test_table_and_json_hold_the_same_numbers(main_run):
    r, res = main_run
    measured = {row[0]: row for row in table_rows(r.stdout, r"block\s+standard ms")}
    cost = {row[0]: row for row in table_rows(r.stdout, r"block\s+rep")}
    for b in res["blocks"]:
        row = measured[b["name"]]
        assert row[1] == f"{b['time_s']['standard']['median'] * 1e3:.3f}"
        assert row[3] == f"{b['time_s']['depthwise']['median'] * 1e3:.3f}"
        assert row[4] == f"{b['time_s']['pointwise']['median'] * 1e3:.3f}"
        assert row[5] == f"{b['time_s']['separable']['median'] * 1e3:.3f}"
        assert row[7] == f"{b['measured_speedup']:.2f}x"
        assert row[8] == f"{b['predicted_speedup']:.2f}x"
        assert cost[b["name"]][5] == f"{b['cost']['standard']['macs'] / 1e6:.1f}"
    total = measured["total"]
    assert total[-1] == f"{res['total']['predicted_speedup']:.2f}x"
    assert total[-2] == f"{res['total']['measured_speedup']:.2f}x"
    assert " ".join(res["summary"].split()) in " ".join(r.stdout.split())


def test_json_on_stdout(env, layers_file, main_run):
    r = dsconv_cli(env, "--layers", str(layers_file), "--seconds", "0.3", "--json", "--threads", "2",
                   "--compare", "nosuchlib", "--layout", "NHWC")
    res = json.loads(r.stdout)  # nothing but JSON on stdout; progress went to stderr
    assert r.stderr
    assert res["thread_counts"] == [1, 2]
    for b in res["blocks"]:
        assert set(b["threads"]) == {"1", "2"}
    assert set(res["total"]["threads"]) == {"1", "2"}
    assert "nosuchlib" in res["compare_notes"]
    nchw = {b["name"]: b["cost"] for b in main_run[1]["blocks"]}
    assert res["layout"] == "NHWC" and {b["name"]: b["cost"] for b in res["blocks"]} == nchw


def test_plot_needs_matplotlib(env, layers_file, tmp_path, main_run):
    png = tmp_path / "speedup.png"
    r = dsconv_cli(env, "--layers", str(layers_file), "--seconds", "0.2", "--plot", str(png), check=False)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert r.returncode != 0 and "matplotlib" in r.stderr and not png.exists()
    else:
        assert r.returncode == 0 and png.stat().st_size > 0


def test_bench_subcommand(env, layers_file, main_run):
    r = dsconv_cli(env, "bench", "--shapes", str(layers_file), "--seconds", "0.5", "--json", "--raw")
    res = json.loads(r.stdout)
    got = {(row["name"], row["op"], row["layout"]) for row in res["results"]}
    want = {(name, op, lay) for name, ops in (("tiny.sep", ("depthwise", "pointwise", "separable")),
                                              ("tiny.conv", ("conv2d",)), ("tiny.pw", ("pointwise",)))
            for op in ops for lay in ("NCHW", "NHWC")}
    assert got == want
    for row in res["results"]:
        assert row["isa"] == dsconv.cpu_info()["isa"]
        assert row["gflops"] > 0 and row["raw_over_packed"] > 0 and row["kernel"]
    # the cost of an op does not depend on the layout
    by_layout = {(row["name"], row["op"], row["layout"]): (row["flops"], row["bytes"]) for row in res["results"]}
    for name, op, lay in got:
        assert by_layout[(name, op, "NCHW")] == by_layout[(name, op, "NHWC")]


def test_roofline_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    calls = []

    def fake_peak(isas, seconds=0.4):
        calls.append("peak")
        return {isa: {"flops": 1e11, "method": "test", "kernel": _roofline._probe_kernels([isa])[isa]}
                for isa in isas}

    def fake_bandwidth(seconds_per_level=0.3):
        calls.append("bandwidth")
        return [_roofline.Level("L1", 32 << 10, 16 << 10, 4e11), _roofline.Level("L2", 1 << 20, 1 << 19, 2e11),
                _roofline.Level("L3", 8 << 20, 4 << 20, 1e11), _roofline.Level("DRAM", 0, 64 << 20, 2e10)]

    monkeypatch.setattr(_roofline, "measure_peak", fake_peak)
    monkeypatch.setattr(_roofline, "measure_bandwidth", fake_bandwidth)
    first = _roofline.get()
    assert not first.from_cache and first.path.parent == tmp_path / "dsconv" and first.path.is_file()
    second = _roofline.get()
    assert second.from_cache and calls == ["peak", "bandwidth"]
    assert second.to_dict() == first.to_dict()
    # A cache written by another version (or machine, or probe kernel) is measured again.
    d = json.loads(first.path.read_text())
    d["key"]["dsconv"] = "0.0.0"
    first.path.write_text(json.dumps(d))
    assert not _roofline.get().from_cache and len(calls) == 4
    assert _roofline.get(refresh=True).from_cache is False and len(calls) == 6
    # the bound: compute- or memory-bound by the level that holds the traffic
    c = dsconv.cost.depthwise((1, 32, 56, 56), 3, padding=1)
    lv = second.level_for(c.bytes)
    assert lv.name == "L2"
    assert second.bound(c, dsconv.cpu_info()["isa"]) == pytest.approx(max(c.flops / 1e11, c.bytes / 2e11))


def test_roofline_command_uses_the_cache(env, main_run):
    r = dsconv_cli(env, "roofline", "--cached", "--json")
    d = json.loads(r.stdout)
    assert d["path"] and Path(d["path"]).is_file()
    assert json.loads(Path(d["path"]).read_text())["measured_at"] == d["measured_at"]
    assert set(d["peak"]) == set(dsconv.cpu_info()["available"])
    assert [lv["name"] for lv in d["levels"]][-1] == "DRAM"


def test_shapes_file_parses():
    layers = _bench.read_shapes(ROOT / "bench" / "shapes.txt")
    names = [ly.name for ly in layers]
    assert len(names) == len(set(names)) > 40
    assert {ly.op for ly in layers} == {"dw", "pw", "conv", "sep"}
    for prefix in ("mbv1.", "mbv2.", "mbv3.", "effb0."):
        assert any(n.startswith(prefix) for n in names)


@pytest.mark.parametrize("line, message", [
    ("a sep 8 8 8 8 3", "expected"),
    ("a xx 8 8 8 8 3 1", "op must be"),
    ("a pw 8 8 8 8 3 1", "k = 1"),
    ("a dw 8 12 8 8 3 1", "multiple of cin"),
    ("a conv 8 8 8 8 3 0", "positive"),
])
def test_shapes_errors_name_the_line(line, message):
    with pytest.raises(ValueError, match=rf"f.txt:2: .*{re.escape(message)}"):
        _bench.parse_shapes("# header\n" + line, "f.txt")


def test_bad_layers_file_is_a_clear_error(env, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("ok sep 8 8 8 8 3 1\nbroken sep 8 8 8\n")
    r = dsconv_cli(env, "--layers", str(bad), check=False)
    assert r.returncode != 0 and f"{bad}:2:" in r.stderr and "Traceback" not in r.stderr
    r = dsconv_cli(env, "bench", "--shapes", str(tmp_path / "missing.txt"), check=False)
    assert r.returncode != 0 and "cannot read the shapes file" in r.stderr and "Traceback" not in r.stderr


def bench_table_rows(env, script, calls, prefixes):
    """Runs bench/<script> --calls N; its table rows (those starting with one of `prefixes`),
    each as its cells after the layer name."""
    path = Path(__file__).resolve().parents[1] / "bench" / script
    r = subprocess.run([sys.executable, str(path), "--calls", str(calls)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith(prefixes)]
    return [[c.strip() for c in row.strip("|").split("|")][1:] for row in rows]


def test_busy_cores_bench_prints_every_layer(env):
    """bench/busy_cores.py runs (with and without busy processes) and times every layer."""
    rows = bench_table_rows(env, "busy_cores.py", 8, ("| dw", "| pw"))
    assert len(rows) == 5
    for cells in rows:
        assert len(cells) >= 4 and all(float(c) > 0 for c in cells), cells


def test_guard_pages_bench_prints_every_layer(env):
    """bench/guard_pages.py runs, checks each placement's output, and times every layer."""
    rows = bench_table_rows(env, "guard_pages.py", 5, ("| dw", "| conv"))
    assert len(rows) == 9
    for cells in rows:
        assert len(cells) == 3 and all(float(c) > 0 for c in cells), cells
