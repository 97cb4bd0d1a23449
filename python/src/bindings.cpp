// dsconv._core: the pybind11 layer over the C++ API. It checks buffers (dtype, contiguity,
// rank), allocates or checks `out`, and releases the GIL around every kernel; argument
// normalisation (padding forms, activations) lives in the Python package.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include "dsconv/cost.hpp"
#include "dsconv/dsconv.hpp"
#include "reference/reference.hpp"
#include "core/geometry.hpp"
#include "core/threads.hpp"
#include "../../bench/roofline.hpp"

namespace py = pybind11;
using namespace dsconv;

namespace {

using Pair = std::pair<int64_t, int64_t>;
using Pad4 = std::tuple<int64_t, int64_t, int64_t, int64_t>;
using Act = std::tuple<std::string, float, float>;

// A layout by its name; false for any other string.
bool layout_named(const char* s, Layout& layout) {
  if (!std::strcmp(s, "NCHW")) return layout = Layout::NCHW, true;
  if (!std::strcmp(s, "NHWC")) return layout = Layout::NHWC, true;
  return false;
}

// An activation that its name alone gives (not "none" or "clamp"); false for any other string.
bool activation_named(const char* s, Activation& act) {
  if (!std::strcmp(s, "relu")) return act = Activation::relu(), true;
  if (!std::strcmp(s, "relu6")) return act = Activation::relu6(), true;
  if (!std::strcmp(s, "hardswish")) return act = Activation::hardswish(), true;
  return false;
}

Layout parse_layout(const std::string& s) {
  Layout layout;
  if (layout_named(s.c_str(), layout)) return layout;
  throw Error("layout must be 'NCHW' or 'NHWC', got '" + s + "'");
}

Activation parse_activation(const Act& a) {
  const auto& [kind, lo, hi] = a;
  Activation act;
  if (kind == "none") return Activation::none();
  if (kind == "clamp") return Activation::clamp(lo, hi);
  if (activation_named(kind.c_str(), act)) return act;
  throw Error("unknown activation '" + kind + "'");
}

ConvParams make_params(Pair stride, Pad4 padding, bool same, Pair dilation, int64_t groups, const Act& act,
                       const std::string& layout) {
  ConvParams p;
  p.stride_h = stride.first, p.stride_w = stride.second;
  p.dilation_h = dilation.first, p.dilation_w = dilation.second;
  p.padding = {std::get<0>(padding), std::get<1>(padding), std::get<2>(padding), std::get<3>(padding)};
  p.same_padding = same;
  p.groups = groups;
  p.activation = parse_activation(act);
  p.layout = parse_layout(layout);
  return p;
}

// An input as the kernels read it: a float32 ndarray, copied only when not C-contiguous. Other
// dtypes raise TypeError rather than being cast silently. Anything that is not an ndarray
// (nested lists, tensors, buffers) goes through dsconv._args.as_float32 first: ndarrays, the
// common case, pay no Python-level call (a small layer takes microseconds).
py::array_t<float> float_array(const py::object& obj, const char* name) {
  if (py::array_t<float>::check_(obj)) {
    auto a = py::reinterpret_borrow<py::array_t<float>>(obj);
    if (a.flags() & py::array::c_style) return a;
    auto copy = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(obj);
    if (!copy) throw py::error_already_set();
    return py::reinterpret_steal<py::array_t<float>>(copy.release());
  }
  if (!py::isinstance<py::array>(obj))
    return float_array(py::module_::import("dsconv._args").attr("as_float32")(obj, name), name);
  throw py::type_error(std::string(name) + " must be float32, got dtype " +
                       std::string(py::str(py::reinterpret_borrow<py::array>(obj).dtype())));
}

std::vector<int64_t> shape_of(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

std::string shape_str(const py::array& a) {
  std::string r = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) r += (i ? ", " : "") + std::to_string(a.shape(i));
  return r + (a.ndim() == 1 ? ",)" : ")");
}

TensorShape input_shape(const py::array& x, Layout layout) {
  if (x.ndim() != 4)
    throw Error("input must have 4 dimensions (" + std::string(layout == Layout::NCHW ? "N, C, H, W" : "N, H, W, C") +
                "), got " + std::to_string(x.ndim()));
  const py::ssize_t* s = x.shape();
  return layout == Layout::NCHW ? TensorShape{s[0], s[1], s[2], s[3]} : TensorShape{s[0], s[3], s[1], s[2]};
}

// The arrays a call reads: kept alive until the kernel has run (copies made for non-contiguous
// inputs live only here) and checked against `out`. A fixed array: small layers take
// microseconds, and a call should not allocate to hold five pointers.
class Reads {
 public:
  const float* add(const py::array_t<float>& a) {
    keep_[n_] = a;
    begin_[n_] = reinterpret_cast<const char*>(a.data());
    end_[n_] = begin_[n_] + a.nbytes();
    ++n_;
    return a.data();
  }
  bool overlaps(const char* b, const char* e) const {
    for (int i = 0; i < n_; ++i)
      if (begin_[i] != end_[i] && begin_[i] < e && b < end_[i]) return true;
    return false;
  }

