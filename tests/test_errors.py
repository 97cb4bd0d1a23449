"""Bad input gets a clear error (the right type, naming what disagrees), never a crash."""

import numpy as np
import pytest

import dsconv

X = np.zeros((1, 4, 8, 8), np.float32)
DW = np.zeros((4, 1, 3, 3), np.float32)
PW = np.zeros((6, 4), np.float32)
CW = np.zeros((6, 4, 3, 3), np.float32)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.uint8, np.complex64])
def test_wrong_dtype_is_a_type_error_naming_it(dtype):
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        dsconv.depthwise_conv2d(X.astype(dtype), DW)
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        dsconv.pointwise_conv2d(X, PW.astype(dtype))
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        dsconv.conv2d(X, CW, np.zeros(6, dtype))


@pytest.mark.parametrize("shape", [(4, 8, 8), (1, 1, 4, 8, 8), (8,)])
def test_wrong_rank(shape):
    with pytest.raises(ValueError, match="4 dimensions"):
        dsconv.depthwise_conv2d(np.zeros(shape, np.float32), DW)


@pytest.mark.parametrize("fn,args,pattern", [
    (dsconv.depthwise_conv2d, (X, np.zeros((6, 1, 3, 3), np.float32)), "multiple of the input channels"),
    (dsconv.depthwise_conv2d, (X, np.zeros((4, 2, 3, 3), np.float32)), "dimension 1 must be 1"),
    (dsconv.depthwise_conv2d, (X, np.zeros((4, 3, 3), np.float32)), "4 dimensions"),
    (dsconv.pointwise_conv2d, (X, np.zeros((6, 5), np.float32)), "Cin=5"),
    (dsconv.pointwise_conv2d, (X, np.zeros((6, 4, 3, 3), np.float32)), "pointwise weight"),
    (dsconv.conv2d, (X, np.zeros((6, 3, 3, 3), np.float32)), "dimension 1"),
    (dsconv.depthwise_conv2d, (X, DW, np.zeros(5, np.float32)), r"bias must have shape \(4,\)"),
    (dsconv.conv2d, (X, CW, np.zeros((6, 1), np.float32)), r"bias must have shape \(6,\)"),
])
def test_disagreeing_shapes(fn, args, pattern):
    with pytest.raises(ValueError, match=pattern):
        fn(*args)


def test_groups_must_divide():
    with pytest.raises(ValueError, match="divisible by groups"):
        dsconv.conv2d(X, np.zeros((6, 2, 3, 3), np.float32), groups=3)
    with pytest.raises(ValueError, match="groups"):
        dsconv.conv2d(X, CW, groups=0)


@pytest.mark.parametrize("kw", [dict(stride=0), dict(stride=-1), dict(stride=(1, 0)), dict(dilation=0),
                                dict(dilation=(-2, 1)), dict(padding=-1), dict(padding=(0, 0, -1, 0))])
def test_bad_stride_dilation_padding(kw):
    with pytest.raises(ValueError, match=">= "):
        dsconv.depthwise_conv2d(X, DW, **kw)
    with pytest.raises(ValueError, match=">= "):
        dsconv.conv2d(X, CW, **kw)


@pytest.mark.parametrize("kw", [dict(stride=1.5), dict(padding="full"), dict(padding=(1, 2, 3)),
                                dict(activation="gelu"), dict(activation=("clamp", 1, 0)), dict(layout="nchw")])
def test_bad_option_values(kw):
    with pytest.raises((ValueError, TypeError)):
        dsconv.depthwise_conv2d(X, DW, **kw)


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match="larger than the padded input"):
        dsconv.depthwise_conv2d(np.zeros((1, 4, 2, 8), np.float32), DW)
    with pytest.raises(ValueError, match="larger than the padded input"):
        dsconv.conv2d(X, CW, dilation=4)


