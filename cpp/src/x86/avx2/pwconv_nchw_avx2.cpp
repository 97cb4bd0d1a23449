// pwconv NCHW on AVX2+FMA: 6 output channels x 16 pixels per microkernel (12 ymm accumulators).
#include "x86/avx2/pwconv_config_avx2.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

LayoutKernels pwconv_nchw_avx2() { return pw::Pointwise<pw::Avx2Config>::nchw(); }

}  // namespace dsconv::detail