 private:
  static constexpr int kMax = 5;  // input, two raw weights, two biases
  py::object keep_[kMax];
  const char* begin_[kMax] = {};
  const char* end_[kMax] = {};
  int n_ = 0;
};

// The output array: a new one, or `out` checked to be exactly what the op writes.
py::array_t<float> output_array(const py::object& out, const TensorShape& t, Layout layout, const Reads& reads) {
  const py::ssize_t shape[4] = {t.n, layout == Layout::NCHW ? t.c : t.h, layout == Layout::NCHW ? t.h : t.w,
                                layout == Layout::NCHW ? t.w : t.c};
  if (out.is_none()) return py::array_t<float>(std::vector<py::ssize_t>(shape, shape + 4));
  if (!py::isinstance<py::array>(out)) throw Error("out must be a numpy array");
  py::array a = py::reinterpret_borrow<py::array>(out);
  if (!py::array_t<float>::check_(out)) throw Error("out must be float32, got " + std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style)) throw Error("out must be C-contiguous");
  if (!a.writeable()) throw Error("out must be writeable");
  if (a.ndim() != 4 || !std::equal(shape, shape + 4, a.shape()))
    throw Error("out has shape " + shape_str(a) + ", the result has shape (" + std::to_string(shape[0]) + ", " +
                std::to_string(shape[1]) + ", " + std::to_string(shape[2]) + ", " + std::to_string(shape[3]) + ")");
  const char* b = static_cast<const char*>(a.data());
  if (a.nbytes() && reads.overlaps(b, b + a.nbytes())) throw Error("out must not share memory with an input");
  return py::reinterpret_borrow<py::array_t<float>>(a);
}

const float* bias_ptr(const py::object& bias, int64_t cout, Reads& reads, const char* name) {
  if (bias.is_none()) return nullptr;
  py::array_t<float> b = float_array(bias, name);
  if (b.ndim() != 1 || b.shape(0) != cout)
    throw Error(std::string(name) + " must have shape (" + std::to_string(cout) + ",) (one per output channel), got " +
                shape_str(b));
  return reads.add(b);
}

const char* op_str(Op op) {
  switch (op) {
    case Op::Depthwise: return "depthwise";
    case Op::Pointwise: return "pointwise";
    case Op::Conv2d: return "conv2d";
  }
  return "?";
}

// A weight argument: a float32 array, or PackedWeights for `op` (checked by the C++ API).
// Packed weights are checked for their op first: their shape means nothing to another op.
// Built in place (it points into itself), never copied.
struct WeightArg {
  WeightArg(const py::object& w, const char* name, Op op, Reads& reads) {
    if (py::isinstance<PackedWeights>(w)) {
      packed = &w.cast<const PackedWeights&>();
      if (packed->op() != op)
        throw Error(std::string(name) + " was packed for " + op_str(packed->op()) + ", not for " + op_str(op));
      shape = &packed->weight_shape();
    } else {
      const py::array_t<float> a = float_array(w, name);
      raw_shape = shape_of(a);
      raw = reads.add(a);
      shape = &raw_shape;
    }
  }
  WeightArg(const WeightArg&) = delete;
  WeightArg& operator=(const WeightArg&) = delete;

  const PackedWeights* packed = nullptr;
  const float* raw = nullptr;  // kept alive by the call's Reads
  const std::vector<int64_t>* shape = nullptr;

