"""An independent NumPy oracle (float64) for every op: sliding windows and einsum, written from
the definition of a grouped convolution, sharing no code with dsconv."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def same_padding(size, k, stride, dilation):
    """TensorFlow's SAME: output ceil(size / stride), the odd pixel padded after."""
    out = math.ceil(size / stride)
    span = (k - 1) * dilation + 1
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def resolve_padding(padding, x_hw, k_hw, stride, dilation):
    """Any of dsconv's padding forms -> (top, bottom, left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        top, bottom = same_padding(x_hw[0], k_hw[0], stride[0], dilation[0])
        left, right = same_padding(x_hw[1], k_hw[1], stride[1], dilation[1])
        return (top, bottom, left, right)
    if isinstance(padding, int):
        return (padding,) * 4
    if len(padding) == 2:
        return (padding[0], padding[0], padding[1], padding[1])
    return tuple(padding)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def activate(y, activation):
    if activation is None:
        return y
    if activation == "relu":
        return np.maximum(y, 0.0)
    if activation == "relu6":
        return np.clip(y, 0.0, 6.0)
    if activation == "hardswish":
        return y * np.clip(y + 3.0, 0.0, 6.0) / 6.0
    _, lo, hi = activation
    return np.clip(y, lo, hi)


def conv(x, w, bias=None, *, stride=1, padding=0, dilation=1, groups=1, activation=None, layout="NCHW"):
    """Grouped 2-D convolution in float64. x in `layout`, w (Cout, Cin/groups, kH, kW)."""
    x = np.asarray(x, np.float64)
    if layout == "NHWC":
        x = x.transpose(0, 3, 1, 2)
    w = np.asarray(w, np.float64)
    if w.ndim == 2:
        w = w[:, :, None, None]
    n, c, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    sh, sw = pair(stride)
    dh, dw = pair(dilation)
    top, bottom, left, right = resolve_padding(padding, (h, wd), (kh, kw), (sh, sw), (dh, dw))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    windows = sliding_window_view(xp, ((kh - 1) * dh + 1, (kw - 1) * dw + 1), axis=(2, 3))
    windows = windows[:, :, ::sh, ::sw, ::dh, ::dw]  # n, c, ho, wo, kh, kw
    ho, wo = windows.shape[2], windows.shape[3]
    windows = windows.reshape(n, groups, cg, ho, wo, kh, kw)
    wg = w.reshape(groups, cout // groups, cg, kh, kw)
    y = np.einsum("ngchwij,gocij->ngohw", windows, wg).reshape(n, cout, ho, wo)
    if bias is not None:
        y = y + np.asarray(bias, np.float64)[None, :, None, None]
    y = activate(y, activation)
    return y.transpose(0, 2, 3, 1) if layout == "NHWC" else y


def depthwise(x, w, bias=None, *, layout="NCHW", **kw):
    channels = x.shape[1] if layout == "NCHW" else x.shape[3]
    return conv(x, w, bias, groups=channels, layout=layout, **kw)


def error_bound(x, w, *, layout="NCHW", groups=1, **kw):
    """What fp32 arithmetic may be off by, per output: a multiple of sum |x|*|w| over the taps."""
    scale = conv(np.abs(np.asarray(x, np.float64)), np.abs(np.asarray(w, np.float64)), layout=layout,
                 groups=groups, **kw)
    return 2e-5 * scale + 1e-5
