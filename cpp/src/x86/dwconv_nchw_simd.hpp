// Depthwise convolution in NCHW on x86: one template, instantiated per ISA in
// x86/avx2/dwconv_*_nchw_avx2.cpp and x86/avx512/dwconv_*_nchw_avx512.cpp.
//
// Vectors run along the output width. For each input channel, the input rows a tile of output
// rows needs are copied into a small ring buffer in L1 that holds each row already padded with
// zeros left and right, and, for stride s > 1, split into s phase planes (column q of phase p
// is padded column s*q + p). A tap at padded column s*ow + j*d is then phase (j*d) % s at
// offset ow + (j*d) / s: every tap of every stride is one unaligned load, the inner loop has no
// border branches, and rows above/below the image point at a shared zero row. Stride 2 splits
// even/odd columns with permutes (no gathers); only the generic path's stride >= 3 gathers, and
// only in the copy. The specialised 3x3/5x5 kernels compute a tile of R output rows per column
// block, so each loaded input vector feeds every output row of the tile that uses it, with the
// channel's weights broadcast in registers and bias + activation applied before the store.
//
// Everything templated lives in an anonymous namespace: each ISA's translation unit gets its
// own copy, compiled with its own flags, so no inline function is shared across ISAs.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/kernel_types.hpp"

namespace dsconv::detail {

// The kernel entry points, one per kernel file.
#define DSCONV_DWNCHW_DECLARE(name)                                                                      \
  void name(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias, \
            const Activation& act, float* y)
DSCONV_DWNCHW_DECLARE(dwconv_3x3s1_nchw_avx2);
DSCONV_DWNCHW_DECLARE(dwconv_3x3s2_nchw_avx2);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s1_nchw_avx2);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s2_nchw_avx2);
DSCONV_DWNCHW_DECLARE(dwconv_generic_nchw_avx2);
DSCONV_DWNCHW_DECLARE(dwconv_3x3s1_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_3x3s2_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s1_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s2_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_generic_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_3x3s1_nchw_avx512_ymm);
DSCONV_DWNCHW_DECLARE(dwconv_3x3s2_nchw_avx512_ymm);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s1_nchw_avx512_ymm);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s2_nchw_avx512_ymm);
DSCONV_DWNCHW_DECLARE(dwconv_generic_nchw_avx512_ymm);
#undef DSCONV_DWNCHW_DECLARE

namespace dwnchw {
namespace {

// ------------------------------------------------------------------ vector operations
// Each Ops struct: V (the register type), N (lanes), and the few operations the kernels use.
// load_range(p, off, n) returns p[off + l] for lanes with 0 <= off + l < n and 0 elsewhere,
// reading nothing outside [p, p + n).

struct Avx2Common {
  using V = __m256;
  static constexpr int N = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  // max(a, v) / min(a, v) return v when v is NaN (x86 returns the second operand).
  static V max(V a, V v) { return _mm256_max_ps(a, v); }
  static V min(V a, V v) { return _mm256_min_ps(a, v); }
  static __m256i lane_mask(int64_t lo, int64_t hi) {  // lanes lo <= l < hi
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i ge_lo = _mm256_cmpgt_epi32(iota, _mm256_set1_epi32(int(lo) - 1));
    const __m256i lt_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi)), iota);
    return _mm256_and_si256(ge_lo, lt_hi);
  }
  static void deinterleave(V a, V b, V& even, V& odd) {
    // Within 128-bit halves: a0 a2 b0 b2 | a4 a6 b4 b6, then reorder the 64-bit quarters.
    const V e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const V o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  // p[off + step*l] where in range, 0 elsewhere (the generic path's copy for stride >= 3).
  static V gather_range(const float* p, int64_t off, int64_t step, int64_t n) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(int(off)), _mm256_mullo_epi32(iota, _mm256_set1_epi32(int(step))));
    const __m256i ok = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)),
                                        _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), idx));
    return _mm256_mask_i32gather_ps(zero(), p, idx, _mm256_castsi256_ps(ok), 4);
  }
};

struct Avx2 : Avx2Common {
  static V load_range(const float* p, int64_t off, int64_t n) {
    if (off >= 0 && off + N <= n) return loadu(p + off);
    if (off + N <= 0 || off >= n) return zero();
    return _mm256_maskload_ps(p + off, lane_mask(-off, n - off));
  }
  static void store_first(float* p, V v, int64_t count) { _mm256_maskstore_ps(p, lane_mask(0, count), v); }
};

