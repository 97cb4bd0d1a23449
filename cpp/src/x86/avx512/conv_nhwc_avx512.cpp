// conv NHWC on avx512: the direct convolution templates of conv_simd.hpp and their packing.
// cin_g >= kNhwcDotMinCin: vectors along cin, L/4 pixels x 4 output channels per tile.
// Fewer input channels: vectors along cout, 12 pixels x 2L output channels per tile.
#include "x86/conv_simd.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {
namespace {

KernelChoice select(const ConvGeometry& g) {
  using namespace conv_simd;
  if (nhwc_uses_panels(g.cin_per_group())) return {"avx512/conv_nhwc_bcast", conv_bcast<Avx512, 12, 12, false>};
  return {"avx512/conv_nhwc_dot", conv_nhwc<Avx512>};
}

}  // namespace

LayoutKernels conv_nhwc_avx512() {
  return {conv_simd::nhwc_packed_size_any<conv_simd::Avx512>, conv_simd::nhwc_pack_any<conv_simd::Avx512>, select};
}

}  // namespace dsconv::detail
