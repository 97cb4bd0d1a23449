// pwconv NHWC on AVX-512: 14 pixels x 32 output channels per microkernel (28 zmm accumulators).
#include "x86/avx512/pwconv_config_avx512.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

LayoutKernels pwconv_nhwc_avx512() { return pw::Pointwise<pw::Avx512Config>::nhwc(); }

}  // namespace dsconv::detail
