// An op's table entry built from one family per layout: packing and kernel choice follow the
// layout of the call (NHWC and NCHW kernels want their weights in different orders).
#pragma once

#include "kernels/kernel_types.hpp"

namespace dsconv::detail {

struct LayoutKernels {
  PackedSizeFn packed_size;
  PackFn pack;
  SelectFn select;
  SelectFn select_raw = nullptr;  // see OpKernels::select_raw
};

template <LayoutKernels (*Nhwc)(), LayoutKernels (*Nchw)()>
struct ByLayout {
  static const LayoutKernels& of(Layout layout) {
    static const LayoutKernels nhwc = Nhwc(), nchw = Nchw();
    return layout == Layout::NHWC ? nhwc : nchw;
  }
  static size_t packed_size(const WeightDims& d, Layout l) { return of(l).packed_size(d, l); }
  static void pack(const WeightDims& d, Layout l, const float* w, float* out) { of(l).pack(d, l, w, out); }
  static KernelChoice select(const ConvGeometry& g) { return of(g.layout).select(g); }
  static KernelChoice select_raw(const ConvGeometry& g) {
    const LayoutKernels& k = of(g.layout);
    return k.select_raw ? k.select_raw(g) : KernelChoice{};
  }
  static OpKernels table(const char* family) { return {family, packed_size, pack, select, select_raw}; }
};

}  // namespace dsconv::detail
