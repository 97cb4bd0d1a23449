// Depthwise convolution in NCHW on x86: one template, instantiated per ISA in
// x86/avx2/dwconv_*_nchw_avx2.cpp and x86/avx512/dwconv_*_nchw_avx512.cpp.
//
// Vectors run along the output width, straight from the input (no copy). A tile of R output
// rows of one output channel is computed one column block (one vector of outputs) at a time:
// each input row the tile needs is loaded once and feeds every output row of the tile that uses
// it, with the channel's weights broadcast in registers and bias + activation applied in
// registers before the store. Tap columns: AVX-512 loads two vectors per row and shifts the
// taps out with valignd; AVX2 loads one vector per tap column. Rows above/below the image point at a shared zero
// row. Column blocks whose taps all fall inside the row use plain loads; the (at most two per
// row) edge blocks use masked loads, which read zeros for the padding and never touch memory
// outside the row. The last block is moved back to end at the row's end (overlapping its
// neighbour), so stores are masked only when the whole row is narrower than a vector.
// Specialised kernels: 3x3 and 5x5 at stride 1 and 2, 7x7 at stride 1; the generic one takes any
// kernel size, stride, dilation and multiplier.
// Stride 2 splits even/odd columns with permutes, no gathers (AVX-512: three loads per row, the
// later taps shifted in with vpermt2ps; outputs at most 8 wide pack two rows per vector); only
// the generic kernel's stride >= 3 gathers.
//
// Everything templated lives in an anonymous namespace: each ISA's translation unit gets its
// own copy, compiled with its own flags, so no inline function is shared across ISAs.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
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
DSCONV_DWNCHW_DECLARE(dwconv_7x7s1_nchw_avx2);
DSCONV_DWNCHW_DECLARE(dwconv_generic_nchw_avx2);
DSCONV_DWNCHW_DECLARE(dwconv_3x3s1_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_3x3s2_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s1_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s2_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_7x7s1_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_generic_nchw_avx512);
DSCONV_DWNCHW_DECLARE(dwconv_3x3s2_nchw_avx512_pairs);
DSCONV_DWNCHW_DECLARE(dwconv_5x5s2_nchw_avx512_pairs);
#undef DSCONV_DWNCHW_DECLARE

namespace dwnchw {
namespace {

#define DWNCHW_INLINE inline __attribute__((always_inline))
#define DWNCHW_LAMBDA_INLINE __attribute__((always_inline))

// ------------------------------------------------------------------ vector operations
// Each Ops struct: V (register), Mask, N (lanes), and the few operations the kernels use.
// range(lo, hi) is the mask of lanes lo <= l < hi (any lo, hi).

struct Avx2 {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int N = 8;
  static constexpr bool kShifts = false;  // no cheap cross-lane shifts: taps load their own vectors
  static DWNCHW_INLINE V zero() { return _mm256_setzero_ps(); }
  static DWNCHW_INLINE V set1(float f) { return _mm256_set1_ps(f); }
  static DWNCHW_INLINE V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static DWNCHW_INLINE void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  static DWNCHW_INLINE V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static DWNCHW_INLINE V add(V a, V b) { return _mm256_add_ps(a, b); }
  static DWNCHW_INLINE V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  // max(a, v) / min(a, v) return v when v is NaN (x86 returns the second operand).
  static DWNCHW_INLINE V max(V a, V v) { return _mm256_max_ps(a, v); }
  static DWNCHW_INLINE V min(V a, V v) { return _mm256_min_ps(a, v); }
  static DWNCHW_INLINE Mask range(int64_t lo, int64_t hi) {
    lo = std::clamp<int64_t>(lo, 0, N), hi = std::clamp<int64_t>(hi, 0, N);
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32(int(lo) - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(int(hi)), iota));
  }
  static DWNCHW_INLINE V maskz_loadu(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  static DWNCHW_INLINE Mask mask_from_bits(uint32_t bits) {
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(int(bits)), bit), bit);
  }
  static DWNCHW_INLINE void store_first(float* p, V v, int64_t count) { _mm256_maskstore_ps(p, range(0, count), v); }
  static DWNCHW_INLINE void deinterleave(V a, V b, V& even, V& odd) {
    // Within 128-bit halves: a0 a2 b0 b2 | a4 a6 b4 b6, then reorder the 64-bit quarters.
    const V e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const V o = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  // p[off + step*l] for lanes inside [0, n), 0 elsewhere: the generic kernel's stride >= 3.
  static DWNCHW_INLINE V gather(const float* p, int64_t off, int64_t step, int64_t n) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(int(off)), _mm256_mullo_epi32(iota, _mm256_set1_epi32(int(step))));
    const __m256i ok = _mm256_and_si256(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(-1)),
                                        _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), idx));
    return _mm256_mask_i32gather_ps(zero(), p, idx, _mm256_castsi256_ps(ok), 4);
  }
};

