// dwconv NCHW on avx2: 7x7 at stride 1 (ConvNeXt), tiles of up to 4 output rows (x86/dwconv_nchw_simd.hpp).
#include "x86/dwconv_nchw_simd.hpp"

namespace dsconv::detail {

void dwconv_7x7s1_nchw_avx2(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                          const float* bias, const Activation& act, float* y) {
  dwnchw::run<dwnchw::Avx2, dwnchw::Fixed<7,7,1,4, 1>>(g, r, x, w, bias, act, y);
}

}  // namespace dsconv::detail
