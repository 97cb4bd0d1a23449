"""The cost model: MACs, FLOPs, parameters, bytes, intensity and roofline bound of each op.

One implementation, in C++; these functions take the same argument forms as the ops.
`macs` is the textbook count over the output grid, `effective_macs` the taps that land on real
input (not padding); both are checked in the tests against counts taken from the reference
kernels. `params` counts weights (no bias); `bytes` is the compulsory traffic
(input + weights + output; for the two-stage separable and ghost costs, the first input, all
weights and the last output, as a fused kernel moves them: `.parts` has each stage).
"""

from __future__ import annotations

from . import _args
from . import _core
from ._core import Cost

__all__ = ["Cost", "standard", "depthwise", "pointwise", "separable", "ghost", "reduction_ratio"]


def _shape(in_shape):
    s = [_args._int(v, "in_shape") for v in in_shape]
    if len(s) != 4:
        raise ValueError(f"in_shape must have 4 dimensions, got {tuple(in_shape)}")
    return s


def standard(in_shape, out_channels, kernel, *, stride=1, padding=0, dilation=1, groups=1, layout="NCHW") -> Cost:
    pad, same = _args.padding(padding)
    return _core.cost_standard(_shape(in_shape), _args._int(out_channels, "out_channels"),
                               _args.pair(kernel, "kernel"), _args.pair(stride, "stride"), pad, same,
                               _args.pair(dilation, "dilation"), _args._int(groups, "groups"), _args.layout(layout))


def depthwise(in_shape, kernel, *, stride=1, padding=0, dilation=1, multiplier=1, layout="NCHW") -> Cost:
    pad, same = _args.padding(padding)
    return _core.cost_depthwise(_shape(in_shape), _args.pair(kernel, "kernel"), _args.pair(stride, "stride"), pad,
                                same, _args.pair(dilation, "dilation"), _args._int(multiplier, "multiplier"),
                                _args.layout(layout))


def pointwise(in_shape, out_channels, *, layout="NCHW") -> Cost:
    return _core.cost_pointwise(_shape(in_shape), _args._int(out_channels, "out_channels"), _args.layout(layout))


def separable(in_shape, out_channels, kernel, *, stride=1, padding=0, dilation=1, layout="NCHW") -> Cost:
    """Depthwise then pointwise; `.parts` = [depthwise, pointwise]."""
    pad, same = _args.padding(padding)
    return _core.cost_separable(_shape(in_shape), _args._int(out_channels, "out_channels"),
                                _args.pair(kernel, "kernel"), _args.pair(stride, "stride"), pad, same,
                                _args.pair(dilation, "dilation"), _args.layout(layout))


def ghost(in_shape, out_channels, kernel, *, ratio=2, dw_kernel=3, stride=1, layout="NCHW") -> Cost:
    """GhostNet's module; `.parts` = [primary standard conv, cheap depthwise]."""
    return _core.cost_ghost(_shape(in_shape), _args._int(out_channels, "out_channels"), _args.pair(kernel, "kernel"),
                            _args._int(ratio, "ratio"), _args._int(dw_kernel, "dw_kernel"),
                            _args._int(stride, "stride"), _args.layout(layout))


def reduction_ratio(out_channels, kernel) -> float:
    """Cost of depthwise-separable over standard convolution: 1/N + 1/(kH*kW)."""
    return _core.reduction_ratio(_args._int(out_channels, "out_channels"), _args.pair(kernel, "kernel"))
