"""The API's promises: array-likes, inputs never modified, cpu_info, DSCONV_ISA, threads."""

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import dsconv
import oracle


def test_cpu_info_tells_the_truth():
    info = dsconv.cpu_info()
    assert info["isa"] in info["available"] and "scalar" in info["available"]
    assert info["threads"] == dsconv.get_num_threads() >= 1
    assert set(info["kernels"]) == {"depthwise", "pointwise", "conv2d"}


def test_kernels_of_a_simd_isa_are_simd(isa):
    """On a SIMD ISA every op runs one of that ISA's kernels, never the scalar reference."""
    cases = [("depthwise", (1, 32, 56, 56), (32, 1, 3, 3), dict(padding=1)),
             ("depthwise", (1, 19, 13, 9), (38, 1, 7, 5), dict(padding=2, stride=2, dilation=2)),
             ("pointwise", (1, 144, 28, 28), (24, 144), {}),
             ("pointwise", (1, 3, 5, 1), (1, 3), {}),
             ("conv2d", (1, 144, 56, 56), (24, 144, 3, 3), dict(padding=1)),
             ("conv2d", (1, 6, 9, 9), (9, 2, 5, 3), dict(groups=3, stride=2))]
    for op, shape, wshape, kw in cases:
        for layout in ("NCHW", "NHWC"):
            in_shape = shape if layout == "NCHW" else (shape[0], shape[2], shape[3], shape[1])
            name = dsconv.kernel_name(op, in_shape, wshape, layout=layout, **kw)
            expected = "reference/" if isa == "scalar" else isa + "/"
            assert name.startswith(expected), (op, layout, name)


def test_each_isa_env_runs(tmp_path):
    for isa in dsconv.cpu_info()["available"]:
        r = subprocess.run([sys.executable, "-c", "import dsconv; print(dsconv.cpu_info()['isa'])"],
                           env={**os.environ, "DSCONV_ISA": isa}, capture_output=True, text=True, check=True)
        assert r.stdout.strip() == isa


def test_num_threads_env_and_setter():
    r = subprocess.run([sys.executable, "-c", "import dsconv; print(dsconv.get_num_threads())"],
                       env={**os.environ, "DSCONV_NUM_THREADS": "3"}, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "3"
    with pytest.raises(ValueError):
        dsconv.set_num_threads(0)


def test_array_likes_are_accepted(rng):
    x = rng.standard_normal((1, 3, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 1, 3, 3)).astype(np.float32)
    expected = dsconv.depthwise_conv2d(x, w)

    class Tensorish:  # what torch.Tensor offers numpy
        def __init__(self, a):
            self.a = a

        def __array__(self, dtype=None, copy=None):
            return self.a

    np.testing.assert_array_equal(dsconv.depthwise_conv2d(x.tolist(), w.tolist()), expected)
    np.testing.assert_array_equal(dsconv.depthwise_conv2d(Tensorish(x), Tensorish(w)), expected)
    np.testing.assert_array_equal(dsconv.depthwise_conv2d(np.asfortranarray(x), w[:, :, ::-1, ::-1][:, :, ::-1, ::-1]),
                                  expected)
    with pytest.raises(TypeError, match="float64"):
        dsconv.depthwise_conv2d(Tensorish(x.astype(np.float64)), w)
    with pytest.raises(TypeError):
        dsconv.depthwise_conv2d("not an array", w)


def test_inputs_are_never_modified(isa, rng):
    x = rng.standard_normal((2, 8, 9, 9)).astype(np.float32)
    dw = rng.standard_normal((16, 1, 3, 3)).astype(np.float32)
    pw = rng.standard_normal((5, 16)).astype(np.float32)
    b1, b2 = rng.standard_normal(16).astype(np.float32), rng.standard_normal(5).astype(np.float32)
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    copies = [a.copy() for a in (x, x_nhwc, dw, pw, b1, b2)]
    for layout, xl in (("NCHW", x), ("NHWC", x_nhwc)):
        dsconv.separable_conv2d(xl, dw, pw, b1, b2, padding="same", stride=2, activation="relu6", layout=layout)
        dsconv.conv2d(xl, np.ascontiguousarray(dw.reshape(8, 2, 3, 3)), b1[:8].copy(), groups=4, layout=layout)
    for a, c in zip((x, x_nhwc, dw, pw, b1, b2), copies):
        np.testing.assert_array_equal(a, c)


def test_packed_weights_give_identical_results(isa, rng):
    x = rng.standard_normal((1, 37, 15, 15)).astype(np.float32)
    w = rng.standard_normal((37, 1, 5, 5)).astype(np.float32)
    for layout in ("NCHW", "NHWC"):
        xl = x if layout == "NCHW" else np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        p = dsconv.pack_weights(w, "depthwise", layout=layout)
        assert p.op == "depthwise" and p.layout == layout and p.shape == w.shape and p.isa == isa
        np.testing.assert_array_equal(dsconv.depthwise_conv2d(xl, p, padding=2, layout=layout),
                                      dsconv.depthwise_conv2d(xl, w, padding=2, layout=layout))


def test_concurrent_python_threads(isa, rng):
    """The GIL is released: many threads at once give the single-threaded results."""
    xs = [rng.standard_normal((1, 32, 28, 28)).astype(np.float32) for _ in range(8)]
    w = rng.standard_normal((32, 1, 3, 3)).astype(np.float32)
    pw = rng.standard_normal((48, 32)).astype(np.float32)
    expected = [dsconv.separable_conv2d(x, w, pw, padding=1) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda x: dsconv.separable_conv2d(x, w, pw, padding=1), xs * 3))
    for i, y in enumerate(got):
        np.testing.assert_array_equal(y, expected[i % len(xs)])


