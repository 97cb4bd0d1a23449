// dwconv NHWC on AVX2+FMA: packing ([kh*kw][cout rounded up to 8]), the choice of kernel, and
// the generic kernel (any kernel size, stride, dilation and depth multiplier). The shaped
// kernels live in dwconv_3x3_nhwc_avx2.cpp, dwconv_5x5_nhwc_avx2.cpp and
// dwconv_7x7_nhwc_avx2.cpp.
#include "x86/dwconv_nhwc_simd.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {
namespace dwnhwc {

DSCONV_DWNHWC_KERNEL(avx2_generic) { run<Avx2, Shape<0, 0, 0, 0, 8, false>>(g, r, x, w, bias, act, y); }

namespace {

size_t avx2_packed_size(const WeightDims& d, Layout) { return packed_size(d, Avx2::V); }
void avx2_pack(const WeightDims& d, Layout, const float* w, float* out) { pack(d, Avx2::V, w, out); }

KernelChoice avx2_select(const ConvGeometry& g) {
  const bool plain = g.multiplier() == 1 && g.dh == 1 && g.dw == 1 && g.sh == g.sw;
  if (plain && g.kh == 3 && g.kw == 3 && g.sw == 1) return {"avx2/dwconv_3x3s1_nhwc", avx2_3x3s1};
  if (plain && g.kh == 3 && g.kw == 3 && g.sw == 2) return {"avx2/dwconv_3x3s2_nhwc", avx2_3x3s2};
  if (plain && g.kh == 5 && g.kw == 5 && g.sw == 1) return {"avx2/dwconv_5x5s1_nhwc", avx2_5x5s1};
  if (plain && g.kh == 5 && g.kw == 5 && g.sw == 2) return {"avx2/dwconv_5x5s2_nhwc", avx2_5x5s2};
  if (plain && g.kh == 7 && g.kw == 7 && g.sw == 1) return {"avx2/dwconv_7x7s1_nhwc", avx2_7x7s1};
  return {"avx2/dwconv_generic_nhwc", avx2_generic};
}

}  // namespace
}  // namespace dwnhwc

LayoutKernels dwconv_nhwc_avx2() {
  return {dwnhwc::avx2_packed_size, dwnhwc::avx2_pack, dwnhwc::avx2_select};
}

}  // namespace dsconv::detail
