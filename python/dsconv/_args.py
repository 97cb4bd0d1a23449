"""Normalisation of the arguments the ops share (arrays, padding forms, activations)."""

from __future__ import annotations

import numbers

import numpy as np

_LAYOUTS = ("NCHW", "NHWC")
_ACTIVATIONS = ("relu", "relu6", "hardswish")
_NO_ACTIVATION = ("none", 0.0, 0.0)


def as_float32(a, name):
    """Something that is not an ndarray, as an ndarray for the core (which reads float32
    ndarrays in place, checks the dtype and copies non-contiguous ones).

    Plain nested sequences of numbers are converted to float32. Anything with a dtype (torch
    tensor, buffer) keeps it, so a dtype other than float32 raises TypeError in the core rather
    than being cast silently."""
    if isinstance(a, (list, tuple)):
        try:
            return np.asarray(a, dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name} must be a float32 array or a nested sequence of numbers: {e}") from None
    if not (hasattr(a, "dtype") or hasattr(a, "__array__") or hasattr(a, "__array_interface__")
            or isinstance(a, (memoryview, bytes, bytearray))):
        raise TypeError(f"{name} must be an array-like of float32, got {type(a).__name__}")
    return np.asarray(a)


def _int(v, what):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{what} must be an int, got {v!r}")
    return int(v)


def pair(v, name):
    """An int or a pair of ints -> (h, w)."""
    if type(v) is int:
        return v, v
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair (h, w), got {v!r}")
        return _int(v[0], name), _int(v[1], name)
    n = _int(v, name)
    return n, n


def padding(p):
    """-> ((top, bottom, left, right), same)."""
    if type(p) is int:
        return (p, p, p, p), False
    if isinstance(p, str):
        mode = p.lower()
        if mode == "valid":
            return (0, 0, 0, 0), False
        if mode == "same":
            return (0, 0, 0, 0), True
        raise ValueError(f"padding must be an int, a pair, a 4-tuple, 'valid' or 'same', got {p!r}")
    if isinstance(p, (tuple, list)):
        if len(p) == 2:
            ph, pw = (_int(v, "padding") for v in p)
            return (ph, ph, pw, pw), False
        if len(p) == 4:
            return tuple(_int(v, "padding") for v in p), False
        raise ValueError(f"padding must be an int, (pH, pW) or (top, bottom, left, right), got {p!r}")
    n = _int(p, "padding")
    return (n, n, n, n), False


def activation(a):
    """-> (kind, lo, hi) as the core takes it."""
    if a is None:
        return _NO_ACTIVATION
    if isinstance(a, str):
        if a.lower() in _ACTIVATIONS:
            return (a.lower(), 0.0, 0.0)
        raise ValueError(f"activation must be None, 'relu', 'relu6', 'hardswish' or ('clamp', lo, hi), got {a!r}")
    if isinstance(a, (tuple, list)) and len(a) == 3 and a[0] == "clamp":
        lo, hi = float(a[1]), float(a[2])
        if not lo <= hi:
            raise ValueError(f"clamp activation needs lo <= hi, got ({lo}, {hi})")
        return ("clamp", lo, hi)
    raise ValueError(f"activation must be None, 'relu', 'relu6', 'hardswish' or ('clamp', lo, hi), got {a!r}")


def layout(value):
    if value not in _LAYOUTS:
        raise ValueError(f"layout must be 'NCHW' or 'NHWC', got {value!r}")
    return value
