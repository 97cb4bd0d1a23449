// dwconv NCHW on avx512: any kernel size, stride, dilation and depth multiplier (x86/dwconv_nchw_simd.hpp).
#include "x86/dwconv_nchw_simd.hpp"

namespace dsconv::detail {

void dwconv_generic_nchw_avx512(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                          const float* bias, const Activation& act, float* y) {
  dwnchw::run_generic<dwnchw::Zmm>(g, r, x, w, bias, act, y);
}

}  // namespace dsconv::detail