#if defined(__AVX512F__)
struct Zmm {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int N = 16;
  static constexpr bool kShifts = true;
  // Lanes J.. of a followed by the first J of b.
  template <int J>
  static DWNCHW_INLINE V shift(V a, V b) {
    if constexpr (J == 0)
      return a;
    else
      return _mm512_castsi512_ps(
          _mm512_maskz_alignr_epi32(__mmask16(0xFFFF), _mm512_castps_si512(b), _mm512_castps_si512(a), J));
  }
  // For the stride-2 split: v holds the even (P = 0) or odd (P = 1) columns 2l + P of a row
  // segment, c the 16 columns after it; returns columns 2(l + Q) + P.
  template <int Q, int P>
  static DWNCHW_INLINE V shift_in_pairs(V v, V c) {
    if constexpr (Q == 0) {
      return v;
    } else {
      alignas(64) static constexpr int idx[16] = {
          0 + Q < 16 ? 0 + Q : 16 + 2 * (0 + Q - 16) + P,    1 + Q < 16 ? 1 + Q : 16 + 2 * (1 + Q - 16) + P,
          2 + Q < 16 ? 2 + Q : 16 + 2 * (2 + Q - 16) + P,    3 + Q < 16 ? 3 + Q : 16 + 2 * (3 + Q - 16) + P,
          4 + Q < 16 ? 4 + Q : 16 + 2 * (4 + Q - 16) + P,    5 + Q < 16 ? 5 + Q : 16 + 2 * (5 + Q - 16) + P,
          6 + Q < 16 ? 6 + Q : 16 + 2 * (6 + Q - 16) + P,    7 + Q < 16 ? 7 + Q : 16 + 2 * (7 + Q - 16) + P,
          8 + Q < 16 ? 8 + Q : 16 + 2 * (8 + Q - 16) + P,    9 + Q < 16 ? 9 + Q : 16 + 2 * (9 + Q - 16) + P,
          10 + Q < 16 ? 10 + Q : 16 + 2 * (10 + Q - 16) + P, 11 + Q < 16 ? 11 + Q : 16 + 2 * (11 + Q - 16) + P,
          12 + Q < 16 ? 12 + Q : 16 + 2 * (12 + Q - 16) + P, 13 + Q < 16 ? 13 + Q : 16 + 2 * (13 + Q - 16) + P,
          14 + Q < 16 ? 14 + Q : 16 + 2 * (14 + Q - 16) + P, 15 + Q < 16 ? 15 + Q : 16 + 2 * (15 + Q - 16) + P};
      return _mm512_permutex2var_ps(v, _mm512_load_si512(idx), c);
    }
  }
  static DWNCHW_INLINE V zero() { return _mm512_setzero_ps(); }
  static DWNCHW_INLINE V set1(float f) { return _mm512_set1_ps(f); }
  static DWNCHW_INLINE V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static DWNCHW_INLINE void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static DWNCHW_INLINE V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static DWNCHW_INLINE V add(V a, V b) { return _mm512_add_ps(a, b); }
  static DWNCHW_INLINE V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  // The maskz forms with a full mask here and in shift(): GCC 12's plain forms trip
  // -Wuninitialized.
  static DWNCHW_INLINE V max(V a, V v) { return _mm512_maskz_max_ps(__mmask16(0xFFFF), a, v); }
  static DWNCHW_INLINE V min(V a, V v) { return _mm512_maskz_min_ps(__mmask16(0xFFFF), a, v); }
  static DWNCHW_INLINE Mask range(int64_t lo, int64_t hi) {
    lo = std::clamp<int64_t>(lo, 0, N), hi = std::clamp<int64_t>(hi, 0, N);
    return __mmask16(((1u << hi) - 1u) & ~((1u << lo) - 1u));
  }
  static DWNCHW_INLINE V maskz_loadu(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static DWNCHW_INLINE Mask mask_from_bits(uint32_t bits) { return __mmask16(bits); }
  static DWNCHW_INLINE void store_first(float* p, V v, int64_t count) { _mm512_mask_storeu_ps(p, range(0, count), v); }
  static DWNCHW_INLINE void deinterleave(V a, V b, V& even, V& odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    even = _mm512_permutex2var_ps(a, ie, b);
    odd = _mm512_permutex2var_ps(a, io, b);
  }
  static DWNCHW_INLINE V gather(const float* p, int64_t off, int64_t step, int64_t n) {
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(int(off)), _mm512_mullo_epi32(iota, _mm512_set1_epi32(int(step))));
    const __mmask16 ok = _mm512_cmpge_epi32_mask(idx, _mm512_setzero_si512()) &
                         _mm512_cmplt_epi32_mask(idx, _mm512_set1_epi32(int(n)));
    return _mm512_mask_i32gather_ps(zero(), ok, idx, p, 4);
  }
};
#endif