#if defined(__AVX512F__)
// 256-bit vectors whose tail stores use an AVX-512 mask (AVX2's maskstore is slow on some
// CPUs): the AVX-512 kernels for maps at most 8 wide.
struct Ymm512 : Avx2 {
  static void store_first(float* p, V v, int64_t count) {
    _mm512_mask_storeu_ps(p, __mmask16((1u << count) - 1u), _mm512_castps256_ps512(v));
  }
};

struct Zmm {
  using V = __m512;
  static constexpr int N = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  // The maskz forms with a full mask: GCC 12's plain _mm512_max_ps trips -Wuninitialized.
  static V max(V a, V v) { return _mm512_maskz_max_ps(__mmask16(0xFFFF), a, v); }
  static V min(V a, V v) { return _mm512_maskz_min_ps(__mmask16(0xFFFF), a, v); }
  static __mmask16 kmask(int64_t lo, int64_t hi) { return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u)); }
  static V load_range(const float* p, int64_t off, int64_t n) {
    if (off >= 0 && off + N <= n) return loadu(p + off);
    if (off + N <= 0 || off >= n) return zero();
    const int64_t lo = std::max<int64_t>(0, -off), hi = std::min<int64_t>(N, n - off);
    return _mm512_maskz_loadu_ps(kmask(lo, hi), p + off);
  }
  static void store_first(float* p, V v, int64_t count) { _mm512_mask_storeu_ps(p, kmask(0, count), v); }
  static void deinterleave(V a, V b, V& even, V& odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    even = _mm512_permutex2var_ps(a, ie, b);
    odd = _mm512_permutex2var_ps(a, io, b);
  }
  static V gather_range(const float* p, int64_t off, int64_t step, int64_t n) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(int(off)), _mm512_mullo_epi32(iota, _mm512_set1_epi32(int(step))));
    const __mmask16 ok = _mm512_cmpge_epi32_mask(idx, _mm512_setzero_si512()) &
                         _mm512_cmplt_epi32_mask(idx, _mm512_set1_epi32(int(n)));
    return _mm512_mask_i32gather_ps(zero(), ok, idx, p, 4);
  }
};
#endif

// ------------------------------------------------------------------ epilogue
enum class Act { Linear, Clamp, HardSwish };

template <class O>
struct Epilogue {
  typename O::V lo, hi;  // Clamp: max(lo, v) then min(hi, .), NaN kept
  explicit Epilogue(const Activation& a) {
    switch (a.kind) {
      case ActivationKind::ReLU: lo = O::zero(), hi = O::set1(__builtin_huge_valf()); break;
      case ActivationKind::ReLU6: lo = O::zero(), hi = O::set1(6.0f); break;
      case ActivationKind::Clamp: lo = O::set1(a.lo), hi = O::set1(a.hi); break;
      default: lo = O::zero(), hi = O::zero(); break;
    }
  }
  template <Act A>
  typename O::V apply(typename O::V v) const {
    if constexpr (A == Act::Clamp) {
      return O::min(hi, O::max(lo, v));
    } else if constexpr (A == Act::HardSwish) {
      // v * clamp(v + 3, 0, 6) / 6, as the reference orders it.
      const typename O::V t = O::min(O::set1(6.0f), O::max(O::zero(), O::add(v, O::set1(3.0f))));
      return O::mul(O::mul(v, t), O::set1(1.0f / 6.0f));
    } else {
      return v;
    }
  }
};

// ------------------------------------------------------------------ compile-time loops
template <class F, int... I>
inline __attribute__((always_inline)) void static_for_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int Count, class F>
inline __attribute__((always_inline)) void static_for(F&& f) {
  static_for_impl(f, std::make_integer_sequence<int, Count>{});
}

// ------------------------------------------------------------------ what a tile sees
struct Tile {
  const float* const* rows;  // the tile's input rows, padded and phase-split (zero row outside)
  int64_t plane;             // floats between two phase planes of a row
  const float* w;            // this output channel's kh*kw taps
  float bias;
  float* y;                  // output row of the tile's first row
  int64_t wo;                // output width (= row stride of y)
};

