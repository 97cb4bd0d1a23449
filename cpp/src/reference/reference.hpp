// The reference kernels: plain loops straight from the definition of a (grouped)
// convolution, in NCHW and NHWC. They are the oracle every SIMD kernel is tested against,
// the "scalar" ISA's kernels, and — run in counting mode — the check of the cost model.
#pragma once

#include <cstdint>

#include "kernels/kernel_types.hpp"

namespace dsconv::detail::reference {

// Weights in PyTorch's layout (the reference "packing" is a copy).
void dwconv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
            const Activation& act, float* y);
void pwconv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
            const Activation& act, float* y);
void conv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
          const Activation& act, float* y);

KernelChoice select_dwconv(const ConvGeometry& g);
KernelChoice select_pwconv(const ConvGeometry& g);
KernelChoice select_conv(const ConvGeometry& g);

size_t packed_size(const WeightDims& d, Layout layout);
void pack(const WeightDims& d, Layout layout, const float* w, float* packed);

struct MacCount {
  uint64_t macs = 0;       // every tap visited, padding included
  uint64_t effective = 0;  // taps that read real input
};
// Runs the reference loops over one image without arithmetic, counting taps.
MacCount count_macs(const ConvGeometry& g);

}  // namespace dsconv::detail::reference