// row[start + l] for the N lanes; Edge: lanes outside [0, w) read as zero, without touching them.
template <class O, bool Edge>
DWNCHW_INLINE typename O::V load_cols(const float* row, int64_t start, int64_t w) {
  if constexpr (Edge)
    return O::maskz_loadu(O::range(-start, w - start), row + start);
  else
    return O::loadu(row + start);
}

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
  DWNCHW_INLINE typename O::V apply(typename O::V v) const {
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
DWNCHW_INLINE void static_for_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int Count, class F>
DWNCHW_INLINE void static_for(F&& f) {
  static_for_impl(f, std::make_integer_sequence<int, Count>{});
}

// ------------------------------------------------------------------ column blocks
// The column blocks of an output row: full vectors, the last one moved back to end at wo
// (overlapping its neighbour) so that only rows narrower than a vector store fewer lanes. Load
// l of a block starts at input column col*s - pad_left + offset(l); an edge block has a load
// that leaves [0, w), and carries each load's lane mask (bit i: lane i inside the row).
constexpr int kMaxLoads = 8;
struct ColBlock {
  int64_t col = 0, count = 0;
  bool edge = false;
  uint32_t bits[kMaxLoads] = {};
};

template <class O, class Offset, class Lanes>
void plan_blocks(int64_t wo, int64_t w, int64_t s, int64_t pad_left, int n_loads, Offset&& offset, Lanes&& lanes,
                 std::vector<ColBlock>& out) {
  out.clear();
  auto add = [&](int64_t col, int64_t count) {
    ColBlock b;
    b.col = col, b.count = count;
    for (int l = 0; l < n_loads; ++l) {
      // Load l reads lanes [0, lanes(l)) from column col*s - pad_left + offset(l).
      const int64_t start = col * s - pad_left + offset(l);
      const int64_t lo = std::clamp<int64_t>(-start, 0, O::N);
      const int64_t hi = std::clamp<int64_t>(std::min<int64_t>(w - start, lanes(l)), 0, O::N);
      b.bits[l] = hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
      b.edge |= b.bits[l] != (1u << lanes(l)) - 1u;
    }
    out.push_back(b);
  };
  if (wo < O::N) return add(0, wo);
  int64_t col = 0;
  for (; col + O::N <= wo; col += O::N) add(col, O::N);
  if (col < wo) add(wo - O::N, O::N);
}

// What a kernel sees of one input channel.
struct Plane {
  const float* x;      // the channel's h x w input
  const float* zeros;  // a zero row of w floats, for rows above/below the image
  int64_t h, w, pad_top, pad_left;
  const ColBlock* blocks;
  int64_t n_blocks;
  DWNCHW_INLINE const float* row(int64_t ih) const { return uint64_t(ih) < uint64_t(h) ? x + ih * w : zeros; }
};

template <class O>
DWNCHW_INLINE void store(float* p, typename O::V v, int64_t count) {
  if (count == O::N)
    O::storeu(p, v);
  else
    O::store_first(p, v, count);
}

// ------------------------------------------------------------------ fixed-shape kernels
// KH x KW at stride S (both axes), dilation 1, tiles of up to R output rows. Each output row
// sums its taps in `Split` accumulators (kernel rows alternate between them), so that R*Split
// independent FMA chains hide the FMA latency when a row is a single column block.
template <int KH, int KW, int S, int R, int Split>
struct Fixed {
  static_assert(S == 1 || S == 2, "stride 1 or 2");
  static_assert(KW - 1 <= 8, "tap shifts stay within the next vector");
  // How a row's taps are loaded. With lane shifts (O::kShifts, AVX-512): stride 1 loads two
  // vectors A, B and shifts tap j's out of them (valignd); stride 2 loads three, splits even/odd
  // columns of the first two and shifts the later taps' in from the third (vpermt2ps), of which
  // only KW - 2 lanes are read. Without: stride 1 loads each tap's vector (unaligned); stride 2
  // loads pairs at even offsets 0, 2, .. and splits each into taps 2q (even) and 2q + 1 (odd).
  template <class O>
  static constexpr int loads() {
    return O::kShifts ? (S == 1 ? 2 : 3) : (S == 1 ? KW : 2 * ((KW + 1) / 2));
  }
  template <class O>
  static constexpr int64_t offset(int l) {
    return O::kShifts ? l * O::N : S == 1 ? l : (l / 2) * 2 + (l % 2) * O::N;
  }
  template <class O>
  static constexpr int lanes(int l) { return O::kShifts && S == 2 && l == 2 ? KW - 2 : O::N; }

  template <class O>
  static void plan(const ConvGeometry& g, std::vector<ColBlock>& out) {
    static_assert(loads<O>() <= kMaxLoads, "too many loads per row");
    plan_blocks<O>(g.wo, g.w, S, g.pad_left, loads<O>(), [](int l) { return offset<O>(l); },
                   [](int l) { return lanes<O>(l); }, out);
  }

  // One column block of RT output rows.
  template <class O, Act A, int RT, bool Edge>
  static DWNCHW_INLINE void block(const float* const* rows, const ColBlock& b, int64_t pad_left,
                                  const typename O::V* wv, typename O::V bv, float* y, int64_t wo,
                                  const Epilogue<O>& epi) {
    using V = typename O::V;
    constexpr int T = (RT - 1) * S + KH;  // input rows of the tile
    constexpr int NL = loads<O>();
    typename O::Mask mk[NL];
    static_for<NL>([&](auto l) DWNCHW_LAMBDA_INLINE {
      if constexpr (Edge)
        mk[l.value] = O::mask_from_bits(b.bits[l.value]);
      else if constexpr (lanes<O>(l.value) < O::N)
        mk[l.value] = O::mask_from_bits((1u << lanes<O>(l.value)) - 1u);
    });
    auto load = [&](const float* row, auto l) DWNCHW_LAMBDA_INLINE {
      constexpr int L = decltype(l)::value;
      if constexpr (Edge || lanes<O>(L) < O::N)
        return O::maskz_loadu(mk[L], row + offset<O>(L));
      else
        return O::loadu(row + offset<O>(L));
    };
    const int64_t first = b.col * S - pad_left;
    V acc[RT][Split];
    static_for<RT>([&](auto r) DWNCHW_LAMBDA_INLINE {
      acc[r.value][0] = bv;
      static_for<Split - 1>([&](auto k) DWNCHW_LAMBDA_INLINE { acc[r.value][k.value + 1] = O::zero(); });
    });
    // Tap (i, j) of output row r reads tile row r*S + i.
    auto feed = [&](auto tr, auto j, V xv) DWNCHW_LAMBDA_INLINE {
      constexpr int TR = decltype(tr)::value, J = decltype(j)::value;
      static_for<RT>([&](auto r) DWNCHW_LAMBDA_INLINE {
        constexpr int i = TR - r.value * S;
        if constexpr (i >= 0 && i < KH) acc[r.value][i % Split] = O::fmadd(xv, wv[i * KW + J], acc[r.value][i % Split]);
      });
    };
    static_for<T>([&](auto tr) DWNCHW_LAMBDA_INLINE {
      const float* row = rows[tr.value] + first;
      using I0 = std::integral_constant<int, 0>;
      using I1 = std::integral_constant<int, 1>;
      using I2 = std::integral_constant<int, 2>;
      if constexpr (O::kShifts && S == 1) {
        const V a = load(row, I0{}), b2 = load(row, I1{});
        static_for<KW>([&](auto j) DWNCHW_LAMBDA_INLINE { feed(tr, j, O::template shift<decltype(j)::value>(a, b2)); });
      } else if constexpr (O::kShifts) {
        V even, odd;
        O::deinterleave(load(row, I0{}), load(row, I1{}), even, odd);
        const V c = load(row, I2{});
        static_for<KW>([&](auto j) DWNCHW_LAMBDA_INLINE {
          constexpr int J = decltype(j)::value;
          feed(tr, j, O::template shift_in_pairs<J / 2, J % 2>(J % 2 ? odd : even, c));
        });
      } else if constexpr (S == 1) {
        static_for<KW>([&](auto j) DWNCHW_LAMBDA_INLINE { feed(tr, j, load(row, j)); });
      } else {
        static_for<(KW + 1) / 2>([&](auto q) DWNCHW_LAMBDA_INLINE {
          constexpr int j = 2 * q.value;
          V even, odd;
          O::deinterleave(load(row, std::integral_constant<int, j>{}), load(row, std::integral_constant<int, j + 1>{}),
                          even, odd);
          feed(tr, std::integral_constant<int, j>{}, even);
          if constexpr (j + 1 < KW) feed(tr, std::integral_constant<int, j + 1>{}, odd);
        });
      }
    });
    static_for<RT>([&](auto r) DWNCHW_LAMBDA_INLINE {
      V sum = acc[r.value][0];
      static_for<Split - 1>([&](auto k) DWNCHW_LAMBDA_INLINE { sum = O::add(sum, acc[r.value][k.value + 1]); });
      store<O>(y + r.value * wo + b.col, epi.template apply<A>(sum), b.count);
    });
  }

  // RT output rows from output row oh.
  template <class O, Act A, int RT>
  static DWNCHW_INLINE void tile(const Plane& p, int64_t oh, const typename O::V* wv, typename O::V bv, float* yc,
                                 int64_t wo, const Epilogue<O>& epi) {
    constexpr int T = (RT - 1) * S + KH;
    const float* rows[T];
    const int64_t ih0 = oh * S - p.pad_top;
    static_for<T>([&](auto t) DWNCHW_LAMBDA_INLINE { rows[t.value] = p.row(ih0 + t.value); });
    float* y = yc + oh * wo;
    for (int64_t i = 0; i < p.n_blocks; ++i) {
      const ColBlock& b = p.blocks[i];
      if (b.edge)
        block<O, A, RT, true>(rows, b, p.pad_left, wv, bv, y, wo, epi);
      else
        block<O, A, RT, false>(rows, b, p.pad_left, wv, bv, y, wo, epi);
    }
  }

  // Output rows [oh_begin, oh_end) of one output channel; its weights stay in registers.
  template <class O, Act A>
  static void channel(const Plane& p, const float* wt, float bias, float* yc, int64_t oh_begin, int64_t oh_end,
                      const Epilogue<O>& epi, const ConvGeometry& g) {
    using V = typename O::V;
    V wv[KH * KW];
    static_for<KH * KW>([&](auto k) DWNCHW_LAMBDA_INLINE { wv[k.value] = O::set1(wt[k.value]); });
    const V bv = O::set1(bias);
    int64_t oh = oh_begin;
    for (; oh + R <= oh_end; oh += R) tile<O, A, R>(p, oh, wv, bv, yc, g.wo, epi);
    const int64_t rest = oh_end - oh;
    static_for<R - 1>([&](auto r) DWNCHW_LAMBDA_INLINE {
      if (rest == r.value + 1) tile<O, A, r.value + 1>(p, oh, wv, bv, yc, g.wo, epi);
    });
  }
};

#if defined(__AVX512F__)
// Stride 2 onto maps at most 8 wide on AVX-512: two output rows per vector (lanes 0-7 row r,
// lanes 8-15 row r + 1), so a 7-wide output fills 14 of 16 lanes instead of 7. Each tap's
// vector is two masked loads of 16 columns, from input rows a and a + 2, whose even columns one
// permute gathers. A tile holds R such row pairs. (At stride 1 the single-row kernel wins: it
// needs one load per row where this needs two per tap.)
template <int KH, int KW, int R>
struct Paired {
  static constexpr int S = 2;
  static_assert(KW <= kMaxLoads, "one mask per tap column");
  static constexpr int kLanes = 16;  // columns one load reads from one row

  template <class O>
  static void plan(const ConvGeometry& g, std::vector<ColBlock>& out) {
    ColBlock b;
    b.count = g.wo;
    for (int j = 0; j < KW; ++j) {
      const int64_t start = j - g.pad_left;
      const int64_t lo = std::clamp<int64_t>(-start, 0, kLanes), hi = std::clamp<int64_t>(g.w - start, 0, kLanes);
      b.bits[j] = hi > lo ? ((1u << hi) - 1u) & ~((1u << lo) - 1u) : 0u;
    }
    out.assign(1, b);
  }

  // VT row pairs: output rows oh + 2v (low half) and oh + 2v + 1 (high half, if < oh + rows).
  template <Act A, int VT>
  static DWNCHW_INLINE void tile(const Plane& p, int64_t oh, int64_t rows, const __m512* wv, __m512 bv, float* yc,
                                 int64_t wo, const Epilogue<Zmm>& epi) {
    constexpr int T = (VT - 1) * 2 * S + KH;  // row pairs read
    const ColBlock& b = p.blocks[0];
    const int64_t ih0 = oh * S - p.pad_top;
    __m512 acc[VT][2];
    static_for<VT>([&](auto v) DWNCHW_LAMBDA_INLINE { acc[v.value][0] = bv, acc[v.value][1] = Zmm::zero(); });
    const __m512i even_pairs = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    static_for<T>([&](auto t) DWNCHW_LAMBDA_INLINE {
      const float* ra = p.row(ih0 + t.value) - p.pad_left;
      const float* rb = p.row(ih0 + t.value + S) - p.pad_left;
      static_for<KW>([&](auto j) DWNCHW_LAMBDA_INLINE {
        constexpr int J = decltype(j)::value;
        const __mmask16 m = __mmask16(b.bits[J]);
        const __m512 xv =
            _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(m, ra + J), even_pairs, _mm512_maskz_loadu_ps(m, rb + J));
        static_for<VT>([&](auto v) DWNCHW_LAMBDA_INLINE {
          constexpr int i = decltype(t)::value - v.value * 2 * S;
          if constexpr (i >= 0 && i < KH) acc[v.value][i % 2] = Zmm::fmadd(xv, wv[i * KW + J], acc[v.value][i % 2]);
        });
      });
    });
    const __mmask16 low = __mmask16((1u << wo) - 1u);
    static_for<VT>([&](auto v) DWNCHW_LAMBDA_INLINE {
      const __m512 out = epi.template apply<A>(Zmm::add(acc[v.value][0], acc[v.value][1]));
      float* y = yc + (oh + 2 * v.value) * wo;
      _mm512_mask_storeu_ps(y, low, out);
      if (2 * v.value + 1 < rows) _mm512_mask_storeu_ps(y + wo - 8, __mmask16(low << 8), out);
    });
  }

  template <class O, Act A>
  static void channel(const Plane& p, const float* wt, float bias, float* yc, int64_t oh_begin, int64_t oh_end,
                      const Epilogue<O>& epi, const ConvGeometry& g) {
    __m512 wv[KH * KW];
    static_for<KH * KW>([&](auto k) DWNCHW_LAMBDA_INLINE { wv[k.value] = Zmm::set1(wt[k.value]); });
    const __m512 bv = Zmm::set1(bias);
    int64_t oh = oh_begin;
    for (; oh + 2 * R <= oh_end; oh += 2 * R) tile<A, R>(p, oh, 2 * R, wv, bv, yc, g.wo, epi);
    const int64_t rest = oh_end - oh;
    static_for<R>([&](auto v) DWNCHW_LAMBDA_INLINE {
      if ((rest + 1) / 2 == v.value + 1 && rest > 0) tile<A, v.value + 1>(p, oh, rest, wv, bv, yc, g.wo, epi);
    });
  }
};
#endif

