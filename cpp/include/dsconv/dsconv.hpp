// dsconv: depthwise-separable convolution kernels for CPUs — the public C++ API.
//
// Tensors are float32 and contiguous. Activations are NCHW or NHWC (Layout); shapes are
// always given as logical (n, c, h, w) whatever the memory layout. Weights are always in
// PyTorch's layout: depthwise (C*m, 1, kH, kW), pointwise (Cout, Cin), standard
// (Cout, Cin/groups, kH, kW). Bad arguments throw dsconv::Error (std::invalid_argument);
// sizes whose products overflow 64 bits throw dsconv::SizeOverflow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(_WIN32)
#define DSCONV_API
#else
#define DSCONV_API __attribute__((visibility("default")))
#endif

namespace dsconv {

class DSCONV_API Error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

class DSCONV_API SizeOverflow : public std::overflow_error {
 public:
  using std::overflow_error::overflow_error;
};

enum class Layout { NCHW, NHWC };

enum class ActivationKind { None, ReLU, ReLU6, HardSwish, Clamp };

struct Activation {
  ActivationKind kind = ActivationKind::None;
  float lo = 0.0f;  // Clamp only
  float hi = 0.0f;  // Clamp only

  static Activation none() { return {}; }
  static Activation relu() { return {ActivationKind::ReLU, 0.0f, 0.0f}; }
  static Activation relu6() { return {ActivationKind::ReLU6, 0.0f, 6.0f}; }
  static Activation hardswish() { return {ActivationKind::HardSwish, 0.0f, 0.0f}; }
  static Activation clamp(float lo, float hi) { return {ActivationKind::Clamp, lo, hi}; }
};

// Logical sizes of an activation tensor; the memory order is given by Layout.
struct TensorShape {
  int64_t n = 0, c = 0, h = 0, w = 0;
  bool operator==(const TensorShape& o) const {
    return n == o.n && c == o.c && h == o.h && w == o.w;
  }
  bool operator!=(const TensorShape& o) const { return !(*this == o); }
};

struct Padding {
  int64_t top = 0, bottom = 0, left = 0, right = 0;
  static Padding symmetric(int64_t ph, int64_t pw) { return {ph, ph, pw, pw}; }
};

struct ConvParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  Padding padding;
  // TensorFlow's "same": output ceil(H / stride), the odd pixel padded at the bottom/right.
  // When set, `padding` is ignored.
  bool same_padding = false;
  int64_t groups = 1;  // conv2d only; depthwise implies groups == channels
  Activation activation;
  Layout layout = Layout::NCHW;
};

enum class Op { Depthwise, Pointwise, Conv2d };

// Weights rearranged once for the kernels of the active ISA; accepted wherever the op takes
// weights, with identical results and no per-call repacking.
class DSCONV_API PackedWeights {
 public:
  struct Impl;
  PackedWeights(std::shared_ptr<const Impl> impl);
  Op op() const;
  Layout layout() const;
  const std::vector<int64_t>& weight_shape() const;  // PyTorch shape as given
  const std::string& isa() const;                     // ISA whose kernels it was packed for
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// weight_shape: depthwise (C*m, 1, kH, kW); pointwise (Cout, Cin) or (Cout, Cin, 1, 1);
// conv2d (Cout, Cin/groups, kH, kW).
DSCONV_API PackedWeights pack_weights(const float* weight, const std::vector<int64_t>& weight_shape,
                                      Op op, Layout layout);

// Output shapes (validate the arguments the same way the ops do).
DSCONV_API TensorShape depthwise_output_shape(const TensorShape& in, const std::vector<int64_t>& weight_shape,
                                              const ConvParams& p);
DSCONV_API TensorShape pointwise_output_shape(const TensorShape& in, const std::vector<int64_t>& weight_shape);
DSCONV_API TensorShape conv2d_output_shape(const TensorShape& in, const std::vector<int64_t>& weight_shape,
                                           const ConvParams& p);

// The ops. `bias` may be null (else it has one value per output channel). `y` must hold the
// output shape's element count, in the input's layout. Depthwise/pointwise ignore
// p.groups; pointwise ignores stride/padding/dilation.
DSCONV_API void depthwise_conv2d(const float* x, const TensorShape& in, const float* weight,
                                 const std::vector<int64_t>& weight_shape, const float* bias, float* y,
                                 const ConvParams& p);
DSCONV_API void depthwise_conv2d(const float* x, const TensorShape& in, const PackedWeights& weight,
                                 const float* bias, float* y, const ConvParams& p);

DSCONV_API void pointwise_conv2d(const float* x, const TensorShape& in, const float* weight,
                                 const std::vector<int64_t>& weight_shape, const float* bias, float* y,
                                 Activation act, Layout layout);
DSCONV_API void pointwise_conv2d(const float* x, const TensorShape& in, const PackedWeights& weight,
                                 const float* bias, float* y, Activation act, Layout layout);

DSCONV_API void conv2d(const float* x, const TensorShape& in, const float* weight,
                       const std::vector<int64_t>& weight_shape, const float* bias, float* y,
                       const ConvParams& p);
DSCONV_API void conv2d(const float* x, const TensorShape& in, const PackedWeights& weight,
                       const float* bias, float* y, const ConvParams& p);

// Depthwise (stride, padding, dilation, dw_activation) then pointwise (activation).
struct SeparableParams {
  ConvParams depthwise;        // its activation is the depthwise activation; layout for both
  Activation activation;       // after the pointwise
};
DSCONV_API void separable_conv2d(const float* x, const TensorShape& in, const float* dw_weight,
                                 const std::vector<int64_t>& dw_weight_shape, const float* pw_weight,
                                 const std::vector<int64_t>& pw_weight_shape, const float* dw_bias,
                                 const float* pw_bias, float* y, const SeparableParams& p);
DSCONV_API void separable_conv2d(const float* x, const TensorShape& in, const PackedWeights& dw_weight,
                                 const PackedWeights& pw_weight, const float* dw_bias, const float* pw_bias,
                                 float* y, const SeparableParams& p);

// The CPU and the kernels in use.
struct CpuInfo {
  std::string isa;                     // active ISA: "scalar", "avx2", "avx512", "neon"
  std::vector<std::string> available;  // ISAs this CPU (and OS) can run, best last
  std::vector<std::string> features;   // detected CPU features (e.g. "avx512f", "fp16", "dotprod")
  std::string arch;                    // "x86_64", "aarch64", "armv7", ...
  int threads = 1;
  bool openmp = false;
  // For each op: the name of the kernel family that runs on the active ISA.
  std::vector<std::pair<std::string, std::string>> kernels;
};
DSCONV_API CpuInfo cpu_info();

// Name of the kernel that a given call will run (e.g. "avx512/dwconv_3x3s1_nhwc").
DSCONV_API std::string kernel_name(Op op, const TensorShape& in, const std::vector<int64_t>& weight_shape,
                                   const ConvParams& p);

// Forces the dispatch to an ISA ("scalar", "avx2", ...). Throws Error if this CPU lacks it.
// Not thread-safe: call it before using the library (DSCONV_ISA does the same at start-up).
DSCONV_API void select_isa(const std::string& isa);

DSCONV_API void set_num_threads(int n);
DSCONV_API int get_num_threads();

}  // namespace dsconv
