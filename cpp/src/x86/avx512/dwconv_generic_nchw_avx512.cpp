// dwconv NCHW on avx512: any kernel size, stride, dilation and depth multiplier (x86/dwconv_nchw_simd.hpp);
// the _ymm variant runs 256-bit vectors for maps at most 8 wide.
#include "x86/dwconv_nchw_simd.hpp"

namespace dsconv::detail {

void dwconv_generic_nchw_avx512(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                          const float* bias, const Activation& act, float* y) {
  dwnchw::run_generic<dwnchw::Zmm>(g, r, x, w, bias, act, y);
}

void dwconv_generic_nchw_avx512_ymm(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                              const float* bias, const Activation& act, float* y) {
  dwnchw::run_generic<dwnchw::Ymm512>(g, r, x, w, bias, act, y);
}

}  // namespace dsconv::detail
