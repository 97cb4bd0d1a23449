// dwconv NHWC on AVX-512F, 3x3 kernels at stride 1 and 2 (MobileNet): kernel width, stride and
// dilation fixed at compile time, so each loaded input column feeds up to three FMAs.
#include "x86/dwconv_nhwc_simd.hpp"

namespace dsconv::detail::dwnhwc {

DSCONV_DWNHWC_KERNEL(avx512_3x3s1) { run<Avx512, Shape<3, 3, 1, 1, 16, true>>(g, r, x, w, bias, act, y); }
DSCONV_DWNHWC_KERNEL(avx512_3x3s2) { run<Avx512, Shape<3, 3, 2, 1, 16, true>>(g, r, x, w, bias, act, y); }

}  // namespace dsconv::detail::dwnhwc