 private:
  std::vector<int64_t> raw_shape;
};

// What the single ops share: buffers checked, the output allocated or checked, the GIL
// released around the kernel. `shape_of_output(in, weight_shape)` validates the call.
template <class OutputShape, class Run>
py::array run_single(Op op, const py::object& x_obj, const py::object& w_obj, const py::object& bias_obj,
                     const py::object& out, Layout layout, OutputShape shape_of_output, Run run) {
  Reads reads;
  const py::array_t<float> x = float_array(x_obj, "input");
  const TensorShape in = input_shape(x, layout);
  const float* xp = reads.add(x);
  const WeightArg w(w_obj, "weight", op, reads);
  const TensorShape out_shape = shape_of_output(in, *w.shape);
  const float* bias = bias_ptr(bias_obj, out_shape.c, reads, "bias");
  py::array_t<float> y = output_array(out, out_shape, layout, reads);
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    run(xp, in, w, bias, yp);
  }
  return y;
}

py::array run_depthwise(const py::object& x, const py::object& weight, const py::object& bias, const py::object& out,
                        const ConvParams& p) {
  return run_single(
      Op::Depthwise, x, weight, bias, out, p.layout,
      [&](const TensorShape& in, const std::vector<int64_t>& ws) { return depthwise_output_shape(in, ws, p); },
      [&](const float* xp, const TensorShape& in, const WeightArg& w, const float* b, float* yp) {
        if (w.packed)
          depthwise_conv2d(xp, in, *w.packed, b, yp, p);
        else
          depthwise_conv2d(xp, in, w.raw, *w.shape, b, yp, p);
      });
}

// Pointwise uses the activation and layout of `p`.
py::array run_pointwise(const py::object& x, const py::object& weight, const py::object& bias, const py::object& out,
                        const ConvParams& p) {
  return run_single(
      Op::Pointwise, x, weight, bias, out, p.layout,
      [&](const TensorShape& in, const std::vector<int64_t>& ws) { return pointwise_output_shape(in, ws); },
      [&](const float* xp, const TensorShape& in, const WeightArg& w, const float* b, float* yp) {
        if (w.packed)
          pointwise_conv2d(xp, in, *w.packed, b, yp, p.activation, p.layout);
        else
          pointwise_conv2d(xp, in, w.raw, *w.shape, b, yp, p.activation, p.layout);
      });
}

py::array run_conv2d(const py::object& x, const py::object& weight, const py::object& bias, const py::object& out,
                     const ConvParams& p) {
  return run_single(
      Op::Conv2d, x, weight, bias, out, p.layout,
      [&](const TensorShape& in, const std::vector<int64_t>& ws) { return conv2d_output_shape(in, ws, p); },
      [&](const float* xp, const TensorShape& in, const WeightArg& w, const float* b, float* yp) {
        if (w.packed)
          conv2d(xp, in, *w.packed, b, yp, p);
        else
          conv2d(xp, in, w.raw, *w.shape, b, yp, p);
      });
}

PackedWeights packed_or_pack(const WeightArg& w, Op op, Layout layout) {
  return w.packed ? *w.packed : pack_weights(w.raw, *w.shape, op, layout);
}

// The depthwise stage runs with `dw`; the pointwise one with the activation of `pw`.
py::array run_separable(const py::object& x_obj, const py::object& dw_obj, const py::object& pw_obj,
                        const py::object& dw_bias_obj, const py::object& pw_bias_obj, const py::object& out,
                        const ConvParams& dw_params, const ConvParams& pw_params) {
  SeparableParams p;
  p.depthwise = dw_params;
  p.activation = pw_params.activation;
  Reads reads;
  const py::array_t<float> x = float_array(x_obj, "input");
  const TensorShape in = input_shape(x, p.depthwise.layout);
  const float* xp = reads.add(x);
  const WeightArg dw(dw_obj, "dw_weight", Op::Depthwise, reads);
  const WeightArg pw(pw_obj, "pw_weight", Op::Pointwise, reads);
  const TensorShape mid = depthwise_output_shape(in, *dw.shape, p.depthwise);
  const TensorShape out_shape = pointwise_output_shape(mid, *pw.shape);
  const float* dw_bias = bias_ptr(dw_bias_obj, mid.c, reads, "dw_bias");
  const float* pw_bias = bias_ptr(pw_bias_obj, out_shape.c, reads, "pw_bias");
  py::array_t<float> y = output_array(out, out_shape, p.depthwise.layout, reads);
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    const Layout l = p.depthwise.layout;
    separable_conv2d(xp, in, packed_or_pack(dw, Op::Depthwise, l), packed_or_pack(pw, Op::Pointwise, l),
                     dw_bias, pw_bias, yp, p);
  }
  return y;
}

