"""The ops: a thin layer over dsconv._core that normalises the call options. Arrays go to the
core as they are: it reads float32 ndarrays in place and converts anything else through
_args.as_float32.

The four convolutions are the core's own entry points (a Python wrapper cost 0.2-0.3 us of
a call that can take a few microseconds): they read plain options themselves and hand any
other form to _params here."""

from __future__ import annotations

from . import _args
from . import _core
from ._core import conv2d, depthwise_conv2d, pointwise_conv2d, separable_conv2d

_OPS = ("depthwise", "pointwise", "conv2d")


# Parsed call options by their plain-int/str spelling (the forms the core does not read itself,
# such as "ReLU" or "same", are met again on every call of a layer).
_PARAMS = {}


def _params(stride, padding, dilation, groups, activation, layout):
    key = None
    if (type(stride) is int and type(dilation) is int and type(groups) is int and type(padding) in (int, str)
            and (activation is None or type(activation) is str) and type(layout) is str):
        key = (stride, padding, dilation, groups, activation, layout)
        params = _PARAMS.get(key)
        if params is not None:
            return params
    pad, same = _args.padding(padding)
    params = _core.conv_params(_args.pair(stride, "stride"), pad, same, _args.pair(dilation, "dilation"),
                               _args._int(groups, "groups"), _args.activation(activation), _args.layout(layout))
    if key is not None and len(_PARAMS) < 4096:
        _PARAMS[key] = params
    return params


def pack_weights(weight, op, *, layout="NCHW"):
    """Rearranges weights once for the active ISA's kernels of `op` ('depthwise', 'pointwise',
    'conv2d'); the result is accepted wherever that op takes `weight`."""
    if op not in _OPS:
        raise ValueError(f"op must be one of {_OPS}, got {op!r}")
    return _core.pack_weights(weight, op, _args.layout(layout))


def kernel_name(op, in_shape, weight_shape, *, stride=1, padding=0, dilation=1, groups=1, layout="NCHW"):
    """The name of the kernel a call with these shapes runs on the active ISA."""
    if op not in _OPS:
        raise ValueError(f"op must be one of {_OPS}, got {op!r}")
    pad, same = _args.padding(padding)
    return _core.kernel_name(op, [int(v) for v in in_shape], [int(v) for v in weight_shape],
                             _args.pair(stride, "stride"), pad, same, _args.pair(dilation, "dilation"),
                             _args._int(groups, "groups"), _args.layout(layout))


def cpu_info():
    """{'isa', 'available', 'arch', 'features', 'threads', 'openmp', 'kernels': {op: kernel family}}"""
    return _core.cpu_info()


def set_num_threads(n):
    _core.set_num_threads(_args._int(n, "n"))


def get_num_threads():
    return _core.get_num_threads()
