// Register-blocked GEMM microkernels for x86 (AVX2+FMA and AVX-512F).
//
// One microkernel shape serves every layout: a tile of MR rows x NV vectors of accumulators,
//     acc[i][j] += s[i*si + k*sk] * v[j*vs + k*vk .. + L)      for k in [0, kc)
// where `s` is the BROADCAST operand (one scalar per row and k) and `v` the VECTOR operand
// (NV vectors of L = V::L floats per k). Pointwise NHWC uses s = input pixels (si = Cin,
// sk = 1) and v = packed weights; pointwise NCHW uses s = packed weights (si = 1, sk = panel
// width) and v = input rows (vs = L, vk = pixels). A direct convolution can call
// `accumulate` once per tap on the same accumulators, then `store_tile`.
//
// Usage (all functions are always_inline, so MR x NV accumulators stay in registers):
//     typename V::reg acc[MR][NV];
//     zero_tile<V, MR, NV>(acc);                  // or load_tile<...>(acc, c, ci, cm) to continue
//     accumulate<V, MR, NV, false>(acc, kc, s, si, sk, v, vs, vk, {});
//     store_tile<V, MR, NV, Masked>(acc, c, ci, cm, epi);   // + bias, activation when epi.final
// Output element (i, j-th vector) lives at c + i*ci + j*L. Masked tiles take a mask per vector
// (`cm[j]`): only those lanes are read from or written to memory, the rest are not touched.
// `MaskLast` in accumulate masks the LAST vector of `v` (a tail that must not be over-read);
// masked-off lanes load as zero.
//
// Register budget (AVX-512 has 32 zmm, AVX2 16 ymm): MR*NV accumulators + NV vector loads
// (+1 for the broadcast on AVX2; AVX-512 folds it into the FMA as an embedded broadcast).
//
// Everything here is in an anonymous namespace: the header is compiled once per ISA folder
// with different target flags, and the linker must never merge an AVX-512 copy of an inline
// function into AVX2 code.
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/kernel_types.hpp"

#define DSCONV_GEMM_INLINE inline __attribute__((always_inline))

namespace dsconv::detail::gemm {
namespace {

#if defined(__AVX2__) && defined(__FMA__)
struct Avx2 {
  static constexpr int L = 8;
  using reg = __m256;
  // Lane on = all ones (vmaskmovps). Wrapped: a bare __m256i in a function-pointer type used
  // as a template argument drops its attributes (-Wignored-attributes).
  struct mask {
    __m256i m;
  };
  static DSCONV_GEMM_INLINE reg zero() { return _mm256_setzero_ps(); }
  static DSCONV_GEMM_INLINE reg set1(float v) { return _mm256_set1_ps(v); }
  static DSCONV_GEMM_INLINE reg broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static DSCONV_GEMM_INLINE reg load(const float* p) { return _mm256_loadu_ps(p); }
  static DSCONV_GEMM_INLINE reg load(const float* p, mask m) { return _mm256_maskload_ps(p, m.m); }
  static DSCONV_GEMM_INLINE void store(float* p, reg v) { _mm256_storeu_ps(p, v); }
  static DSCONV_GEMM_INLINE void store(float* p, reg v, mask m) { _mm256_maskstore_ps(p, m.m, v); }
  static DSCONV_GEMM_INLINE reg fma(reg a, reg b, reg c) { return _mm256_fmadd_ps(a, b, c); }
  static DSCONV_GEMM_INLINE reg add(reg a, reg b) { return _mm256_add_ps(a, b); }
  static DSCONV_GEMM_INLINE reg mul(reg a, reg b) { return _mm256_mul_ps(a, b); }
  // x86 max/min return the SECOND operand when either is NaN: callers pass the value second.
  static DSCONV_GEMM_INLINE reg max(reg a, reg b) { return _mm256_max_ps(a, b); }
  static DSCONV_GEMM_INLINE reg min(reg a, reg b) { return _mm256_min_ps(a, b); }
  // Lanes [lo, hi) on.
  static DSCONV_GEMM_INLINE mask lanes(int lo, int hi) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i ge_lo = _mm256_cmpgt_epi32(iota, _mm256_set1_epi32(lo - 1));
    const __m256i lt_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), iota);
    return {_mm256_and_si256(ge_lo, lt_hi)};
  }
};
#endif

