// dwconv NHWC on AVX-512F, 7x7 kernels at stride 1 (ConvNeXt-style blocks): kernel width,
// stride and dilation fixed at compile time, so each loaded input column feeds up to seven
// FMAs (the generic path loads a column once per tap).
#include "x86/dwconv_nhwc_simd.hpp"

namespace dsconv::detail::dwnhwc {

DSCONV_DWNHWC_KERNEL(avx512_7x7s1) { run<Avx512, Shape<7, 7, 1, 1, 16, false>>(g, r, x, w, bias, act, y); }

}  // namespace dsconv::detail::dwnhwc
