// dwconv NCHW on avx512: 3x3 at stride 2, tiles of up to 4 output rows (x86/dwconv_nchw_simd.hpp);
// the _pairs variant packs two output rows per vector for maps at most 8 wide.
#include "x86/dwconv_nchw_simd.hpp"

namespace dsconv::detail {

void dwconv_3x3s2_nchw_avx512(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                          const float* bias, const Activation& act, float* y) {
  dwnchw::run<dwnchw::Zmm, dwnchw::Fixed<3,3,2,4, 2>>(g, r, x, w, bias, act, y);
}

void dwconv_3x3s2_nchw_avx512_pairs(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                                const float* bias, const Activation& act, float* y) {
  dwnchw::run<dwnchw::Zmm, dwnchw::Paired<3,3,4>>(g, r, x, w, bias, act, y);
}

}  // namespace dsconv::detail
