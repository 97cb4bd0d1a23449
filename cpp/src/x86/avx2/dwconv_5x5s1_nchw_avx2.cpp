// dwconv NCHW on avx2: 5x5 at stride 1, tiles of up to 4 output rows (x86/dwconv_nchw_simd.hpp).
#include "x86/dwconv_nchw_simd.hpp"

namespace dsconv::detail {

void dwconv_5x5s1_nchw_avx2(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                          const float* bias, const Activation& act, float* y) {
  dwnchw::run<dwnchw::Avx2, dwnchw::Fixed<5,5,1,4, 1>>(g, r, x, w, bias, act, y);
}

}  // namespace dsconv::detail
