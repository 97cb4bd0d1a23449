// conv NCHW on avx512: the direct convolution templates of conv_simd.hpp and their packing (panels
// of 2L output channels). Wide rows: vectors along the output width, 8 output channels x up
// to 3 vectors per tile (stride 1 loads contiguous columns, stride 2 de-interleaves two
// vectors, other strides gather). Narrow rows / strided: vectors along cout, 12 pixels x 2L
// channels per tile.
#include "x86/conv_simd.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {
namespace {

constexpr int kNR = 8, kMR = 3, kBcastPixels = 12, kBcastPixelsHalf = 12;

KernelChoice select(const ConvGeometry& g) {
  using namespace conv_simd;
  if (nchw_prefers_bcast<Avx512>(g)) return {"avx512/conv_nchw_bcast", conv_bcast<Avx512, kBcastPixels, kBcastPixelsHalf, true>};
  if (g.sw == 1) return {"avx512/conv_nchw_s1", conv_nchw<Avx512, Stride1, kNR, kMR>};
  if (g.sw == 2) return {"avx512/conv_nchw_s2", conv_nchw<Avx512, Stride2, kNR, kMR>};
  return {"avx512/conv_nchw_gather", conv_nchw<Avx512, StrideN, kNR, kMR>};
}

}  // namespace

LayoutKernels conv_nchw_avx512() {
  return {conv_simd::nchw_packed_size<conv_simd::Avx512>, conv_simd::nchw_pack<conv_simd::Avx512>, select};
}

}  // namespace dsconv::detail
