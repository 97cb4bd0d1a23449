// dwconv NCHW on avx512: packing (PyTorch's layout: each channel's kh*kw taps contiguous, which
// is what the kernels broadcast from) and the choice of kernel for a geometry. Stride 2 onto
// maps at most 8 wide gets the _pairs variants (two output rows per vector).
#include <cstring>

#include "x86/dwconv_nchw_simd.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {
namespace {

size_t packed_size(const WeightDims& d, Layout) { return size_t(d.count()); }

void pack(const WeightDims& d, Layout, const float* w, float* packed) {
  std::memcpy(packed, w, sizeof(float) * size_t(d.count()));
}

KernelChoice select(const ConvGeometry& g) {
  const bool narrow = g.wo <= 8;
  const bool unit_dilation = g.dh == 1 && g.dw == 1;
  const bool square_stride = g.sh == g.sw && g.sh <= 2;
  if (unit_dilation && g.sh == 1 && g.sw == 1 && g.kh == 7 && g.kw == 7)
    return {"avx512/dwconv_7x7s1_nchw", dwconv_7x7s1_nchw_avx512};
  if (unit_dilation && square_stride && g.kh == g.kw && (g.kh == 3 || g.kh == 5)) {
    if (g.kh == 3 && g.sh == 1) return {"avx512/dwconv_3x3s1_nchw", dwconv_3x3s1_nchw_avx512};
    if (g.kh == 5 && g.sh == 1) return {"avx512/dwconv_5x5s1_nchw", dwconv_5x5s1_nchw_avx512};
    if (g.kh == 3)
      return narrow ? KernelChoice{"avx512/dwconv_3x3s2_nchw_pairs", dwconv_3x3s2_nchw_avx512_pairs}
                    : KernelChoice{"avx512/dwconv_3x3s2_nchw", dwconv_3x3s2_nchw_avx512};
    return narrow ? KernelChoice{"avx512/dwconv_5x5s2_nchw_pairs", dwconv_5x5s2_nchw_avx512_pairs}
                  : KernelChoice{"avx512/dwconv_5x5s2_nchw", dwconv_5x5s2_nchw_avx512};
  }
  return {"avx512/dwconv_generic_nchw", dwconv_generic_nchw_avx512};
}

}  // namespace

LayoutKernels dwconv_nchw_avx512() { return {packed_size, pack, select}; }

}  // namespace dsconv::detail