// Calls f(col) for each column block of the row; blocks are full vectors, the last one moved
// back to end at wo (overlapping its neighbour) so that no store is masked unless wo < N.
template <class O, class Block>
inline __attribute__((always_inline)) void for_each_block(int64_t wo, Block&& block) {
  if (wo < O::N) {
    block(int64_t(0), wo);
    return;
  }
  int64_t col = 0;
  for (; col + O::N <= wo; col += O::N) block(col, int64_t(O::N));
  if (col < wo) block(wo - O::N, int64_t(O::N));
}

template <class O>
inline __attribute__((always_inline)) void store(float* p, typename O::V v, int64_t count) {
  if (count == O::N)
    O::storeu(p, v);
  else
    O::store_first(p, v, count);
}

// ------------------------------------------------------------------ fixed-shape kernels
// KH x KW at stride S (both axes), dilation 1, tiles of up to R output rows.
template <int KH, int KW, int S, int R>
struct Fixed {
  static constexpr int kRows = R;
  static bool fits(const ConvGeometry& g) {
    return g.kh == KH && g.kw == KW && g.sh == S && g.sw == S && g.dh == 1 && g.dw == 1;
  }

  template <class O, Act A, int RT>
  static void tile(const Tile& t, const Epilogue<O>& epi) {
    using V = typename O::V;
    constexpr int T = (RT - 1) * S + KH;  // input rows of the tile
    V wv[KH * KW];
    static_for<KH * KW>([&](auto k) { wv[k.value] = O::set1(t.w[k.value]); });
    const V bv = O::set1(t.bias);
    const int64_t plane = t.plane;
    for_each_block<O>(t.wo, [&](int64_t col, int64_t count) {
      V acc[RT];
      static_for<RT>([&](auto r) { acc[r.value] = bv; });
      static_for<T>([&](auto ti) {
        constexpr int tr = ti.value;
        const float* row = t.rows[tr] + col;
        static_for<KW>([&](auto j) {
          constexpr int jj = j.value;
          const V xv = O::loadu(row + (jj % S) * plane + jj / S);
          static_for<RT>([&](auto r) {
            constexpr int i = tr - r.value * S;
            if constexpr (i >= 0 && i < KH) acc[r.value] = O::fmadd(xv, wv[i * KW + jj], acc[r.value]);
          });
        });
      });
      static_for<RT>([&](auto r) { store<O>(t.y + r.value * t.wo + col, epi.template apply<A>(acc[r.value]), count); });
    });
  }

  template <class O, Act A>
  static void tile_rows(int rows, const Tile& t, const Epilogue<O>& epi, const ConvGeometry&) {
    static_for<R>([&](auto r) {
      if (rows == r.value + 1) tile<O, A, r.value + 1>(t, epi);
    });
  }
};

// ------------------------------------------------------------------ generic kernel
// Any kernel size, stride and dilation: one output row per tile, one load and one FMA per tap
// and column block, taps read through per-column offsets computed once per call.
struct Generic {
  static constexpr int kRows = 1;
  static bool fits(const ConvGeometry&) { return true; }

  template <class O, Act A>
  static void tile_rows(int, const Tile& t, const Epilogue<O>& epi, const ConvGeometry& g) {
    using V = typename O::V;
    const int64_t kh = g.kh, kw = g.kw;
    const V bv = O::set1(t.bias);
    for_each_block<O>(t.wo, [&](int64_t col, int64_t count) {
      V acc0 = bv, acc1 = O::zero();  // two chains: taps alternate between them
      for (int64_t i = 0; i < kh; ++i) {
        const float* row = t.rows[i * g.dh] + col;
        const float* wi = t.w + i * kw;
        int64_t j = 0;
        for (; j + 1 < kw; j += 2) {
          const int64_t o0 = (j * g.dw) % g.sw * t.plane + (j * g.dw) / g.sw;
          const int64_t o1 = ((j + 1) * g.dw) % g.sw * t.plane + ((j + 1) * g.dw) / g.sw;
          acc0 = O::fmadd(O::loadu(row + o0), O::set1(wi[j]), acc0);
          acc1 = O::fmadd(O::loadu(row + o1), O::set1(wi[j + 1]), acc1);
        }
        if (j < kw) {
          const int64_t o0 = (j * g.dw) % g.sw * t.plane + (j * g.dw) / g.sw;
          acc0 = O::fmadd(O::loadu(row + o0), O::set1(wi[j]), acc0);
        }
      }
      store<O>(t.y + col, epi.template apply<A>(O::add(acc0, acc1)), count);
    });
  }
};

