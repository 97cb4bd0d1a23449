// dwconv NHWC on AVX-512F, 5x5 kernels at stride 1 and 2 (MobileNetV3, EfficientNet): kernel
// width, stride and dilation fixed at compile time, so each loaded input column feeds up to
// five FMAs.
#include "x86/dwconv_nhwc_simd.hpp"

namespace dsconv::detail::dwnhwc {

DSCONV_DWNHWC_KERNEL(avx512_5x5s1) { run<Avx512, Shape<5, 5, 1, 1, 16, false>>(g, r, x, w, bias, act, y); }
DSCONV_DWNHWC_KERNEL(avx512_5x5s2) { run<Avx512, Shape<5, 5, 2, 1, 16, false>>(g, r, x, w, bias, act, y); }

}  // namespace dsconv::detail::dwnhwc
