// The NEON kernel families (aarch64 and armv7): one per op, each split by layout.
#include "arm/arm_kernels.hpp"
#include "dispatch/dispatch.hpp"

namespace dsconv::detail {

void fill_neon_kernels(KernelTable& t) {
  t.depthwise = ByLayout<dwconv_nhwc_neon, dwconv_nchw_neon>::table("neon/dwconv");
  t.pointwise = ByLayout<pwconv_nhwc_neon, pwconv_nchw_neon>::table("neon/pwconv");
  t.conv2d = ByLayout<conv_nhwc_neon, conv_nchw_neon>::table("neon/conv");
}

}  // namespace dsconv::detail
