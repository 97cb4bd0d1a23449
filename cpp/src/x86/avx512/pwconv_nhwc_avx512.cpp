// pwconv NHWC on AVX-512: 14 pixels x 32 output channels per microkernel (28 zmm accumulators;
// the rows are read from two bases sharing their offsets, so the row pointers do not spill;
// measured 1.01-1.015x over 7x32 on Zen 5), a wide 4x96 tile while the weights fit in L2, and a
// paired 14x16 tile for Cout <= 24.
#include "x86/avx512/pwconv_config_avx512.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

LayoutKernels pwconv_nhwc_avx512() { return pw::Pointwise<pw::Avx512Config>::nhwc(); }

}  // namespace dsconv::detail
