// pwconv NHWC on AVX-512: 7 pixels x 32 output channels per microkernel (14 zmm accumulators;
// measured faster than 14x32, whose 14 input-row pointers spill), and a paired 14x16 tile for
// Cout <= 24.
#include "x86/avx512/pwconv_config_avx512.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

LayoutKernels pwconv_nhwc_avx512() { return pw::Pointwise<pw::Avx512Config>::nhwc(); }

}  // namespace dsconv::detail
