// Pointwise (1x1) convolution, NHWC, NEON: Y[P x Cout] = X[P x Cin] . W^T, on the GEMM
// microkernel of gemm_neon.hpp with m = pixels, n = output channels.
// Blocking: a block of kTiles*MR pixels is transposed once into a packed A block
// ([tile][k][MR]: K*64 floats on aarch64, in L2), then every weight panel (K x NR, in L1) runs
// over the block's tiles. Weights are packed once (pack_weights) as NR-wide panels; a raw call
// packs them per call (one pass over Cout*Cin floats).
// Registers and loads per FMA: see gemm_neon.hpp (aarch64 8x12: 0.21 loads/FMA; armv7 4x8:
// 0.375). x86 twin: avx512/pwconv_nhwc_14x32, avx2/pwconv_nhwc_6x16 (0.57 / 0.67 loads/FMA).
#include <algorithm>

#include "arm/arm_kernels.hpp"
#include "arm/neon/gemm_neon.hpp"

namespace dsconv::detail {
namespace {
using namespace neon;

constexpr int kTiles = 8;

size_t packed_size(const WeightDims& d, Layout) { return panel_size(d, kNR); }
void pack(const WeightDims& d, Layout, const float* w, float* out) {
  pack_panels(d, kNR, w, out, [](int64_t k) { return k; });
}

// A[t][k][m] = x[(p0 + t*MR + m) * K + k]; rows past np are zeros (computed, never stored).
void pack_pixels(const float* x, int64_t p0, int64_t np, int64_t K, float* A) {
  const int64_t tiles = ceil_div(np, kMR);
  for (int64_t t = 0; t < tiles; ++t) {
    float* At = A + t * K * kMR;
    for (int m = 0; m < kMR; ++m) {
      const int64_t pix = t * kMR + m;
      if (pix < np) {
        const float* src = x + (p0 + pix) * K;
        for (int64_t k = 0; k < K; ++k) At[k * kMR + m] = src[k];
      } else {
        for (int64_t k = 0; k < K; ++k) At[k * kMR + m] = 0.0f;
      }
    }
  }
}

void pwconv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
            const Activation& a, float* y) {
  const Epilogue act(a);
  const int64_t K = g.cin, cout = g.cout;
  const int64_t p_begin = r.oh_begin * g.wo, p_end = r.oh_end * g.wo;
  thread_local std::vector<float> buf;
  float* A = scratch(buf, size_t(K * kMR * kTiles));
  for (int64_t p0 = p_begin; p0 < p_end; p0 += kMR * kTiles) {
    const int64_t np = std::min<int64_t>(kMR * kTiles, p_end - p0);
    pack_pixels(x, p0, np, K, A);
    for (int64_t q = r.oc_begin / kNR; q * kNR < r.oc_end; ++q) {
      float b[kNR];
      bias_tile<kNR>(bias, q * kNR, cout, b);
      TileBounds tb{0, kMR, int(std::max<int64_t>(r.oc_begin - q * kNR, 0)),
                    int(std::min<int64_t>(r.oc_end - q * kNR, kNR))};
      for (int64_t t = 0; t * kMR < np; ++t) {
        tb.m_hi = int(std::min<int64_t>(kMR, np - t * kMR));
        gemm_tile<false>(K, A + t * K * kMR, w + q * K * kNR, kNR, b, act, y + (p0 + t * kMR) * cout + q * kNR, cout,
                         tb);
      }
    }
  }
}

KernelChoice select(const ConvGeometry&) {
#if defined(__aarch64__)
  return {"neon/pwconv_nhwc_8x12", pwconv};
#else
  return {"neon/pwconv_nhwc_4x8", pwconv};
#endif
}

}  // namespace

LayoutKernels pwconv_nhwc_neon() { return {packed_size, pack, select}; }

}  // namespace dsconv::detail
