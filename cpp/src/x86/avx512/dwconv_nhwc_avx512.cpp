// dwconv NHWC on AVX-512F: packing ([kh*kw][cout rounded up to 16]), the choice of kernel, and
// the generic kernel (any kernel size, stride, dilation and depth multiplier). The shaped
// kernels live in dwconv_3x3_nhwc_avx512.cpp, dwconv_5x5_nhwc_avx512.cpp and
// dwconv_7x7_nhwc_avx512.cpp.
#include "x86/dwconv_nhwc_simd.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {
namespace dwnhwc {

DSCONV_DWNHWC_KERNEL(avx512_generic) { run<Avx512, Shape<0, 0, 0, 0, 16, false>>(g, r, x, w, bias, act, y); }

namespace {

size_t avx512_packed_size(const WeightDims& d, Layout) { return packed_size(d, Avx512::V); }
void avx512_pack(const WeightDims& d, Layout, const float* w, float* out) { pack(d, Avx512::V, w, out); }

KernelChoice avx512_select(const ConvGeometry& g) {
  const bool plain = g.multiplier() == 1 && g.dh == 1 && g.dw == 1 && g.sh == g.sw;
  if (plain && g.kh == 3 && g.kw == 3 && g.sw == 1) return {"avx512/dwconv_3x3s1_nhwc", avx512_3x3s1};
  if (plain && g.kh == 3 && g.kw == 3 && g.sw == 2) return {"avx512/dwconv_3x3s2_nhwc", avx512_3x3s2};
  if (plain && g.kh == 5 && g.kw == 5 && g.sw == 1) return {"avx512/dwconv_5x5s1_nhwc", avx512_5x5s1};
  if (plain && g.kh == 5 && g.kw == 5 && g.sw == 2) return {"avx512/dwconv_5x5s2_nhwc", avx512_5x5s2};
  if (plain && g.kh == 7 && g.kw == 7 && g.sw == 1) return {"avx512/dwconv_7x7s1_nhwc", avx512_7x7s1};
  return {"avx512/dwconv_generic_nhwc", avx512_generic};
}

}  // namespace
}  // namespace dwnhwc

LayoutKernels dwconv_nhwc_avx512() {
  return {dwnhwc::avx512_packed_size, dwnhwc::avx512_pack, dwnhwc::avx512_select};
}

}  // namespace dsconv::detail