// ------------------------------------------------------------------ the channel driver
inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// Copies input row `src` (w floats) into `dst`, padded by pad_left zeros on the left and zeros
// up to the plane's end on the right, split into s phase planes of `plane` floats each.
template <class O>
void fill_row(const float* src, int64_t w, int64_t pad_left, int64_t s, int64_t plane, float* dst) {
  constexpr int N = O::N;
  if (s == 1) {
    for (int64_t q = 0; q < plane; q += N) O::storeu(dst + q, O::load_range(src, q - pad_left, w));
  } else if (s == 2) {
    for (int64_t q = 0; q < plane; q += N) {
      const int64_t off = 2 * q - pad_left;
      typename O::V even, odd;
      O::deinterleave(O::load_range(src, off, w), O::load_range(src, off + N, w), even, odd);
      O::storeu(dst + q, even);
      O::storeu(dst + plane + q, odd);
    }
  } else {
    for (int64_t p = 0; p < s; ++p)
      for (int64_t q = 0; q < plane; q += N) O::storeu(dst + p * plane + q, O::gather_range(src, s * q + p - pad_left, s, w));
  }
}

template <class O>
std::vector<float>& scratch() {
  static thread_local std::vector<float> buf;
  return buf;
}

template <class O, class K, Act A>
void run_act(const ConvGeometry& g, const WorkRange& wr, const float* x, const float* w, const float* bias,
             const Activation& act, float* y) {
  constexpr int R = K::kRows;
  const int64_t m = g.multiplier();
  const int64_t taps = g.kh * g.kw;
  // Phase plane width: every column block reads up to max(wo, N) - 1 + the largest tap shift.
  const int64_t plane = round_up(std::max<int64_t>(g.wo, O::N) + ((g.kw - 1) * g.dw) / g.sw, O::N);
  const int64_t row_len = plane * g.sw;
  const int64_t span = (R - 1) * g.sh + (g.kh - 1) * g.dh + 1;  // input rows of a full tile
  std::vector<float>& buf = scratch<O>();
  if (buf.size() < size_t((span + 1) * row_len)) buf.resize(size_t((span + 1) * row_len));
  float* ring = buf.data();
  float* zero_row = ring + span * row_len;
  std::memset(zero_row, 0, sizeof(float) * size_t(row_len));
  std::vector<const float*> rows(static_cast<size_t>(span));
  const Epilogue<O> epi(act);

  for (int64_t c = wr.oc_begin / m; c < wr.oc_end / m; ++c) {
    const float* xc = x + c * g.h * g.w;
    int64_t filled = 0;  // input rows below this one are in the ring (or not needed again)
    for (int64_t oh = wr.oh_begin; oh < wr.oh_end; oh += R) {
      const int rt = int(std::min<int64_t>(R, wr.oh_end - oh));
      const int64_t ih0 = oh * g.sh - g.pad_top;
      const int64_t n_rows = (rt - 1) * g.sh + (g.kh - 1) * g.dh + 1;
      const int64_t ih_end = std::min(ih0 + n_rows, g.h);
      for (int64_t ih = std::max(ih0, filled); ih < ih_end; ++ih)
        fill_row<O>(xc + ih * g.w, g.w, g.pad_left, g.sw, plane, ring + (ih % span) * row_len);
      filled = std::max(filled, ih_end);
      for (int64_t t = 0; t < n_rows; ++t) {
        const int64_t ih = ih0 + t;
        rows[size_t(t)] = ih >= 0 && ih < g.h ? ring + (ih % span) * row_len : zero_row;
      }
      for (int64_t j = 0; j < m; ++j) {
        const int64_t oc = c * m + j;
        const Tile t{rows.data(), plane, w + oc * taps, bias ? bias[oc] : 0.0f, y + (oc * g.ho + oh) * g.wo, g.wo};
        K::template tile_rows<O, A>(rt, t, epi, g);
      }
    }
  }
}

template <class O, class K>
void run(const ConvGeometry& g, const WorkRange& wr, const float* x, const float* w, const float* bias,
         const Activation& act, float* y) {
  switch (act.kind) {
    case ActivationKind::None: return run_act<O, K, Act::Linear>(g, wr, x, w, bias, act, y);
    case ActivationKind::HardSwish: return run_act<O, K, Act::HardSwish>(g, wr, x, w, bias, act, y);
    default: return run_act<O, K, Act::Clamp>(g, wr, x, w, bias, act, y);
  }
}

}  // namespace
}  // namespace dwnchw
}  // namespace dsconv::detail