// ------------------------------------------------------------------ the ops' entry points
// The ops are called once per layer, and a small layer takes a few microseconds: a Python
// wrapper with keyword options, its option cache and pybind11's dispatch took 0.45 us of a
// 0.72 us call (dw3x3 on a 1x1 image, measured). So the public ops are these METH_FASTCALL
// functions with the ops' Python signatures. They read the plain options here (ints, tuples and
// lists of ints, padding "valid" or "same", no activation or one by its lower-case name, layout
// "NCHW" or "NHWC"); any other form (other spellings, clamp tuples, NumPy ints) goes to
// dsconv._ops._params, the one normaliser of options, so both give the same parameters and
// the same errors.

enum Param { kX, kWeight, kBias, kDwWeight, kPwWeight, kDwBias, kPwBias, kStride, kPadding, kDilation, kGroups,
             kDwActivation, kActivation, kLayout, kOut, kParams };

const char* const kParamNames[kParams] = {"x",      "weight",  "bias",     "dw_weight", "pw_weight",
                                          "dw_bias", "pw_bias", "stride",   "padding",   "dilation",
                                          "groups", "dw_activation", "activation", "layout", "out"};

struct Signature {
  const char* name;
  std::vector<Param> params;  // in order: the positional ones first
  int positional, required;
};

// A call's arguments by parameter (borrowed references; null = not given).
struct Args {
  PyObject* v[kParams] = {};
  PyObject* operator[](Param p) const { return v[p]; }
};

PyObject* interned_name(Param p) {
  static PyObject* names[kParams] = {};
  if (!names[p]) names[p] = PyUnicode_InternFromString(kParamNames[p]);
  return names[p];
}

Args parse_args(const Signature& sig, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  const auto fn = [&] { return std::string(sig.name) + "()"; };
  if (nargs > sig.positional)
    throw py::type_error(fn() + " takes at most " + std::to_string(sig.positional) + " positional arguments (" +
                         std::to_string(nargs) + " given)");
  Args a;
  for (Py_ssize_t i = 0; i < nargs; ++i) a.v[sig.params[i]] = args[i];
  const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    PyObject* key = PyTuple_GET_ITEM(kwnames, k);
    int found = -1;
    for (size_t j = 0; j < sig.params.size() && found < 0; ++j)
      if (key == interned_name(sig.params[j])) found = int(j);
    for (size_t j = 0; j < sig.params.size() && found < 0; ++j)
      if (PyUnicode_CompareWithASCIIString(key, kParamNames[sig.params[j]]) == 0) found = int(j);
    if (found < 0)
      throw py::type_error(fn() + " got an unexpected keyword argument '" + std::string(py::str(key)) + "'");
    const Param p = sig.params[found];
    if (a.v[p]) throw py::type_error(fn() + " got multiple values for argument '" + kParamNames[p] + "'");
    a.v[p] = args[nargs + k];
  }
  for (int j = 0; j < sig.required; ++j)
    if (!a.v[sig.params[j]])
      throw py::type_error(fn() + " missing required argument '" + kParamNames[sig.params[j]] + "'");
  return a;
}

// An option that is absent (its default) or a plain int.
bool plain_int(PyObject* o, int64_t fallback, int64_t& v) {
  if (!o) return v = fallback, true;
  if (!PyLong_CheckExact(o)) return false;
  int overflow = 0;
  v = PyLong_AsLongLongAndOverflow(o, &overflow);
  if (v == -1 && PyErr_Occurred()) return PyErr_Clear(), false;
  return !overflow;
}

