// The NEON kernel families, per op and layout (aarch64 and armv7 share the sources; the
// register blocking differs, see neon/neon_common.hpp). kernels_neon.cpp puts them in the
// dispatch table; each family's selector and packing live beside its kernels.
#pragma once

#include "kernels/by_layout.hpp"

namespace dsconv::detail {

LayoutKernels dwconv_nhwc_neon();
LayoutKernels dwconv_nchw_neon();
LayoutKernels pwconv_nhwc_neon();
LayoutKernels pwconv_nchw_neon();
LayoutKernels conv_nhwc_neon();
LayoutKernels conv_nchw_neon();

}  // namespace dsconv::detail
