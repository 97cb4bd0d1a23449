// The NEON GEMM microkernel shared by pointwise (1x1) and direct convolution, both layouts:
//   C[m][n] = bias + sum_k A[k][m] * B[k][n], then the activation, for an MR x NR tile.
// NHWC: m = output pixels (A = packed input rows), n = output channels (B = packed weights).
// NCHW: m = output channels (A = packed weights), n = output pixels (B = input rows in
// place, or a packed tile at the image's edge / for a convolution).
//
// Registers, per k: MR/4 vector loads of A, NR/4 vector loads of B, MR*NR/4 FMAs by element.
//   aarch64 (32 q registers): MR = 8, NR = 12: 24 accumulators + 2 A + 3 B = 29 registers;
//     5 loads per 24 FMAs (0.21 loads/FMA).
//   armv7 (16 q registers): MR = 4, NR = 8: 8 accumulators + 1 A + 2 B = 11 registers (the
//     by-element FMA is a vdup + vfma there); 3 loads per 8 FMAs (0.375 loads/FMA).
//   x86 twins (cpp/src/x86/pwconv_simd.hpp, gemm_simd.hpp): avx512/pwconv_nhwc_14x32 issues 2
//     vector loads + 14 broadcasts per 28 FMAs (0.57 loads/FMA, the broadcasts folded into the
//     FMAs), avx512/pwconv_nchw_8x48 3 + 8 per 24 (0.46), avx2/pwconv_nhwc_6x16 2 + 6 per 12
//     (0.67). NEON's by-element FMA takes 4 broadcasts from one vector load, hence the lower
//     figure for the same register budget.
#pragma once

#include "arm/neon/neon_common.hpp"

namespace dsconv::detail::neon {

#if defined(__aarch64__)
constexpr int kMR = 8, kNR = 12;
#else
constexpr int kMR = 4, kNR = 8;
#endif

struct TileBounds {
  int m_lo, m_hi;  // rows of the tile to store
  int n_lo, n_hi;  // columns of the tile to store
};

// A: [K][kMR] packed. B: rows of kNR floats, ldb apart (all kNR readable). bias: kMR floats
// (BiasPerRow) or kNR floats, already padded. C: row m at c + m * ldc.
template <bool BiasPerRow>
inline void gemm_tile(int64_t K, const float* A, const float* B, int64_t ldb, const float* bias,
                      const Epilogue& act, float* c, int64_t ldc, const TileBounds& t) {
  constexpr int MV = kMR / 4, NV = kNR / 4;
  float32x4_t acc[kMR][NV];
  for_each_index<kMR>([&](auto m) DSCONV_UNROLL {
    for_each_index<NV>([&](auto n) DSCONV_UNROLL {
      if constexpr (BiasPerRow) acc[m][n] = vdupq_n_f32(bias[m]);
      else acc[m][n] = vld1q_f32(bias + 4 * n);
    });
  });
  for (int64_t k = 0; k < K; ++k) {
    float32x4_t a[MV], b[NV];
    for_each_index<MV>([&](auto i) DSCONV_UNROLL { a[i] = vld1q_f32(A + 4 * i); });
    for_each_index<NV>([&](auto n) DSCONV_UNROLL { b[n] = vld1q_f32(B + 4 * n); });
    for_each_index<kMR>([&](auto m) DSCONV_UNROLL {
      for_each_index<NV>([&](auto n) DSCONV_UNROLL { acc[m][n] = fma_lane<m % 4>(acc[m][n], b[n], a[m / 4]); });
    });
    A += kMR;
    B += ldb;
  }
  const bool full_cols = t.n_lo == 0 && t.n_hi == kNR;
  for_each_index<kMR>([&](auto m) DSCONV_UNROLL {
    if (m < t.m_lo || m >= t.m_hi) return;
    float* row = c + m * ldc;
    for_each_index<NV>([&](auto n) DSCONV_UNROLL {
      const float32x4_t v = act(acc[m][n]);
      if (full_cols) vst1q_f32(row + 4 * n, v);
      else if (t.n_lo < 4 * n + 4 && t.n_hi > 4 * n)
        store_range(row + 4 * n, v, t.n_lo - 4 * n > 0 ? t.n_lo - 4 * n : 0, t.n_hi - 4 * n);
    });
  });
}

// Weights (PyTorch order w[oc][k], k = the cin_per_group*kh*kw taps in a chosen order) as
// panels of P output channels: panel q holds [k][P] for oc in [q*P, q*P + P), zeros past cout.
// tap_of(k) maps the panel's k order to PyTorch's flat tap index.
inline size_t panel_size(const WeightDims& d, int P) {
  return size_t(ceil_div(d.cout, P) * P * d.cin_per_group * d.kh * d.kw);
}
template <class TapOf>
inline void pack_panels(const WeightDims& d, int P, const float* w, float* out, TapOf tap_of) {
  const int64_t K = d.cin_per_group * d.kh * d.kw, panels = ceil_div(d.cout, P);
  for (int64_t q = 0; q < panels; ++q)
    for (int64_t k = 0; k < K; ++k) {
      const int64_t src = tap_of(k);
      float* dst = out + (q * K + k) * P;
      for (int64_t i = 0; i < P; ++i) {
        const int64_t oc = q * P + i;
        dst[i] = oc < d.cout ? w[oc * K + src] : 0.0f;
      }
    }
}

// The bias of columns/rows [first, first + n) of a tile, zero past `count` (or no bias).
template <int N>
inline void bias_tile(const float* bias, int64_t first, int64_t count, float* out) {
  for (int i = 0; i < N; ++i) out[i] = bias && first + i < count ? bias[first + i] : 0.0f;
}

}  // namespace dsconv::detail::neon