// An option that is absent, a plain int, or a tuple or list of N plain ints.
template <size_t N>
bool plain_ints(PyObject* o, int64_t fallback, std::array<int64_t, N>& v) {
  if (!o || PyLong_CheckExact(o)) {
    int64_t one;
    if (!plain_int(o, fallback, one)) return false;
    return v.fill(one), true;
  }
  if (!(PyTuple_CheckExact(o) || PyList_CheckExact(o)) || PySequence_Fast_GET_SIZE(o) != Py_ssize_t(N)) return false;
  for (size_t i = 0; i < N; ++i)
    if (!plain_int(PySequence_Fast_GET_ITEM(o, Py_ssize_t(i)), 0, v[i])) return false;
  return true;
}

bool plain_str(PyObject* o, const char*& s) {
  if (!PyUnicode_CheckExact(o)) return false;
  s = PyUnicode_AsUTF8(o);
  if (!s) PyErr_Clear();
  return s != nullptr;
}

// Padding: absent, an int, (pH, pW), (top, bottom, left, right), "valid" or "same".
bool plain_padding(PyObject* o, ConvParams& p) {
  const char* s = nullptr;
  std::array<int64_t, 2> hw;
  std::array<int64_t, 4> tblr;
  if (o && plain_str(o, s)) {
    if (std::strcmp(s, "valid") && std::strcmp(s, "same")) return false;
    p.padding = {0, 0, 0, 0};
    p.same_padding = !std::strcmp(s, "same");
    return true;
  }
  if (plain_ints(o, 0, hw)) return p.padding = {hw[0], hw[0], hw[1], hw[1]}, true;
  if (plain_ints(o, 0, tblr)) return p.padding = {tblr[0], tblr[1], tblr[2], tblr[3]}, true;
  return false;
}

bool plain_activation(PyObject* o, Activation& act) {
  const char* s = nullptr;
  if (!o || o == Py_None) return act = Activation::none(), true;
  return plain_str(o, s) && activation_named(s, act);
}

bool plain_layout(PyObject* o, Layout& layout) {
  const char* s = nullptr;
  if (!o) return layout = Layout::NCHW, true;
  return plain_str(o, s) && layout_named(s, layout);
}

// The parameters of one op of a call: `activation` names the option it takes its activation
// from (separable: the depthwise stage reads dw_activation).
ConvParams call_params(const Args& a, Param activation) {
  ConvParams p;
  std::array<int64_t, 2> stride, dilation;
  int64_t groups;
  if (plain_ints(a[kStride], 1, stride) && plain_padding(a[kPadding], p) && plain_ints(a[kDilation], 1, dilation) &&
      plain_int(a[kGroups], 1, groups) && plain_activation(a[activation], p.activation) &&
      plain_layout(a[kLayout], p.layout)) {
    p.stride_h = stride[0], p.stride_w = stride[1];
    p.dilation_h = dilation[0], p.dilation_w = dilation[1];
    p.groups = groups;
    return p;
  }
  const auto given = [&](Param q, py::object fallback) {
    return a[q] ? py::reinterpret_borrow<py::object>(a[q]) : fallback;
  };
  // Looked up once: an import per call would cost a microsecond.
  static PyObject* const normalise = py::object(py::module_::import("dsconv._ops").attr("_params")).release().ptr();
  return py::reinterpret_borrow<py::object>(normalise)(given(kStride, py::int_(1)), given(kPadding, py::int_(0)), given(kDilation, py::int_(1)),
                       given(kGroups, py::int_(1)), given(activation, py::none()), given(kLayout, py::str("NCHW")))
      .cast<ConvParams>();
}

py::object arg(const Args& a, Param p) {
  return a[p] ? py::reinterpret_borrow<py::object>(a[p]) : py::object(py::none());
}

