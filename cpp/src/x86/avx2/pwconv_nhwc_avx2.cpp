// pwconv NHWC on AVX2+FMA: 6 pixels x 16 output channels per microkernel (12 ymm accumulators).
#include "x86/avx2/pwconv_config_avx2.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

LayoutKernels pwconv_nhwc_avx2() { return pw::Pointwise<pw::Avx2Config>::nhwc(); }

}  // namespace dsconv::detail
