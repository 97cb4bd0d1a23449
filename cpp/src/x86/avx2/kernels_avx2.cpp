// The avx2 kernel families: one per op, each split by layout.
#include "dispatch/dispatch.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

void fill_avx2_kernels(KernelTable& t) {
  t.depthwise = ByLayout<dwconv_nhwc_avx2, dwconv_nchw_avx2>::table("avx2/dwconv");
  t.pointwise = ByLayout<pwconv_nhwc_avx2, pwconv_nchw_avx2>::table("avx2/pwconv");
  t.conv2d = ByLayout<conv_nhwc_avx2, conv_nchw_avx2>::table("avx2/conv");
}

}  // namespace dsconv::detail
