// The contract between the op drivers and every kernel (reference, x86, ARM).
//
// A kernel computes one image (batch index chosen by the driver) over a work range of output
// channels x output rows, so the driver can split a call across threads without any thread
// splitting a reduction. Weights arrive packed by the same ISA family's pack function.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dsconv/dsconv.hpp"

namespace dsconv::detail {

// Fully resolved geometry of one call. All sizes are logical; `layout` gives memory order of
// both input and output (NCHW: x[c][h][w]; NHWC: x[h][w][c]), one image at a time.
struct ConvGeometry {
  Layout layout = Layout::NCHW;
  int64_t cin = 0, h = 0, w = 0;     // input image
  int64_t cout = 0, ho = 0, wo = 0;  // output image
  int64_t kh = 1, kw = 1;
  int64_t sh = 1, sw = 1;
  int64_t dh = 1, dw = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t groups = 1;  // depthwise: groups == cin and cout == cin * multiplier

  int64_t cin_per_group() const { return cin / groups; }
  int64_t cout_per_group() const { return cout / groups; }
  int64_t multiplier() const { return cout / cin; }  // depthwise only
};

// Output channels [oc_begin, oc_end) x output rows [oh_begin, oh_end) of one image.
// For depthwise, the channel bounds are multiples of the depth multiplier.
struct WorkRange {
  int64_t oc_begin = 0, oc_end = 0;
  int64_t oh_begin = 0, oh_end = 0;
};

// What a packed weight buffer is made from: the PyTorch weight tensor's dimensions.
// Depthwise: cout = C*m, cin_per_group = 1. Pointwise: kh = kw = 1. Packing never depends
// on the input size, stride or (for depthwise) the multiplier.
struct WeightDims {
  int64_t cout = 0, cin_per_group = 0, kh = 1, kw = 1;
  int64_t count() const { return cout * cin_per_group * kh * kw; }
};

// One signature for every kernel of every op.
using KernelFn = void (*)(const ConvGeometry& g, const WorkRange& r, const float* x,
                          const float* packed_weight, const float* bias, const Activation& act,
                          float* y);

// Size in floats of the packed buffer, and the packing itself.
using PackedSizeFn = size_t (*)(const WeightDims& d, Layout layout);
using PackFn = void (*)(const WeightDims& d, Layout layout, const float* weight, float* packed);

struct KernelChoice {
  const char* name = nullptr;  // "<isa>/<kernel>", shown by cpu_info() and kernel_name()
  KernelFn run = nullptr;
};
using SelectFn = KernelChoice (*)(const ConvGeometry& g);

// One op's kernels on one ISA: a packing format shared by all its kernels, and the choice
// of kernel for a geometry.
struct OpKernels {
  const char* family = nullptr;  // e.g. "avx512/dwconv" — what cpu_info() reports per op
  PackedSizeFn packed_size = nullptr;
  PackFn pack = nullptr;
  SelectFn select = nullptr;
  // Optional: the kernel for a call with raw (PyTorch-layout) weights, which packs what it needs
  // itself (bitwise the same results as `select`'s kernel on packed weights); null, or a choice
  // with run == nullptr: the driver packs the weights and runs `select`'s kernel.
  SelectFn select_raw = nullptr;
};

// Scalar activation, the definition every kernel's epilogue must match.
inline float apply_activation(float v, const Activation& a) {
  switch (a.kind) {
    case ActivationKind::None: return v;
    case ActivationKind::ReLU: return v > 0.0f ? v : (v != v ? v : 0.0f);
    case ActivationKind::ReLU6: return v != v ? v : (v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v));
    case ActivationKind::HardSwish: {
      float t = v + 3.0f;
      t = t != t ? t : (t < 0.0f ? 0.0f : (t > 6.0f ? 6.0f : t));
      return v * t * (1.0f / 6.0f);
    }
    case ActivationKind::Clamp: return v != v ? v : (v < a.lo ? a.lo : (v > a.hi ? a.hi : v));
  }
  return v;
}

}  // namespace dsconv::detail