// ------------------------------------------------------------------ generic kernel
// Any kernel size and dilation; stride SW along the width (1, 2, or 0: any, gathered). One
// output row at a time, two accumulator chains, weights broadcast per tap, edge masks computed
// per load.
template <int SW>
struct Generic {
  template <class O>
  static void plan(const ConvGeometry& g, std::vector<ColBlock>& out) {
    // The extreme loads of a block: the first tap's and the last tap's (+N for stride 2's pair).
    const int64_t last = (g.kw - 1) * g.dw + (SW == 2 ? O::N : 0);
    plan_blocks<O>(g.wo, g.w, g.sw, g.pad_left, 2, [&](int l) { return l == 0 ? int64_t(0) : last; },
                   [](int) { return O::N; }, out);
    if (SW == 0)
      for (ColBlock& b : out) b.edge = true;  // gathered: masked whatever the block
  }

  template <class O, bool Edge>
  static DWNCHW_INLINE typename O::V tap(const float* row, int64_t start, int64_t sw, int64_t w) {
    if constexpr (SW == 1) {
      return load_cols<O, Edge>(row, start, w);
    } else if constexpr (SW == 2) {
      typename O::V even, odd;
      O::deinterleave(load_cols<O, Edge>(row, start, w), load_cols<O, Edge>(row, start + O::N, w), even, odd);
      return even;
    } else {
      return O::gather(row, start, sw, w);
    }
  }

