"""Every op against the NumPy oracle, over property-based sweeps of shapes, on every ISA."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import dsconv
import oracle

ACTIVATIONS = [None, "relu", "relu6", "hardswish", ("clamp", -0.5, 0.75)]


@st.composite
def paddings(draw, kh, kw):
    kind = draw(st.sampled_from(["int", "pair", "four", "same", "valid"]))
    big = max(kh, kw)  # up to the whole kernel: more than half of it
    if kind == "int":
        return draw(st.integers(0, big))
    if kind == "pair":
        return (draw(st.integers(0, kh)), draw(st.integers(0, kw)))
    if kind == "four":
        return tuple(draw(st.integers(0, k)) for k in (kh, kh, kw, kw))
    return kind


@st.composite
def spatial(draw, max_k=7, max_hw=13):
    kh, kw = draw(st.integers(1, max_k)), draw(st.integers(1, max_k))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    padding = draw(paddings(kh, kw))
    h, w = draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw))
    return dict(kh=kh, kw=kw, stride=stride, dilation=dilation, padding=padding, h=h, w=w)


def fits(s):
    pad = oracle.resolve_padding(s["padding"], (s["h"], s["w"]), (s["kh"], s["kw"]), oracle.pair(s["stride"]),
                                 oracle.pair(s["dilation"]))
    dh, dw = oracle.pair(s["dilation"])
    return ((s["kh"] - 1) * dh + 1 <= s["h"] + pad[0] + pad[1]) and ((s["kw"] - 1) * dw + 1 <= s["w"] + pad[2] + pad[3])


def make_input(rng, n, c, h, w, layout):
    shape = (n, c, h, w) if layout == "NCHW" else (n, h, w, c)
    return rng.standard_normal(shape).astype(np.float32)


def check(y, expected, bound):
    assert y.dtype == np.float32 and y.shape == expected.shape
    err = np.abs(y.astype(np.float64) - expected)
    worst = np.unravel_index(np.argmax(err - bound), err.shape)
    assert np.all(err <= bound), f"max error {err[worst]} > {bound[worst]} at {worst}"


def run_with_options(fn, x, weight, op, layout, use_out, use_packed, expected_shape, **kw):
    w = dsconv.pack_weights(weight, op, layout=layout) if use_packed else weight
    if use_out:
        out = np.full(expected_shape, np.nan, np.float32)
        y = fn(x, w, layout=layout, out=out, **kw)
        assert y is out or np.shares_memory(y, out)
        return out
    return fn(x, w, layout=layout, **kw)


@given(data=st.data(), s=spatial(), c=st.integers(1, 70), m=st.integers(1, 4), n=st.integers(1, 2),
       layout=st.sampled_from(["NCHW", "NHWC"]), act=st.sampled_from(ACTIVATIONS), with_bias=st.booleans(),
       use_out=st.booleans(), use_packed=st.booleans())
def test_depthwise(isa, data, s, c, m, n, layout, act, with_bias, use_out, use_packed):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = make_input(rng, n, c, s["h"], s["w"], layout)
    weight = rng.standard_normal((c * m, 1, s["kh"], s["kw"])).astype(np.float32)
    bias = rng.standard_normal(c * m).astype(np.float32) if with_bias else None
    kw = dict(stride=s["stride"], padding=s["padding"], dilation=s["dilation"])
    if not fits(s):
        with pytest.raises(ValueError, match="larger than the padded input"):
            dsconv.depthwise_conv2d(x, weight, bias, layout=layout, **kw)
        return
    expected = oracle.depthwise(x, weight, bias, activation=act, layout=layout, **kw)
    bound = oracle.error_bound(x, weight, layout=layout, groups=c, **kw) * 2
    y = run_with_options(lambda x_, w_, **k: dsconv.depthwise_conv2d(x_, w_, bias, activation=act, **k, **kw),
                         x, weight, "depthwise", layout, use_out, use_packed, expected.shape)
    check(y, expected, bound)


@given(data=st.data(), cin=st.integers(1, 70), cout=st.integers(1, 70), h=st.integers(1, 13), w=st.integers(1, 13),
       n=st.integers(1, 3), layout=st.sampled_from(["NCHW", "NHWC"]), act=st.sampled_from(ACTIVATIONS),
       with_bias=st.booleans(), use_out=st.booleans(), use_packed=st.booleans(), flat=st.booleans())
def test_pointwise(isa, data, cin, cout, h, w, n, layout, act, with_bias, use_out, use_packed, flat):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = make_input(rng, n, cin, h, w, layout)
    weight = rng.standard_normal((cout, cin) if flat else (cout, cin, 1, 1)).astype(np.float32)
    bias = rng.standard_normal(cout).astype(np.float32) if with_bias else None
    expected = oracle.conv(x, weight, bias, activation=act, layout=layout)
    bound = oracle.error_bound(x, weight, layout=layout) * 2
    y = run_with_options(lambda x_, w_, **k: dsconv.pointwise_conv2d(x_, w_, bias, activation=act, **k),
                         x, weight, "pointwise", layout, use_out, use_packed, expected.shape)
    check(y, expected, bound)


@given(data=st.data(), s=spatial(max_k=5, max_hw=11), groups=st.integers(1, 3), cin_g=st.integers(1, 12),
       cout_g=st.integers(1, 12), n=st.integers(1, 2), layout=st.sampled_from(["NCHW", "NHWC"]),
       act=st.sampled_from(ACTIVATIONS), with_bias=st.booleans(), use_out=st.booleans(), use_packed=st.booleans())
def test_conv2d(isa, data, s, groups, cin_g, cout_g, n, layout, act, with_bias, use_out, use_packed):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    cin, cout = cin_g * groups, cout_g * groups
    x = make_input(rng, n, cin, s["h"], s["w"], layout)
    weight = rng.standard_normal((cout, cin_g, s["kh"], s["kw"])).astype(np.float32)
    bias = rng.standard_normal(cout).astype(np.float32) if with_bias else None
    kw = dict(stride=s["stride"], padding=s["padding"], dilation=s["dilation"], groups=groups)
    if not fits(s):
        with pytest.raises(ValueError, match="larger than the padded input"):
            dsconv.conv2d(x, weight, bias, layout=layout, **kw)
        return
    expected = oracle.conv(x, weight, bias, activation=act, layout=layout, **kw)
    bound = oracle.error_bound(x, weight, layout=layout, **kw) * 2
    y = run_with_options(lambda x_, w_, **k: dsconv.conv2d(x_, w_, bias, activation=act, **k, **kw),
                         x, weight, "conv2d", layout, use_out, use_packed, expected.shape)
    check(y, expected, bound)


@given(data=st.data(), s=spatial(max_k=5, max_hw=11), c=st.integers(1, 40), cout=st.integers(1, 40),
       n=st.integers(1, 2), layout=st.sampled_from(["NCHW", "NHWC"]), dw_act=st.sampled_from(ACTIVATIONS),
       act=st.sampled_from(ACTIVATIONS), with_bias=st.booleans(), use_out=st.booleans(), use_packed=st.booleans())
def test_separable(isa, data, s, c, cout, n, layout, dw_act, act, with_bias, use_out, use_packed):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = make_input(rng, n, c, s["h"], s["w"], layout)
    dw = rng.standard_normal((c, 1, s["kh"], s["kw"])).astype(np.float32)
    pw = rng.standard_normal((cout, c, 1, 1)).astype(np.float32)
    dw_b = rng.standard_normal(c).astype(np.float32) if with_bias else None
    pw_b = rng.standard_normal(cout).astype(np.float32) if with_bias else None
    kw = dict(stride=s["stride"], padding=s["padding"], dilation=s["dilation"])
    if not fits(s):
        with pytest.raises(ValueError, match="larger than the padded input"):
            dsconv.separable_conv2d(x, dw, pw, layout=layout, **kw)
        return
    mid = oracle.depthwise(x, dw, dw_b, activation=dw_act, layout=layout, **kw)
    expected = oracle.conv(mid, pw, pw_b, activation=act, layout=layout)
    # The error of the depthwise stage, carried through |pw|, plus the pointwise's own.
    mid_bound = oracle.error_bound(x, dw, layout=layout, groups=c, **kw) * 2
    bound = oracle.conv(mid_bound, np.abs(pw), layout=layout) + oracle.error_bound(mid, pw, layout=layout) * 2
    if use_packed:
        dw_arg, pw_arg = (dsconv.pack_weights(dw, "depthwise", layout=layout),
                          dsconv.pack_weights(pw, "pointwise", layout=layout))
    else:
        dw_arg, pw_arg = dw, pw
    out = np.empty(expected.shape, np.float32) if use_out else None
    y = dsconv.separable_conv2d(x, dw_arg, pw_arg, dw_b, pw_b, dw_activation=dw_act, activation=act,
                                layout=layout, out=out, **kw)
    if use_out:
        assert np.shares_memory(y, out)
    check(y, expected, bound)


def test_same_padding_output_size_any_stride(isa):
    x = np.ones((1, 3, 10, 7), np.float32)
    w = np.ones((3, 1, 3, 3), np.float32)
    for stride in (1, 2, 3, 4):
        y = dsconv.depthwise_conv2d(x, w, stride=stride, padding="same")
        assert y.shape == (1, 3, -(-10 // stride), -(-7 // stride))
        np.testing.assert_allclose(y, oracle.depthwise(x, w, stride=stride, padding="same"), rtol=1e-6)


def test_layouts_agree(isa, rng):
    x = rng.standard_normal((2, 19, 9, 11)).astype(np.float32)
    w = rng.standard_normal((38, 1, 5, 3)).astype(np.float32)
    a = dsconv.depthwise_conv2d(x, w, stride=2, padding=(2, 1), layout="NCHW")
    b = dsconv.depthwise_conv2d(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), w, stride=2, padding=(2, 1),
                                layout="NHWC")
    np.testing.assert_allclose(a, b.transpose(0, 3, 1, 2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["depthwise", "pointwise", "conv2d"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_nan_stays_in_its_receptive_field(isa, rng, op, layout):
    c, h, w = 21, 9, 10
    x = rng.standard_normal((1, c, h, w)).astype(np.float32)
    x[0, 4, 3, 6] = np.nan
    if op == "depthwise":
        weight = rng.standard_normal((c * 2, 1, 3, 3)).astype(np.float32)
        kw, fn, groups = dict(padding=2, stride=1, dilation=2), dsconv.depthwise_conv2d, c
    elif op == "pointwise":
        weight = rng.standard_normal((17, c)).astype(np.float32)
        kw, fn, groups = {}, dsconv.pointwise_conv2d, 1
    else:
        weight = rng.standard_normal((17, c, 3, 3)).astype(np.float32)
        kw, fn, groups = dict(padding=1, stride=2), dsconv.conv2d, 1
    # Outputs whose receptive field holds the NaN: a convolution of its indicator with ones.
    touched = oracle.conv(np.isnan(x).astype(np.float64), np.ones_like(weight), groups=groups, **kw) > 0
    if layout == "NHWC":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        touched = touched.transpose(0, 2, 3, 1)
    for act in ACTIVATIONS:
        y = fn(x, weight, activation=act, layout=layout, **kw)
        np.testing.assert_array_equal(np.isnan(y), touched)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_results_identical_for_any_thread_count(isa, rng, threads):
    x = rng.standard_normal((1, 48, 56, 56)).astype(np.float32)
    dw = rng.standard_normal((48, 1, 3, 3)).astype(np.float32)
    pw = rng.standard_normal((40, 48)).astype(np.float32)
    cw = rng.standard_normal((24, 48, 3, 3)).astype(np.float32)
    before = dsconv.get_num_threads()
    try:
        dsconv.set_num_threads(1)
        base = [dsconv.depthwise_conv2d(x, dw, padding=1), dsconv.pointwise_conv2d(x, pw),
                dsconv.conv2d(x, cw, padding=1)]
        dsconv.set_num_threads(threads)
        again = [dsconv.depthwise_conv2d(x, dw, padding=1), dsconv.pointwise_conv2d(x, pw),
                 dsconv.conv2d(x, cw, padding=1)]
    finally:
        dsconv.set_num_threads(before)
    for a, b in zip(base, again):
        np.testing.assert_array_equal(a, b)