@pytest.mark.parametrize("out,pattern", [
    (np.zeros((1, 4, 6, 6), np.float64), "float32"),
    (np.zeros((1, 4, 6, 5), np.float32), "shape"),
    (np.zeros((1, 6, 6, 4), np.float32), "shape"),
    (np.zeros((1, 4, 6, 12), np.float32)[..., ::2], "C-contiguous"),
    (np.zeros((1, 4, 6, 6), np.float32, order="F"), "C-contiguous"),
    ([[0.0]], "numpy array"),
])
def test_bad_out(out, pattern):
    with pytest.raises(ValueError, match=pattern):
        dsconv.depthwise_conv2d(X, DW, out=out)


def test_readonly_out_and_aliasing_out():
    out = np.zeros((1, 4, 6, 6), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        dsconv.depthwise_conv2d(X, DW, out=out)
    x = np.zeros((1, 4, 1, 1), np.float32)
    with pytest.raises(ValueError, match="share memory"):
        dsconv.pointwise_conv2d(x, np.zeros((4, 4), np.float32), out=x)


def test_sizes_whose_products_overflow():
    huge = (2**31, 2**31, 2**31, 2**31)
    with pytest.raises(OverflowError):
        dsconv.cost.standard(huge, 4, 3)
    with pytest.raises(ValueError):
        dsconv.cost.depthwise((1, 2**40, 2**20, 2**20), 3)
    with pytest.raises(dsconv.SizeOverflowError):
        dsconv.cost.pointwise((2**62, 4, 4, 4), 8)


def test_packed_weights_for_another_op_or_layout():
    p = dsconv.pack_weights(DW, "depthwise", layout="NHWC")
    with pytest.raises(ValueError, match="layout"):
        dsconv.depthwise_conv2d(X, p, layout="NCHW")
    with pytest.raises(ValueError, match="packed for depthwise"):
        dsconv.conv2d(X, p, layout="NHWC")
    with pytest.raises(ValueError, match="op must be"):
        dsconv.pack_weights(DW, "dense")


def test_bad_env_isa_fails_at_import_with_a_message():
    import subprocess
    import sys
    for isa, pattern in (("quantum", "unknown ISA"), ("neon" if dsconv.cpu_info()["arch"] != "aarch64" else "avx2",
                                                       "cannot run it")):
        r = subprocess.run([sys.executable, "-c", "import dsconv"], env={**__import__("os").environ,
                           "DSCONV_ISA": isa}, capture_output=True, text=True)
        assert r.returncode != 0 and pattern in r.stderr, r.stderr


@pytest.mark.parametrize("call, pattern", [
    (lambda: dsconv.depthwise_conv2d(X, DW, strides=2), "unexpected keyword argument 'strides'"),
    (lambda: dsconv.depthwise_conv2d(X, DW, None, 2), "at most 3 positional"),
    (lambda: dsconv.depthwise_conv2d(X, DW, weight=DW), "multiple values for argument 'weight'"),
    (lambda: dsconv.depthwise_conv2d(X), "missing required argument 'weight'"),
    (lambda: dsconv.pointwise_conv2d(X, PW, stride=1), "unexpected keyword argument 'stride'"),
    (lambda: dsconv.separable_conv2d(X, DW), "missing required argument 'pw_weight'"),
    (lambda: dsconv.depthwise_conv2d(X, DW, stride=True), "stride must be an int"),
    (lambda: dsconv.depthwise_conv2d(X, DW, stride=(1, True)), "stride must be an int"),
    (lambda: dsconv.depthwise_conv2d(X, DW, padding=(1, 1.0)), "padding must be an int"),
    (lambda: dsconv.conv2d(X, CW, groups=1.0), "groups must be an int"),
])
def test_bad_call_signatures_are_type_errors(call, pattern):
    with pytest.raises(TypeError, match=pattern):
        call()


@pytest.mark.parametrize("kw", [dict(stride=2**70), dict(padding=-2**70), dict(dilation=2**63), dict(stride=(1, 2**64)),
                                dict(padding=(0, 0, 0, 2**80))])
def test_option_ints_beyond_64_bits(kw):
    with pytest.raises((ValueError, TypeError, OverflowError)):
        dsconv.depthwise_conv2d(X, DW, **kw)