// The exceptions a call raises, as pybind11 would translate them.
void set_python_error(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (py::error_already_set& err) {
    err.restore();
  } catch (const py::builtin_exception& err) {
    err.set_error();
  } catch (const SizeOverflow& err) {
    PyErr_SetString(py::module_::import("dsconv._core").attr("SizeOverflowError").ptr(), err.what());
  } catch (const std::invalid_argument& err) {
    PyErr_SetString(PyExc_ValueError, err.what());
  } catch (const std::overflow_error& err) {
    PyErr_SetString(PyExc_OverflowError, err.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& err) {
    PyErr_SetString(PyExc_RuntimeError, err.what());
  }
}

template <const Signature& Sig, class Run>
PyObject* entry(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, Run run) {
  try {
    return run(parse_args(Sig, args, nargs, kwnames)).release().ptr();
  } catch (...) {
    set_python_error(std::current_exception());
    return nullptr;
  }
}

const Signature kDepthwiseSig{"depthwise_conv2d",
                              {kX, kWeight, kBias, kStride, kPadding, kDilation, kActivation, kLayout, kOut}, 3, 2};
const Signature kPointwiseSig{"pointwise_conv2d", {kX, kWeight, kBias, kActivation, kLayout, kOut}, 3, 2};
const Signature kConv2dSig{"conv2d",
                           {kX, kWeight, kBias, kStride, kPadding, kDilation, kGroups, kActivation, kLayout, kOut}, 3,
                           2};
const Signature kSeparableSig{"separable_conv2d",
                              {kX, kDwWeight, kPwWeight, kDwBias, kPwBias, kStride, kPadding, kDilation,
                               kDwActivation, kActivation, kLayout, kOut},
                              5, 3};

PyObject* depthwise_entry(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return entry<kDepthwiseSig>(args, nargs, kwnames, [](const Args& a) {
    return run_depthwise(arg(a, kX), arg(a, kWeight), arg(a, kBias), arg(a, kOut), call_params(a, kActivation));
  });
}

PyObject* pointwise_entry(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return entry<kPointwiseSig>(args, nargs, kwnames, [](const Args& a) {
    return run_pointwise(arg(a, kX), arg(a, kWeight), arg(a, kBias), arg(a, kOut), call_params(a, kActivation));
  });
}

PyObject* conv2d_entry(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return entry<kConv2dSig>(args, nargs, kwnames, [](const Args& a) {
    return run_conv2d(arg(a, kX), arg(a, kWeight), arg(a, kBias), arg(a, kOut), call_params(a, kActivation));
  });
}

PyObject* separable_entry(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return entry<kSeparableSig>(args, nargs, kwnames, [](const Args& a) {
    Args pw = a;  // the pointwise stage: stride 1, no padding, its own activation
    pw.v[kStride] = pw.v[kPadding] = pw.v[kDilation] = nullptr;
    return run_separable(arg(a, kX), arg(a, kDwWeight), arg(a, kPwWeight), arg(a, kDwBias), arg(a, kPwBias),
                         arg(a, kOut), call_params(a, kDwActivation), call_params(pw, kActivation));
  });
}

// The docstrings start with the signature, as inspect.signature() reads it for builtins.
PyMethodDef kOpMethods[] = {
    {"depthwise_conv2d", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(depthwise_entry)),
     METH_FASTCALL | METH_KEYWORDS,
     "depthwise_conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, activation=None, layout='NCHW', "
     "out=None)\n--\n\nDepthwise convolution. weight: (C*m, 1, kH, kW); output channel c*m + j reads channel c."},
    {"pointwise_conv2d", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(pointwise_entry)),
     METH_FASTCALL | METH_KEYWORDS,
     "pointwise_conv2d(x, weight, bias=None, *, activation=None, layout='NCHW', out=None)\n--\n\n"
     "1x1 convolution. weight: (Cout, Cin) or (Cout, Cin, 1, 1)."},
    {"conv2d", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(conv2d_entry)), METH_FASTCALL | METH_KEYWORDS,
     "conv2d(x, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1, activation=None, layout='NCHW', "
     "out=None)\n--\n\nDirect standard convolution. weight: (Cout, Cin/groups, kH, kW)."},
    {"separable_conv2d", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(separable_entry)),
     METH_FASTCALL | METH_KEYWORDS,
     "separable_conv2d(x, dw_weight, pw_weight, dw_bias=None, pw_bias=None, *, stride=1, padding=0, dilation=1, "
     "dw_activation=None, activation=None, layout='NCHW', out=None)\n--\n\n"
     "Depthwise (stride, padding, dilation, dw_activation) then pointwise (activation)."},
};

Op parse_op(const std::string& s) {
  if (s == "depthwise") return Op::Depthwise;
  if (s == "pointwise") return Op::Pointwise;
  if (s == "conv2d") return Op::Conv2d;
  throw Error("op must be 'depthwise', 'pointwise' or 'conv2d', got '" + s + "'");
}