  template <class O, Act A, bool Edge>
  static DWNCHW_INLINE void block(const Plane& p, const float* const* rows, const ColBlock& b, const float* wt, float bias,
                                  float* y, const Epilogue<O>& epi, const ConvGeometry& g) {
    using V = typename O::V;
    const int64_t kh = g.kh, kw = g.kw, dw = g.dw, sw = g.sw, w = p.w;
    const int64_t first = b.col * sw - p.pad_left;
    V acc0 = O::set1(bias), acc1 = O::zero();
    for (int64_t i = 0; i < kh; ++i) {
      const float* row = rows[i];
      const float* wi = wt + i * kw;
      int64_t j = 0;
      for (; j + 1 < kw; j += 2) {
        acc0 = O::fmadd(tap<O, Edge>(row, first + j * dw, sw, w), O::set1(wi[j]), acc0);
        acc1 = O::fmadd(tap<O, Edge>(row, first + (j + 1) * dw, sw, w), O::set1(wi[j + 1]), acc1);
      }
      if (j < kw) acc0 = O::fmadd(tap<O, Edge>(row, first + j * dw, sw, w), O::set1(wi[j]), acc0);
    }
    store<O>(y + b.col, epi.template apply<A>(O::add(acc0, acc1)), b.count);
  }

  template <class O, Act A>
  static void channel(const Plane& p, const float* wt, float bias, float* yc, int64_t oh_begin, int64_t oh_end,
                      const Epilogue<O>& epi, const ConvGeometry& g) {
    const float* few[16];
    std::vector<const float*> many(g.kh > 16 ? size_t(g.kh) : 0);
    const float** rows = g.kh > 16 ? many.data() : few;
    for (int64_t oh = oh_begin; oh < oh_end; ++oh) {
      for (int64_t i = 0; i < g.kh; ++i) rows[i] = p.row(oh * g.sh - p.pad_top + i * g.dh);
      float* y = yc + oh * g.wo;
      for (int64_t k = 0; k < p.n_blocks; ++k) {
        const ColBlock& b = p.blocks[k];
        if (b.edge)
          block<O, A, true>(p, rows, b, wt, bias, y, epi, g);
        else
          block<O, A, false>(p, rows, b, wt, bias, y, epi, g);
      }
    }
  }
};

