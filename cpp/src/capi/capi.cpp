// The C API (dsconv.h): each function converts its arguments to the C++ API's types, calls
// it, and turns any exception into a status code plus a thread-local message, so nothing
// unwinds through a C caller's frames.
#include "dsconv/dsconv.h"

#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "dsconv/cost.hpp"
#include "dsconv/dsconv.hpp"

struct dsconv_packed_weights {
  dsconv::PackedWeights weights;
};

namespace {

using dsconv::Error;

thread_local std::string t_error;
// Set instead of t_error when recording the message itself ran out of memory.
thread_local const char* t_error_fallback = nullptr;

dsconv_status fail(dsconv_status status, const char* message) noexcept {
  try {
    t_error = message;
    t_error_fallback = nullptr;
  } catch (...) {
    t_error_fallback = "out of memory while recording an error message";
  }
  return status;
}

// Runs `body`, mapping every exception to a status; records the outcome for dsconv_last_error.
template <class Body>
dsconv_status guarded(Body&& body) noexcept {
  try {
    body();
    t_error.clear();
    t_error_fallback = nullptr;
    return DSCONV_OK;
  } catch (const dsconv::SizeOverflow& e) {
    return fail(DSCONV_ERROR_SIZE_OVERFLOW, e.what());
  } catch (const std::invalid_argument& e) {  // dsconv::Error and the like
    return fail(DSCONV_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const std::bad_alloc&) {
    return fail(DSCONV_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(DSCONV_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(DSCONV_ERROR_INTERNAL, "unknown exception");
  }
}

template <class T>
const T& deref(const T* p, const char* what) {
  if (!p) throw Error(std::string(what) + " is null");
  return *p;
}

template <class T>
T& out_ref(T* p, const char* what) {
  if (!p) throw Error(std::string("output pointer ") + what + " is null");
  return *p;
}

dsconv::Layout to_layout(dsconv_layout layout) {
  switch (layout) {
    case DSCONV_NCHW: return dsconv::Layout::NCHW;
    case DSCONV_NHWC: return dsconv::Layout::NHWC;
  }
  throw Error("unknown layout " + std::to_string(int(layout)) + " (expected DSCONV_NCHW or DSCONV_NHWC)");
}

dsconv_layout from_layout(dsconv::Layout layout) { return layout == dsconv::Layout::NHWC ? DSCONV_NHWC : DSCONV_NCHW; }

dsconv::Op to_op(dsconv_op op) {
  switch (op) {
    case DSCONV_OP_DEPTHWISE: return dsconv::Op::Depthwise;
    case DSCONV_OP_POINTWISE: return dsconv::Op::Pointwise;
    case DSCONV_OP_CONV2D: return dsconv::Op::Conv2d;
  }
  throw Error("unknown op " + std::to_string(int(op)) +
              " (expected DSCONV_OP_DEPTHWISE, DSCONV_OP_POINTWISE or DSCONV_OP_CONV2D)");
}

dsconv_op from_op(dsconv::Op op) {
  switch (op) {
    case dsconv::Op::Depthwise: return DSCONV_OP_DEPTHWISE;
    case dsconv::Op::Pointwise: return DSCONV_OP_POINTWISE;
    case dsconv::Op::Conv2d: return DSCONV_OP_CONV2D;
  }
  return DSCONV_OP_CONV2D;
}

dsconv::Activation to_activation(const dsconv_activation& a) {
  switch (a.kind) {
    case DSCONV_ACTIVATION_NONE: return dsconv::Activation::none();
    case DSCONV_ACTIVATION_RELU: return dsconv::Activation::relu();
    case DSCONV_ACTIVATION_RELU6: return dsconv::Activation::relu6();
    case DSCONV_ACTIVATION_HARDSWISH: return dsconv::Activation::hardswish();
    case DSCONV_ACTIVATION_CLAMP: return dsconv::Activation::clamp(a.lo, a.hi);
  }
  throw Error("unknown activation kind " + std::to_string(int(a.kind)));
}

dsconv::TensorShape to_shape(const dsconv_shape* s) {
  const dsconv_shape& v = deref(s, "input shape");
  return {v.n, v.c, v.h, v.w};
}

dsconv_shape from_shape(const dsconv::TensorShape& s) { return {s.n, s.c, s.h, s.w}; }

std::vector<int64_t> to_dims(const int64_t* dims, size_t ndim, const char* what) {
  if (!dims && ndim) throw Error(std::string(what) + " is null");
  return std::vector<int64_t>(dims, dims + ndim);
}

dsconv::ConvParams to_params(const dsconv_conv_params* params) {
  const dsconv_conv_params& c = deref(params, "params");
  dsconv::ConvParams p;
  p.stride_h = c.stride_h;
  p.stride_w = c.stride_w;
  p.dilation_h = c.dilation_h;
  p.dilation_w = c.dilation_w;
  p.padding = {c.pad_top, c.pad_bottom, c.pad_left, c.pad_right};
  p.same_padding = c.same_padding != 0;
  p.groups = c.groups;
  p.activation = to_activation(c.activation);
  p.layout = to_layout(c.layout);
  return p;
}

dsconv::SeparableParams to_separable(const dsconv_separable_params* params) {
  const dsconv_separable_params& c = deref(params, "params");
  dsconv::SeparableParams p;
  p.depthwise = to_params(&c.depthwise);
  p.activation = to_activation(c.activation);
  return p;
}

const dsconv::PackedWeights& to_packed(const dsconv_packed_weights* w, const char* what) {
  return deref(w, what).weights;
}

dsconv_cost from_cost(const dsconv::Cost& c) {
  dsconv_cost r;
  r.macs = c.macs;
  r.effective_macs = c.effective_macs;
  r.flops = c.flops();
  r.params = c.params;
  r.input_bytes = c.input_bytes;
  r.weight_bytes = c.weight_bytes;
  r.output_bytes = c.output_bytes;
  r.bytes = c.bytes();
  r.intensity = c.intensity();
  r.num_parts = c.parts.size();
  return r;
}

void write_cost(const dsconv::Cost& c, dsconv_cost* out, dsconv_cost* parts, size_t max_parts) {
  dsconv_cost& total = out_ref(out, "out");
  if (!parts && max_parts) throw Error("parts is null but max_parts is " + std::to_string(max_parts));
  for (size_t i = 0; i < c.parts.size() && i < max_parts; ++i) parts[i] = from_cost(c.parts[i]);
  total = from_cost(c);
}

std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const std::string& item : items) s += (s.empty() ? "" : " ") + item;
  return s;
}

// Storage behind dsconv_cpu_info's strings, one per thread.
struct CpuInfoStrings {
  std::string isa, available, features, arch, depthwise, pointwise, conv2d;
};
thread_local CpuInfoStrings t_cpu_info;
thread_local std::string t_kernel_name;

}  // namespace

extern "C" {

const char* dsconv_last_error(void) noexcept { return t_error_fallback ? t_error_fallback : t_error.c_str(); }

const char* dsconv_status_string(dsconv_status status) noexcept {
  switch (status) {
    case DSCONV_OK: return "DSCONV_OK";
    case DSCONV_ERROR_INVALID_ARGUMENT: return "DSCONV_ERROR_INVALID_ARGUMENT";
    case DSCONV_ERROR_SIZE_OVERFLOW: return "DSCONV_ERROR_SIZE_OVERFLOW";
    case DSCONV_ERROR_OUT_OF_MEMORY: return "DSCONV_ERROR_OUT_OF_MEMORY";
    case DSCONV_ERROR_INTERNAL: return "DSCONV_ERROR_INTERNAL";
  }
  return "unknown dsconv_status";
}

const char* dsconv_version(void) noexcept { return DSCONV_VERSION; }

dsconv_conv_params dsconv_conv_params_default(void) noexcept {
  dsconv_conv_params p;
  p.stride_h = p.stride_w = 1;
  p.dilation_h = p.dilation_w = 1;
  p.pad_top = p.pad_bottom = p.pad_left = p.pad_right = 0;
  p.same_padding = 0;
  p.groups = 1;
  p.activation = {DSCONV_ACTIVATION_NONE, 0.0f, 0.0f};
  p.layout = DSCONV_NCHW;
  return p;
}

dsconv_separable_params dsconv_separable_params_default(void) noexcept {
  dsconv_separable_params p;
  p.depthwise = dsconv_conv_params_default();
  p.activation = {DSCONV_ACTIVATION_NONE, 0.0f, 0.0f};
  return p;
}

dsconv_status dsconv_pack_weights(const float* weight, const int64_t* weight_shape, size_t weight_ndim,
                                  dsconv_op op, dsconv_layout layout, dsconv_packed_weights** out) noexcept {
  if (out) *out = nullptr;
  return guarded([&] {
    dsconv_packed_weights*& result = out_ref(out, "out");
    dsconv::PackedWeights w = dsconv::pack_weights(weight, to_dims(weight_shape, weight_ndim, "weight_shape"),
                                                   to_op(op), to_layout(layout));
    result = new dsconv_packed_weights{std::move(w)};
  });
}

void dsconv_packed_weights_free(dsconv_packed_weights* weights) noexcept { delete weights; }

dsconv_status dsconv_packed_weights_info(const dsconv_packed_weights* weights, dsconv_op* op, dsconv_layout* layout,
                                         const int64_t** weight_shape, size_t* weight_ndim,
                                         const char** isa) noexcept {
  return guarded([&] {
    const dsconv::PackedWeights& w = to_packed(weights, "weights");
    if (op) *op = from_op(w.op());
    if (layout) *layout = from_layout(w.layout());
    if (weight_shape) *weight_shape = w.weight_shape().data();
    if (weight_ndim) *weight_ndim = w.weight_shape().size();
    if (isa) *isa = w.isa().c_str();
  });
}

dsconv_status dsconv_depthwise_output_shape(const dsconv_shape* in, const int64_t* weight_shape, size_t weight_ndim,
                                            const dsconv_conv_params* params, dsconv_shape* out) noexcept {
  return guarded([&] {
    dsconv_shape& result = out_ref(out, "out");
    result = from_shape(dsconv::depthwise_output_shape(to_shape(in), to_dims(weight_shape, weight_ndim, "weight_shape"),
                                                       to_params(params)));
  });
}

dsconv_status dsconv_pointwise_output_shape(const dsconv_shape* in, const int64_t* weight_shape, size_t weight_ndim,
                                            dsconv_shape* out) noexcept {
  return guarded([&] {
    dsconv_shape& result = out_ref(out, "out");
    result = from_shape(
        dsconv::pointwise_output_shape(to_shape(in), to_dims(weight_shape, weight_ndim, "weight_shape")));
  });
}

dsconv_status dsconv_conv2d_output_shape(const dsconv_shape* in, const int64_t* weight_shape, size_t weight_ndim,
                                         const dsconv_conv_params* params, dsconv_shape* out) noexcept {
  return guarded([&] {
    dsconv_shape& result = out_ref(out, "out");
    result = from_shape(dsconv::conv2d_output_shape(to_shape(in), to_dims(weight_shape, weight_ndim, "weight_shape"),
                                                    to_params(params)));
  });
}

dsconv_status dsconv_depthwise_conv2d(const float* x, const dsconv_shape* in, const float* weight,
                                      const int64_t* weight_shape, size_t weight_ndim, const float* bias, float* y,
                                      const dsconv_conv_params* params) noexcept {
  return guarded([&] {
    dsconv::depthwise_conv2d(x, to_shape(in), weight, to_dims(weight_shape, weight_ndim, "weight_shape"), bias, y,
                             to_params(params));
  });
}

dsconv_status dsconv_depthwise_conv2d_packed(const float* x, const dsconv_shape* in,
                                             const dsconv_packed_weights* weight, const float* bias, float* y,
                                             const dsconv_conv_params* params) noexcept {
  return guarded([&] {
    dsconv::depthwise_conv2d(x, to_shape(in), to_packed(weight, "weight"), bias, y, to_params(params));
  });
}

dsconv_status dsconv_pointwise_conv2d(const float* x, const dsconv_shape* in, const float* weight,
                                      const int64_t* weight_shape, size_t weight_ndim, const float* bias, float* y,
                                      dsconv_activation activation, dsconv_layout layout) noexcept {
  return guarded([&] {
    dsconv::pointwise_conv2d(x, to_shape(in), weight, to_dims(weight_shape, weight_ndim, "weight_shape"), bias, y,
                             to_activation(activation), to_layout(layout));
  });
}

dsconv_status dsconv_pointwise_conv2d_packed(const float* x, const dsconv_shape* in,
                                             const dsconv_packed_weights* weight, const float* bias, float* y,
                                             dsconv_activation activation, dsconv_layout layout) noexcept {
  return guarded([&] {
    dsconv::pointwise_conv2d(x, to_shape(in), to_packed(weight, "weight"), bias, y, to_activation(activation),
                             to_layout(layout));
  });
}

dsconv_status dsconv_conv2d(const float* x, const dsconv_shape* in, const float* weight, const int64_t* weight_shape,
                            size_t weight_ndim, const float* bias, float* y,
                            const dsconv_conv_params* params) noexcept {
  return guarded([&] {
    dsconv::conv2d(x, to_shape(in), weight, to_dims(weight_shape, weight_ndim, "weight_shape"), bias, y,
                   to_params(params));
  });
}

dsconv_status dsconv_conv2d_packed(const float* x, const dsconv_shape* in, const dsconv_packed_weights* weight,
                                   const float* bias, float* y, const dsconv_conv_params* params) noexcept {
  return guarded(
      [&] { dsconv::conv2d(x, to_shape(in), to_packed(weight, "weight"), bias, y, to_params(params)); });
}

dsconv_status dsconv_separable_conv2d(const float* x, const dsconv_shape* in, const float* dw_weight,
                                      const int64_t* dw_weight_shape, size_t dw_weight_ndim, const float* pw_weight,
                                      const int64_t* pw_weight_shape, size_t pw_weight_ndim, const float* dw_bias,
                                      const float* pw_bias, float* y,
                                      const dsconv_separable_params* params) noexcept {
  return guarded([&] {
    dsconv::separable_conv2d(x, to_shape(in), dw_weight, to_dims(dw_weight_shape, dw_weight_ndim, "dw_weight_shape"),
                             pw_weight, to_dims(pw_weight_shape, pw_weight_ndim, "pw_weight_shape"), dw_bias, pw_bias,
                             y, to_separable(params));
  });
}

dsconv_status dsconv_separable_conv2d_packed(const float* x, const dsconv_shape* in,
                                             const dsconv_packed_weights* dw_weight,
                                             const dsconv_packed_weights* pw_weight, const float* dw_bias,
                                             const float* pw_bias, float* y,
                                             const dsconv_separable_params* params) noexcept {
  return guarded([&] {
    dsconv::separable_conv2d(x, to_shape(in), to_packed(dw_weight, "dw_weight"), to_packed(pw_weight, "pw_weight"),
                             dw_bias, pw_bias, y, to_separable(params));
  });
}

dsconv_status dsconv_get_cpu_info(dsconv_cpu_info* out) noexcept {
  return guarded([&] {
    dsconv_cpu_info& result = out_ref(out, "out");
    const dsconv::CpuInfo info = dsconv::cpu_info();
    CpuInfoStrings s;
    s.isa = info.isa;
    s.available = join(info.available);
    s.features = join(info.features);
    s.arch = info.arch;
    for (const auto& [op, family] : info.kernels) {
      if (op == "depthwise") s.depthwise = family;
      else if (op == "pointwise") s.pointwise = family;
      else if (op == "conv2d") s.conv2d = family;
    }
    t_cpu_info = std::move(s);
    result.isa = t_cpu_info.isa.c_str();
    result.available = t_cpu_info.available.c_str();
    result.features = t_cpu_info.features.c_str();
    result.arch = t_cpu_info.arch.c_str();
    result.depthwise_kernel = t_cpu_info.depthwise.c_str();
    result.pointwise_kernel = t_cpu_info.pointwise.c_str();
    result.conv2d_kernel = t_cpu_info.conv2d.c_str();
    result.threads = info.threads;
    result.openmp = info.openmp ? 1 : 0;
  });
}

dsconv_status dsconv_kernel_name(dsconv_op op, const dsconv_shape* in, const int64_t* weight_shape,
                                 size_t weight_ndim, const dsconv_conv_params* params, const char** name) noexcept {
  return guarded([&] {
    const char*& result = out_ref(name, "name");
    const dsconv::Op cpp_op = to_op(op);
    const dsconv::ConvParams p =
        cpp_op == dsconv::Op::Pointwise && !params ? dsconv::ConvParams{} : to_params(params);
    t_kernel_name = dsconv::kernel_name(cpp_op, to_shape(in), to_dims(weight_shape, weight_ndim, "weight_shape"), p);
    result = t_kernel_name.c_str();
  });
}

dsconv_status dsconv_select_isa(const char* isa) noexcept {
  return guarded([&] {
    if (!isa) throw Error("isa is null");
    dsconv::select_isa(isa);
  });
}

dsconv_status dsconv_set_num_threads(int n) noexcept {
  return guarded([&] { dsconv::set_num_threads(n); });
}

dsconv_status dsconv_get_num_threads(int* n) noexcept {
  return guarded([&] { out_ref(n, "n") = dsconv::get_num_threads(); });
}

dsconv_status dsconv_cost_standard(const dsconv_shape* in, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                                   const dsconv_conv_params* params, dsconv_cost* out) noexcept {
  return guarded([&] {
    write_cost(dsconv::cost_standard(to_shape(in), out_channels, kernel_h, kernel_w, to_params(params)), out,
               nullptr, 0);
  });
}

dsconv_status dsconv_cost_depthwise(const dsconv_shape* in, int64_t kernel_h, int64_t kernel_w,
                                    const dsconv_conv_params* params, int64_t multiplier,
                                    dsconv_cost* out) noexcept {
  return guarded([&] {
    write_cost(dsconv::cost_depthwise(to_shape(in), kernel_h, kernel_w, to_params(params), multiplier), out, nullptr,
               0);
  });
}

dsconv_status dsconv_cost_pointwise(const dsconv_shape* in, int64_t out_channels, dsconv_cost* out) noexcept {
  return guarded([&] { write_cost(dsconv::cost_pointwise(to_shape(in), out_channels), out, nullptr, 0); });
}

dsconv_status dsconv_cost_separable(const dsconv_shape* in, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                                    const dsconv_conv_params* params, dsconv_cost* out, dsconv_cost* parts,
                                    size_t max_parts) noexcept {
  return guarded([&] {
    write_cost(dsconv::cost_separable(to_shape(in), out_channels, kernel_h, kernel_w, to_params(params)), out, parts,
               max_parts);
  });
}

dsconv_status dsconv_cost_ghost(const dsconv_shape* in, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                                int64_t ratio, int64_t dw_kernel, int64_t stride, dsconv_cost* out,
                                dsconv_cost* parts, size_t max_parts) noexcept {
  return guarded([&] {
    write_cost(dsconv::cost_ghost(to_shape(in), out_channels, kernel_h, kernel_w, ratio, dw_kernel, stride), out,
               parts, max_parts);
  });
}

dsconv_status dsconv_reduction_ratio(int64_t out_channels, int64_t kernel_h, int64_t kernel_w, double* out) noexcept {
  return guarded([&] { out_ref(out, "out") = dsconv::reduction_ratio(out_channels, kernel_h, kernel_w); });
}

dsconv_status dsconv_cost_roofline_seconds(const dsconv_cost* cost, double peak_flops, double bandwidth,
                                           double* seconds) noexcept {
  return guarded([&] {
    double& result = out_ref(seconds, "seconds");
    const dsconv_cost& c = deref(cost, "cost");
    dsconv::Cost cpp;
    cpp.macs = c.macs;
    cpp.effective_macs = c.effective_macs;
    cpp.params = c.params;
    cpp.input_bytes = c.input_bytes;
    cpp.weight_bytes = c.weight_bytes;
    cpp.output_bytes = c.output_bytes;
    result = cpp.roofline_seconds(peak_flops, bandwidth);
  });
}

}  // extern "C"
