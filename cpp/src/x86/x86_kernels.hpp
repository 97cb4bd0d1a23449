// The x86 kernel families, per op, layout and ISA. Each op's table (kernels_avx2.cpp,
// kernels_avx512.cpp) sends a call to the layout's selector and packing, which live beside
// the kernels they choose from (dwconv_*_nhwc_*.cpp, dwconv_*_nchw_*.cpp, pwconv_*, conv_*).
#pragma once

#include "kernels/by_layout.hpp"

namespace dsconv::detail {

// Depthwise
LayoutKernels dwconv_nhwc_avx2();
LayoutKernels dwconv_nchw_avx2();
LayoutKernels dwconv_nhwc_avx512();
LayoutKernels dwconv_nchw_avx512();
// Pointwise (GEMM)
LayoutKernels pwconv_nhwc_avx2();
LayoutKernels pwconv_nchw_avx2();
LayoutKernels pwconv_nhwc_avx512();
LayoutKernels pwconv_nchw_avx512();
// Direct standard convolution
LayoutKernels conv_nhwc_avx2();
LayoutKernels conv_nchw_avx2();
LayoutKernels conv_nhwc_avx512();
LayoutKernels conv_nchw_avx512();

}  // namespace dsconv::detail