// ------------------------------------------------------------------ the driver
// A row of zeros at least n floats long, shared by the calls of one thread.
inline const float* zero_row(int64_t n) {
  static thread_local std::vector<float> zeros;
  if (zeros.size() < size_t(n)) zeros.assign(size_t(n), 0.0f);
  return zeros.data();
}

template <class O, class K, Act A>
void run_act(const ConvGeometry& g, const WorkRange& wr, const float* x, const float* w, const float* bias,
             const Activation& act, float* y) {
  static thread_local std::vector<ColBlock> blocks;
  K::template plan<O>(g, blocks);
  const int64_t m = g.multiplier();
  const int64_t taps = g.kh * g.kw;
  Plane p{x, zero_row(g.w), g.h, g.w, g.pad_top, g.pad_left, blocks.data(), int64_t(blocks.size())};
  const Epilogue<O> epi(act);
  for (int64_t c = wr.oc_begin / m; c < wr.oc_end / m; ++c) {
    p.x = x + c * g.h * g.w;
    for (int64_t j = 0; j < m; ++j) {
      const int64_t oc = c * m + j;
      K::template channel<O, A>(p, w + oc * taps, bias ? bias[oc] : 0.0f, y + oc * g.ho * g.wo, wr.oh_begin,
                                wr.oh_end, epi, g);
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

template <class O>
void run_generic(const ConvGeometry& g, const WorkRange& wr, const float* x, const float* w, const float* bias,
                 const Activation& act, float* y) {
  if (g.sw == 1) return run<O, Generic<1>>(g, wr, x, w, bias, act, y);
  if (g.sw == 2) return run<O, Generic<2>>(g, wr, x, w, bias, act, y);
  run<O, Generic<0>>(g, wr, x, w, bias, act, y);
}

#undef DWNCHW_INLINE
#undef DWNCHW_LAMBDA_INLINE

}  // namespace
}  // namespace dwnchw
}  // namespace dsconv::detail