PackedWeights run_pack(const py::object& w_obj, const std::string& op, const std::string& layout) {
  py::array_t<float> w = float_array(w_obj, "weight");
  const auto shape = shape_of(w);
  return pack_weights(w.data(), shape, parse_op(op), parse_layout(layout));
}

TensorShape logical_shape(const std::vector<int64_t>& s, const std::string& layout) {
  if (s.size() != 4) throw Error("in_shape must have 4 dimensions, got " + std::to_string(s.size()));
  return parse_layout(layout) == Layout::NCHW ? TensorShape{s[0], s[1], s[2], s[3]}
                                              : TensorShape{s[0], s[3], s[1], s[2]};
}

std::pair<uint64_t, uint64_t> count_macs(const std::string& op, const std::vector<int64_t>& in_shape,
                                         const std::vector<int64_t>& weight_shape, Pair stride, Pad4 padding,
                                         bool same, Pair dilation, int64_t groups) {
  const ConvParams p = make_params(stride, padding, same, dilation, groups, {"none", 0.f, 0.f}, "NCHW");
  const TensorShape in = logical_shape(in_shape, "NCHW");
  detail::ConvGeometry g;
  switch (parse_op(op)) {
    case Op::Depthwise: g = detail::depthwise_geometry(in, weight_shape, p); break;
    case Op::Pointwise: g = detail::pointwise_geometry(in, weight_shape, Layout::NCHW); break;
    case Op::Conv2d: g = detail::conv2d_geometry(in, weight_shape, p); break;
  }
  const auto c = detail::reference::count_macs(g);
  return {c.macs * uint64_t(in.n), c.effective * uint64_t(in.n)};
}