def test_torch_conv_weights_convert():
    torch = pytest.importorskip("torch", reason="the torch conversion example needs torch installed")
    conv = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=True)
    x = torch.randn(1, 16, 10, 10)
    y = dsconv.depthwise_conv2d(x.numpy(), conv.weight.detach().numpy(), conv.bias.detach().numpy(), padding=1)
    np.testing.assert_allclose(y, conv(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_batch_of_zero_and_one_pixel_images(isa):
    w = np.ones((3, 1, 1, 1), np.float32)
    assert dsconv.depthwise_conv2d(np.zeros((0, 3, 4, 4), np.float32), w).shape == (0, 3, 4, 4)
    x = np.full((2, 3, 1, 1), 2.0, np.float32)
    np.testing.assert_array_equal(dsconv.depthwise_conv2d(x, np.ones((6, 1, 3, 3), np.float32), padding=1),
                                  np.full((2, 6, 1, 1), 2.0, np.float32))
    np.testing.assert_allclose(dsconv.conv2d(x, np.ones((4, 3, 3, 3), np.float32), padding=1),
                               oracle.conv(x, np.ones((4, 3, 3, 3)), padding=1))


def test_option_forms_and_keywords_give_the_same_bits(rng):
    """The ops read plain options (ints, lower-case names) themselves and leave every other form
    to the Python normaliser: both must make the same call."""
    x = rng.standard_normal((1, 6, 9, 7), dtype=np.float32)
    dw = rng.standard_normal((6, 1, 3, 3), dtype=np.float32)
    pw = rng.standard_normal((5, 6), dtype=np.float32)
    cw = rng.standard_normal((4, 3, 3, 3), dtype=np.float32)
    b6, b5, b4 = (rng.standard_normal(n, dtype=np.float32) for n in (6, 5, 4))
    plain = dict(stride=2, padding=1, dilation=1, activation="relu6")
    same = [dict(stride=(2, 2), padding=(1, 1), dilation=(1, 1), activation="ReLU6"),
            dict(stride=[2, 2], padding=[1, 1, 1, 1], dilation=[1, 1], activation="relu6"),
            dict(stride=np.int64(2), padding=(1, 1, 1, 1), dilation=np.int32(1), activation=("clamp", 0.0, 6.0))]
    want = dsconv.depthwise_conv2d(x, dw, b6, **plain)
    for kw in same:
        assert np.array_equal(dsconv.depthwise_conv2d(x, dw, b6, **kw), want)
    for fast, slow in [("same", "SAME"), ("valid", "Valid"), ((1, 0, 2, 1), (1, 0, np.int8(2), 1)),
                       ([2, 0], (np.int64(2), 0))]:
        assert np.array_equal(dsconv.depthwise_conv2d(x, dw, b6, stride=(2, 1), padding=fast),
                              dsconv.depthwise_conv2d(x, dw, b6, stride=(np.int64(2), 1), padding=slow))
    assert np.array_equal(dsconv.depthwise_conv2d(x=x, weight=dw, bias=b6, layout="NCHW", **plain), want)
    want = dsconv.conv2d(x, cw, b4, groups=2, **plain)
    for kw in same:
        assert np.array_equal(dsconv.conv2d(x, cw, b4, groups=np.int64(2), **kw), want)
    want = dsconv.pointwise_conv2d(x, pw, b5, activation="hardswish")
    assert np.array_equal(dsconv.pointwise_conv2d(x, pw, bias=b5, activation="HardSwish"), want)
    assert np.array_equal(dsconv.pointwise_conv2d(weight=pw, x=x, bias=b5, activation="hardswish"), want)
    want = dsconv.separable_conv2d(x, dw, pw, b6, b5, stride=2, padding=1, dw_activation="relu", activation="relu6")
    got = dsconv.separable_conv2d(x, dw, pw, dw_bias=b6, pw_bias=b5, stride=(2, 2), padding=(1, 1),
                                  dw_activation="ReLU", activation=("clamp", 0, 6))
    assert np.array_equal(got, want)
    yn = np.empty_like(want)
    assert dsconv.separable_conv2d(x, dw, pw, b6, b5, out=yn, stride=2, padding=1, dw_activation="relu",
                                   activation="relu6") is yn
    assert np.array_equal(yn, want)
