// The avx512 kernel families: one per op, each split by layout.
#include "dispatch/dispatch.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

void fill_avx512_kernels(KernelTable& t) {
  t.depthwise = ByLayout<dwconv_nhwc_avx512, dwconv_nchw_avx512>::table("avx512/dwconv");
  t.pointwise = ByLayout<pwconv_nhwc_avx512, pwconv_nchw_avx512>::table("avx512/pwconv");
  t.conv2d = ByLayout<conv_nhwc_avx512, conv_nchw_avx512>::table("avx512/conv");
}

}  // namespace dsconv::detail