py::dict info_dict() {
  const CpuInfo c = cpu_info();
  py::dict d;
  d["isa"] = c.isa;
  d["available"] = c.available;
  d["arch"] = c.arch;
  d["features"] = c.features;
  d["threads"] = c.threads;
  d["openmp"] = c.openmp;
  py::dict k;
  for (const auto& [op, name] : c.kernels) k[py::str(op)] = name;
  d["kernels"] = k;
  return d;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "dsconv's C++ core (use the dsconv package, not this module)";
  m.attr("__version__") = DSCONV_VERSION;

  // Too-large sizes are both a ValueError (bad argument) and an OverflowError.
  static py::handle size_error;
  {
    py::tuple bases = py::make_tuple(py::handle(PyExc_ValueError), py::handle(PyExc_OverflowError));
    size_error = PyErr_NewException("dsconv.SizeOverflowError", bases.ptr(), nullptr);
    m.attr("SizeOverflowError") = size_error;
  }
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const SizeOverflow& e) {
      PyErr_SetString(size_error.ptr(), e.what());
    }
  });

  py::class_<PackedWeights>(m, "PackedWeights")
      .def_property_readonly("op", [](const PackedWeights& w) { return op_str(w.op()); })
      .def_property_readonly("layout",
                             [](const PackedWeights& w) { return w.layout() == Layout::NCHW ? "NCHW" : "NHWC"; })
      .def_property_readonly("shape", [](const PackedWeights& w) { return py::tuple(py::cast(w.weight_shape())); })
      .def_property_readonly("isa", &PackedWeights::isa)
      .def("__repr__", [](const PackedWeights& w) {
        return "PackedWeights(op='" + std::string(op_str(w.op())) + "', shape=" +
               std::string(py::str(py::tuple(py::cast(w.weight_shape())))) + ", layout='" +
               (w.layout() == Layout::NCHW ? "NCHW" : "NHWC") + "', isa='" + w.isa() + "')";
      });

  // The options of a call, parsed once (the Python layer caches them): per-call conversion of
  // tuples and strings would cost more than a small layer's kernel.
  py::class_<ConvParams>(m, "ConvParams");
  m.def("conv_params", [](Pair stride, Pad4 padding, bool same, Pair dilation, int64_t groups, const Act& act,
                          const std::string& layout) {
    return make_params(stride, padding, same, dilation, groups, act, layout);
  });
  for (PyMethodDef& def : kOpMethods) {
    py::object fn = py::reinterpret_steal<py::object>(PyCFunction_NewEx(&def, nullptr, py::str("dsconv").ptr()));
    if (!fn) throw py::error_already_set();
    m.add_object(def.ml_name, fn);
  }
  m.def("pack_weights", &run_pack);
  m.def("cpu_info", &info_dict);
  m.def("set_num_threads", &set_num_threads);
  m.def("get_num_threads", &get_num_threads);
  m.def("_select_isa", [](const std::string& isa) { select_isa(isa); });
  m.def("kernel_name", [](const std::string& op, const std::vector<int64_t>& in_shape,
                          const std::vector<int64_t>& weight_shape, Pair stride, Pad4 padding, bool same,
                          Pair dilation, int64_t groups, const std::string& layout) {
    const ConvParams p = make_params(stride, padding, same, dilation, groups, {"none", 0.f, 0.f}, layout);
    return kernel_name(parse_op(op), logical_shape(in_shape, layout), weight_shape, p);
  });
  m.def("_count_macs", &count_macs);
  m.def(
      "_peak_flops",
      [](const std::string& isa, double seconds) {
        const auto available = cpu_info().available;
        if (std::find(available.begin(), available.end(), isa) == available.end())
          throw Error("ISA '" + isa + "' is not available on this CPU");
        py::gil_scoped_release release;
        return dsconv_bench::peak_flops(isa, seconds);
      },
      py::arg("isa"), py::arg("seconds"));
  m.def("_set_min_macs_per_thread", &detail::set_min_macs_per_thread);
  m.def("_min_macs_per_thread", &detail::min_macs_per_thread);

  py::class_<Cost>(m, "Cost")
      .def_readonly("macs", &Cost::macs)
      .def_readonly("effective_macs", &Cost::effective_macs)
      .def_readonly("params", &Cost::params)
      .def_readonly("input_bytes", &Cost::input_bytes)
      .def_readonly("weight_bytes", &Cost::weight_bytes)
      .def_readonly("output_bytes", &Cost::output_bytes)
      .def_readonly("parts", &Cost::parts)
      .def_property_readonly("flops", &Cost::flops)
      .def_property_readonly("bytes", &Cost::bytes)
      .def_property_readonly("intensity", &Cost::intensity)
      .def("roofline_seconds", &Cost::roofline_seconds, py::arg("peak_flops"), py::arg("bandwidth"));

  m.def("cost_standard", [](const std::vector<int64_t>& s, int64_t cout, Pair k, Pair stride, Pad4 padding, bool same,
                            Pair dilation, int64_t groups, const std::string& layout) {
    return cost_standard(logical_shape(s, layout), cout, k.first, k.second,
                         make_params(stride, padding, same, dilation, groups, {"none", 0.f, 0.f}, layout));
  });
  m.def("cost_depthwise", [](const std::vector<int64_t>& s, Pair k, Pair stride, Pad4 padding, bool same,
                             Pair dilation, int64_t multiplier, const std::string& layout) {
    return cost_depthwise(logical_shape(s, layout), k.first, k.second,
                          make_params(stride, padding, same, dilation, 1, {"none", 0.f, 0.f}, layout), multiplier);
  });
  m.def("cost_pointwise", [](const std::vector<int64_t>& s, int64_t cout, const std::string& layout) {
    return cost_pointwise(logical_shape(s, layout), cout);
  });
  m.def("cost_separable", [](const std::vector<int64_t>& s, int64_t cout, Pair k, Pair stride, Pad4 padding,
                             bool same, Pair dilation, const std::string& layout) {
    return cost_separable(logical_shape(s, layout), cout, k.first, k.second,
                          make_params(stride, padding, same, dilation, 1, {"none", 0.f, 0.f}, layout));
  });
  m.def("cost_ghost", [](const std::vector<int64_t>& s, int64_t cout, Pair k, int64_t ratio, int64_t dw_kernel,
                         int64_t stride, const std::string& layout) {
    return cost_ghost(logical_shape(s, layout), cout, k.first, k.second, ratio, dw_kernel, stride);
  });
  m.def("reduction_ratio", [](int64_t cout, Pair k) { return reduction_ratio(cout, k.first, k.second); });
}
