"""Other libraries timed beside dsconv by `python -m dsconv --compare torch,onnxruntime`: the
same blocks, the same weights, one thread, inputs and weights prepared outside the timed calls.
A library that is not importable is skipped with a note."""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

import numpy as np

KNOWN = ("torch", "onnxruntime")


class Unavailable(Exception):
    pass


def _nchw(x: np.ndarray, layout: str) -> np.ndarray:
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if layout == "NHWC" else x


class Torch:
    name = "torch"

    def __init__(self, threads: int):
        try:
            import torch
        except ImportError as e:
            raise Unavailable(f"torch is not importable ({e})") from None
        self.torch = torch
        torch.set_num_threads(threads)
        self.version = f"torch {torch.__version__}"

    def block(self, std, dw, pw, layer, layout) -> Tuple[Callable, Callable, np.ndarray]:
        """(standard, depthwise + pointwise, standard output in NCHW) callables for one block."""
        torch, F = self.torch, self.torch.nn.functional
        t = torch.from_numpy
        x = t(std.x.transpose(0, 3, 1, 2)) if layout == "NHWC" else t(std.x)  # channels-last view for NHWC
        ws, bs = t(std.weights[0]), t(std.biases[0])
        wd, bd = t(dw.weights[0]), t(dw.biases[0])
        wp, bp = t(pw.weights[0].reshape(*pw.weights[0].shape, 1, 1)), t(pw.biases[0])
        s, p, c = layer.stride, layer.padding, layer.cin

        def standard():
            with torch.inference_mode():
                return F.conv2d(x, ws, bs, s, p)

        def separable():
            with torch.inference_mode():
                return F.conv2d(F.conv2d(x, wd, bd, s, p, 1, c), wp, bp)

        return standard, separable, standard().numpy()


class OnnxRuntime:
    name = "onnxruntime"

    def __init__(self, threads: int):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise Unavailable(f"onnxruntime is not importable ({e})") from None
        try:
            import onnx  # builds the test models
        except ImportError:
            raise Unavailable("onnxruntime needs the onnx package to build its models (pip install onnx)") from None
        self.ort, self.onnx = ort, onnx
        self.opts = ort.SessionOptions()
        self.opts.intra_op_num_threads = threads
        self.opts.inter_op_num_threads = 1
        self.opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.version = f"onnxruntime {ort.__version__}"

    def _session(self, nodes, inits, x_shape, y_name):
        from onnx import TensorProto, helper, numpy_helper
        graph = helper.make_graph(
            nodes, "block", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x_shape))],
            [helper.make_tensor_value_info(y_name, TensorProto.FLOAT, None)],
            [numpy_helper.from_array(v, k) for k, v in inits.items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = min(model.ir_version, 8)
        return self.ort.InferenceSession(model.SerializeToString(), self.opts, providers=["CPUExecutionProvider"])

    def block(self, std, dw, pw, layer, layout):
        from onnx import helper
        x = _nchw(std.x, layout)
        k, s, p, c = layer.k, layer.stride, layer.padding, layer.cin
        conv = dict(kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])
        s_std = self._session([helper.make_node("Conv", ["x", "w", "b"], ["y"], **conv)],
                              {"w": std.weights[0], "b": std.biases[0]}, x.shape, "y")
        wp = pw.weights[0].reshape(*pw.weights[0].shape, 1, 1)
        s_sep = self._session([helper.make_node("Conv", ["x", "wd", "bd"], ["m"], group=c, **conv),
                               helper.make_node("Conv", ["m", "wp", "bp"], ["y"])],
                              {"wd": dw.weights[0], "bd": dw.biases[0], "wp": wp, "bp": pw.biases[0]}, x.shape, "y")
        feed = {"x": x}
        return (lambda: s_std.run(None, feed)), (lambda: s_sep.run(None, feed)), s_std.run(None, feed)[0]


def open_frameworks(names, threads: int) -> Tuple[Dict[str, object], Dict[str, str]]:
    """The importable ones, and a note for each one skipped."""
    found, notes = {}, {}
    for name in names:
        cls = {"torch": Torch, "onnxruntime": OnnxRuntime}.get(name)
        if cls is None:
            notes[name] = f"unknown library (known: {', '.join(KNOWN)})"
            continue
        try:
            found[name] = cls(threads)
        except Unavailable as e:
            notes[name] = f"skipped: {e}"
    return found, notes


def mismatch(ours: np.ndarray, theirs: np.ndarray, layout: str) -> Optional[float]:
    """Relative max difference of a library's standard-conv output from dsconv's, when > 1e-3."""
    ref = _nchw(ours, layout)
    scale = float(np.max(np.abs(ref))) or 1.0
    err = float(np.max(np.abs(ref - theirs))) / scale
    return err if err > 1e-3 else None