#if defined(__AVX512F__)
struct Avx512 {
  static constexpr int L = 16;
  using reg = __m512;
  using mask = __mmask16;
  static DSCONV_GEMM_INLINE reg zero() { return _mm512_setzero_ps(); }
  static DSCONV_GEMM_INLINE reg set1(float v) { return _mm512_set1_ps(v); }
  static DSCONV_GEMM_INLINE reg broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static DSCONV_GEMM_INLINE reg load(const float* p) { return _mm512_loadu_ps(p); }
  static DSCONV_GEMM_INLINE reg load(const float* p, mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static DSCONV_GEMM_INLINE void store(float* p, reg v) { _mm512_storeu_ps(p, v); }
  static DSCONV_GEMM_INLINE void store(float* p, reg v, mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static DSCONV_GEMM_INLINE reg fma(reg a, reg b, reg c) { return _mm512_fmadd_ps(a, b, c); }
  static DSCONV_GEMM_INLINE reg add(reg a, reg b) { return _mm512_add_ps(a, b); }
  static DSCONV_GEMM_INLINE reg mul(reg a, reg b) { return _mm512_mul_ps(a, b); }
  // The all-lanes zero-masked forms are plain vmaxps/vminps; GCC 12's _mm512_max_ps warns
  // (-Wmaybe-uninitialized on its internal _mm512_undefined_ps).
  static DSCONV_GEMM_INLINE reg max(reg a, reg b) { return _mm512_maskz_max_ps(mask(0xFFFF), a, b); }
  static DSCONV_GEMM_INLINE reg min(reg a, reg b) { return _mm512_maskz_min_ps(mask(0xFFFF), a, b); }
  static DSCONV_GEMM_INLINE mask lanes(int lo, int hi) {
    return mask(((1u << hi) - 1u) & ~((1u << lo) - 1u));
  }
};
#endif

// The fused epilogue: bias (one per row, or one vector per column vector, or none) and the
// activation, applied only on the last pass over the reduction (`final`). The activation
// matches apply_activation, NaN included: every max/min takes the value as its SECOND operand.
template <class V>
struct Epilogue {
  using reg = typename V::reg;
  const float* row_bias = nullptr;  // row_bias[i], or null
  const float* col_bias = nullptr;  // col_bias[j*L + lane], or null (masked like the output)
  bool final = true;
  ActivationKind kind = ActivationKind::None;
  float lo = 0.0f, hi = 0.0f;

  Epilogue(const Activation& a, bool is_final) : final(is_final), kind(a.kind), lo(a.lo), hi(a.hi) {}
};

// acc[i][j] = f(acc[i][j]).
template <class V, int MR, int NV, class F>
DSCONV_GEMM_INLINE void map_tile(typename V::reg (&acc)[MR][NV], F f) {
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = f(acc[i][j]);
}

template <class V, int MR, int NV>
DSCONV_GEMM_INLINE void zero_tile(typename V::reg (&acc)[MR][NV]) {
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) acc[i][j] = V::zero();
}

// Continues a reduction: acc = C (masked lanes read as zero).
template <class V, int MR, int NV, bool Masked>
DSCONV_GEMM_INLINE void load_tile(typename V::reg (&acc)[MR][NV], const float* c, int64_t ci,
                                  const typename V::mask* cm) {
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j)
      acc[i][j] = Masked ? V::load(c + i * ci + j * V::L, cm[j]) : V::load(c + i * ci + j * V::L);
}

// acc[i][j] += s[i*si + k*sk] * v[j*vs + k*vk ..], k in [0, kc). With MaskLast the last vector
// of v is loaded under `vm` (zeros elsewhere), so a tail is never over-read.
template <class V, int MR, int NV, bool MaskLast>
DSCONV_GEMM_INLINE void accumulate(typename V::reg (&acc)[MR][NV], int64_t kc, const float* s, int64_t si,
                                   int64_t sk, const float* v, int64_t vs, int64_t vk, typename V::mask vm) {
  using reg = typename V::reg;
  for (int64_t k = 0; k < kc; ++k) {
    reg b[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) b[j] = (MaskLast && j == NV - 1) ? V::load(v + j * vs, vm) : V::load(v + j * vs);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const reg a = V::broadcast(s + i * si);
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, b[j], acc[i][j]);
    }
    s += sk;
    v += vk;
  }
}

// Writes the tile: C = acc (+ bias, activation when e.final). Masked: lanes cm[j] only.
template <class V, int MR, int NV, bool Masked>
DSCONV_GEMM_INLINE void store_tile(typename V::reg (&acc)[MR][NV], float* c, int64_t ci, const typename V::mask* cm,
                                   const Epilogue<V>& e) {
  using reg = typename V::reg;
  if (e.final) {
    if (e.col_bias) {
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) {
        const reg b = Masked ? V::load(e.col_bias + j * V::L, cm[j]) : V::load(e.col_bias + j * V::L);
#pragma GCC unroll 32
        for (int i = 0; i < MR; ++i) acc[i][j] = V::add(acc[i][j], b);
      }
    }
    if (e.row_bias) {
#pragma GCC unroll 32
      for (int i = 0; i < MR; ++i) {
        const reg b = V::broadcast(e.row_bias + i);
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j) acc[i][j] = V::add(acc[i][j], b);
      }
    }
    // One switch per tile, not per register: each case is its own unrolled loop.
    switch (e.kind) {
      case ActivationKind::None: break;
      case ActivationKind::ReLU: map_tile<V, MR, NV>(acc, [](reg v) { return V::max(V::zero(), v); }); break;
      case ActivationKind::ReLU6:
        map_tile<V, MR, NV>(acc, [](reg v) { return V::min(V::set1(6.0f), V::max(V::zero(), v)); });
        break;
      case ActivationKind::HardSwish:
        map_tile<V, MR, NV>(acc, [](reg v) {
          const reg t = V::min(V::set1(6.0f), V::max(V::zero(), V::add(v, V::set1(3.0f))));
          return V::mul(V::mul(v, t), V::set1(1.0f / 6.0f));
        });
        break;
      case ActivationKind::Clamp: {
        const reg lo = V::set1(e.lo), hi = V::set1(e.hi);
        map_tile<V, MR, NV>(acc, [lo, hi](reg v) { return V::min(hi, V::max(lo, v)); });
        break;
      }
    }
  }
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      if (Masked)
        V::store(c + i * ci + j * V::L, acc[i][j], cm[j]);
      else
        V::store(c + i * ci + j * V::L, acc[i][j]);
    }
}

}  // namespace
}  // namespace dsconv::detail::gemm
