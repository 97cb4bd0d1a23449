// conv NCHW on avx2: the direct convolution templates of conv_simd.hpp and their packing (panels
// of 2L output channels). Wide rows: vectors along the output width, 4 output channels x up
// to 2 vectors per tile (stride 1 loads contiguous columns, stride 2 de-interleaves two
// vectors, other strides gather). Narrow rows / strided: vectors along cout, 6 pixels x 2L
// channels per tile.
#include "x86/conv_simd.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {
namespace {

constexpr int kNR = 4, kMR = 2, kBcastPixels = 6, kBcastPixelsHalf = 8;

KernelChoice select(const ConvGeometry& g) {
  using namespace conv_simd;
  if (nchw_prefers_bcast<Avx2>(g)) return {"avx2/conv_nchw_bcast", conv_bcast<Avx2, kBcastPixels, kBcastPixelsHalf, true>};
  if (g.sw == 1) return {"avx2/conv_nchw_s1", conv_nchw<Avx2, Stride1, kNR, kMR>};
  if (g.sw == 2) return {"avx2/conv_nchw_s2", conv_nchw<Avx2, Stride2, kNR, kMR>};
  return {"avx2/conv_nchw_gather", conv_nchw<Avx2, StrideN, kNR, kMR>};
}

}  // namespace

LayoutKernels conv_nchw_avx2() {
  return {conv_simd::nchw_packed_size<conv_simd::Avx2>, conv_simd::nchw_pack<conv_simd::Avx2>, select};
}

}  // namespace dsconv::detail
