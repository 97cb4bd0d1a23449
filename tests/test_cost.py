"""The cost model against the reference kernels' counting mode, and against the formulas."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import dsconv
from dsconv import _core, cost

import oracle


def counted(op, in_shape, wshape, stride=1, padding=0, dilation=1, groups=1):
    pad = oracle.resolve_padding(padding, in_shape[2:], wshape[2:], oracle.pair(stride), oracle.pair(dilation))
    return _core._count_macs(op, list(in_shape), list(wshape), oracle.pair(stride), pad, False,
                             oracle.pair(dilation), groups)


@given(n=st.integers(1, 3), c=st.integers(1, 9), h=st.integers(1, 12), w=st.integers(1, 12),
       k=st.tuples(st.integers(1, 5), st.integers(1, 5)), stride=st.integers(1, 3), dilation=st.integers(1, 3),
       pad=st.one_of(st.integers(0, 5), st.just("same"), st.tuples(*[st.integers(0, 4)] * 4)),
       m=st.integers(1, 3), groups=st.integers(1, 3), cout_g=st.integers(1, 4))
def test_macs_match_counted_taps(n, c, h, w, k, stride, dilation, pad, m, groups, cout_g):
    in_shape = (n, c, h, w)
    padding = oracle.resolve_padding(pad, (h, w), k, (stride, stride), (dilation, dilation))
    span = [(kk - 1) * dilation + 1 for kk in k]
    if span[0] > h + padding[0] + padding[1] or span[1] > w + padding[2] + padding[3]:
        with pytest.raises(ValueError):
            cost.depthwise(in_shape, k, stride=stride, padding=pad, dilation=dilation)
        return
    dw = cost.depthwise(in_shape, k, stride=stride, padding=pad, dilation=dilation, multiplier=m)
    assert (dw.macs, dw.effective_macs) == counted("depthwise", in_shape, (c * m, 1, *k), stride, padding, dilation)
    cin = c * groups
    std = cost.standard((n, cin, h, w), cout_g * groups, k, stride=stride, padding=pad, dilation=dilation,
                        groups=groups)
    assert (std.macs, std.effective_macs) == counted("conv2d", (n, cin, h, w), (cout_g * groups, c, *k), stride,
                                                     padding, dilation, groups)
    pw = cost.pointwise(in_shape, cout_g)
    assert pw.macs == pw.effective_macs == counted("pointwise", in_shape, (cout_g, c))[0]


def test_fields_of_a_mobilenet_layer():
    c = cost.depthwise((1, 144, 56, 56), 3, padding=1)
    assert c.macs == 144 * 56 * 56 * 9 and c.flops == 2 * c.macs
    assert c.params == 144 * 9
    assert (c.input_bytes, c.weight_bytes, c.output_bytes) == (4 * 144 * 56 * 56, 4 * 144 * 9, 4 * 144 * 56 * 56)
    assert c.bytes == c.input_bytes + c.weight_bytes + c.output_bytes
    assert c.intensity == pytest.approx(c.flops / c.bytes)
    assert c.effective_macs == 144 * (56 * 3 - 2) ** 2  # each border row/column loses one tap per axis
    assert c.roofline_seconds(247e9, 100e9) == pytest.approx(max(c.flops / 247e9, c.bytes / 100e9))
    nhwc = cost.depthwise((1, 56, 56, 144), 3, padding=1, layout="NHWC")
    assert nhwc.macs == c.macs


def test_separable_parts_and_the_real_reduction_ratio():
    n_out, k = 24, 3
    sep = cost.separable((1, 144, 56, 56), n_out, k, padding=1)
    std = cost.standard((1, 144, 56, 56), n_out, k, padding=1)
    dw, pw = sep.parts
    assert sep.macs == dw.macs + pw.macs and sep.params == dw.params + pw.params
    assert pw.macs == 144 * n_out * 56 * 56
    assert sep.macs / std.macs == pytest.approx(cost.reduction_ratio(n_out, k))
    assert cost.reduction_ratio(n_out, k) == pytest.approx(1 / n_out + 1 / k**2)
    assert cost.reduction_ratio(256, (3, 5)) == pytest.approx(1 / 256 + 1 / 15)
    assert sep.input_bytes == std.input_bytes and sep.output_bytes == std.output_bytes


def test_ghost_module():
    g = cost.ghost((1, 16, 32, 32), 64, 1, ratio=2, dw_kernel=3)
    primary, cheap = g.parts
    assert primary.macs == 16 * 32 * 32 * 32
    assert cheap.macs == 32 * 32 * 32 * 9
    assert g.macs == primary.macs + cheap.macs and g.output_bytes == 4 * 64 * 32 * 32
    g3 = cost.ghost((1, 16, 32, 32), 60, 3, ratio=3, stride=2)
    assert g3.parts[0].macs == 20 * 16 * 9 * 16 * 16 and g3.parts[1].macs == 40 * 9 * 16 * 16


def test_effective_equals_nominal_without_padding():
    c = cost.standard((2, 8, 20, 20), 16, (3, 5), stride=2, dilation=2)
    assert c.effective_macs == c.macs
    assert math.isclose(cost.reduction_ratio(16, 3), 1 / 16 + 1 / 9)
