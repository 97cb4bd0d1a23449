// pwconv NCHW on AVX-512: 8 output channels x 48 pixels per microkernel (24 zmm accumulators).
#include "x86/avx512/pwconv_config_avx512.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

LayoutKernels pwconv_nchw_avx512() { return pw::Pointwise<pw::Avx512Config>::nchw(); }

}  // namespace dsconv::detail
