// conv NCHW on avx2: the direct convolution template of conv_simd.hpp (vectors along the output
// width, 4 output channels x up to 2 vectors per tile) and its packing. Stride 1 loads
// contiguous columns, stride 2 de-interleaves two vectors, other strides gather.
#include "x86/conv_simd.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {
namespace {

constexpr int kNR = 4, kMR = 2;

KernelChoice select(const ConvGeometry& g) {
  using namespace conv_simd;
  if (g.sw == 1) return {"avx2/conv_nchw_s1", conv_nchw<Avx2, Stride1, kNR, kMR>};
  if (g.sw == 2) return {"avx2/conv_nchw_s2", conv_nchw<Avx2, Stride2, kNR, kMR>};
  return {"avx2/conv_nchw_gather", conv_nchw<Avx2, StrideN, kNR, kMR>};
}

}  // namespace

LayoutKernels conv_nchw_avx2() {
  return {conv_simd::nchw_packed_size<kNR>, conv_simd::nchw_pack<kNR>, select};
}

}  // namespace dsconv::detail
