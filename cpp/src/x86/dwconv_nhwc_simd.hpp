// Depthwise convolution in NHWC on x86 SIMD (AVX2+FMA, AVX-512F): one template, instantiated
// per ISA and per kernel shape in x86/avx2/dwconv_*_nhwc_avx2.cpp and
// x86/avx512/dwconv_*_nhwc_avx512.cpp.
//
// Design (channels are innermost, so a vector holds V consecutive output channels):
// - Packed weights: [kh*kw][Cp] with Cp = cout rounded up to V (zeros in the padding), so one
//   tap of one channel block is one aligned vector. Bias stays separate (packing gets none).
// - Loop order: row band (sized so the band's input, all channels, stays in L2) > channel
//   block > output row > tile of T output pixels along the width. Within a band, a channel
//   block's kh input rows stay in L1 while the block walks down the rows.
// - A tile keeps T accumulators in registers. With the kernel width, stride and dilation known
//   at compile time, each input column of the tile's footprint is loaded once and feeds every
//   accumulator that uses it (up to kw FMAs per load); the generic path loads per tap.
// - Rows of the kernel that fall in the padding are skipped (the row loop runs over the valid
//   range). Columns: output pixels whose taps are all inside the input run the direct tiles;
//   the few edge pixels run "edge" tiles whose out-of-range taps are masked loads with an empty
//   mask (a zero column, no memory access, no branch).
// - Channel tails use masked loads/stores; depth multiplier m > 1 loads the input channels a
//   block needs and spreads them over the lanes with one permute (lane l <- channel (oc+l)/m).
// - Bias and activation are applied to the accumulators before the store.
// - 3x3 at stride 2 computes output rows in pairs (kPairRows): the input row both read is
//   loaded once.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <utility>

#include "kernels/kernel_types.hpp"

// GCC 12 flags the undefined pass-through operand inside _mm512_max_ps/_mm512_min_ps.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace dsconv::detail::dwnhwc {

// ------------------------------------------------------------------ entry points, per ISA
#define DSCONV_DWNHWC_KERNEL(name)                                                                   \
  void name(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias, \
            const Activation& act, float* y)
DSCONV_DWNHWC_KERNEL(avx2_3x3s1);
DSCONV_DWNHWC_KERNEL(avx2_3x3s2);
DSCONV_DWNHWC_KERNEL(avx2_5x5s1);
DSCONV_DWNHWC_KERNEL(avx2_5x5s2);
DSCONV_DWNHWC_KERNEL(avx2_7x7s1);
DSCONV_DWNHWC_KERNEL(avx2_generic);
DSCONV_DWNHWC_KERNEL(avx512_3x3s1);
DSCONV_DWNHWC_KERNEL(avx512_3x3s2);
DSCONV_DWNHWC_KERNEL(avx512_5x5s1);
DSCONV_DWNHWC_KERNEL(avx512_5x5s2);
DSCONV_DWNHWC_KERNEL(avx512_7x7s1);
DSCONV_DWNHWC_KERNEL(avx512_generic);

// ------------------------------------------------------------------ packing (any V)
inline int64_t padded_channels(int64_t cout, int V) { return (cout + V - 1) / V * V; }

inline size_t packed_size(const WeightDims& d, int V) {
  return size_t(d.kh * d.kw * padded_channels(d.cout, V));
}

// PyTorch (cout, 1, kh, kw) -> [kh*kw][Cp].
inline void pack(const WeightDims& d, int V, const float* w, float* out) {
  const int64_t taps = d.kh * d.kw, cp = padded_channels(d.cout, V);
  for (int64_t t = 0; t < taps; ++t) {
    float* o = out + t * cp;
    for (int64_t c = 0; c < d.cout; ++c) o[c] = w[c * taps + t];
    std::fill(o + d.cout, o + cp, 0.0f);
  }
}

// ------------------------------------------------------------------ ISA traits
#if defined(__AVX512F__)
struct Avx512 {
  static constexpr int V = 16;
  using Vec = __m512;
  using Mask = __mmask16;
  using Idx = __m512i;
  static Mask mask(int64_t n) { return Mask((1u << n) - 1u); }  // n in [0, 16]
  static Mask lanes(int64_t lo, int64_t hi) { return Mask(mask(hi) & ~mask(lo)); }  // [lo, hi)
  static Mask mask_if(Mask m, bool on) { return Mask(m & -unsigned(on)); }
  static Mask mask_and(Mask a, Mask b) { return Mask(a & b); }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set1(float v) { return _mm512_set1_ps(v); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static Vec load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static Vec load_merge(Vec v, const float* p, Mask m) { return _mm512_mask_loadu_ps(v, m, p); }  // lanes m from p
  static void store(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, Vec v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  // NaN passes through: max/min return the second operand when either is NaN.
  static Vec max(Vec lo, Vec v) { return _mm512_max_ps(lo, v); }
  static Vec min(Vec hi, Vec v) { return _mm512_min_ps(hi, v); }
  // Lane l takes loaded lane (first + l) / m - first / m.
  static Idx lane_map(int64_t first, int64_t m) {
    alignas(64) int32_t i[V];
    for (int l = 0; l < V; ++l) i[l] = int32_t((first + l) / m - first / m);
    return _mm512_load_si512(i);
  }
  static Vec permute(Vec v, Idx i) { return _mm512_permutexvar_ps(i, v); }
};
#endif

#if defined(__AVX2__) && defined(__FMA__)
struct Avx2 {
  static constexpr int V = 8;
  using Vec = __m256;
  using Mask = __m256i;
  using Idx = __m256i;
  static Mask mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Mask lanes(int64_t lo, int64_t hi) { return _mm256_andnot_si256(mask(lo), mask(hi)); }  // [lo, hi)
  static Mask mask_if(Mask m, bool on) { return _mm256_and_si256(m, _mm256_set1_epi32(-int(on))); }
  static Mask mask_and(Mask a, Mask b) { return _mm256_and_si256(a, b); }
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float v) { return _mm256_set1_ps(v); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static Vec load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static Vec load_merge(Vec v, const float* p, Mask m) {
    return _mm256_blendv_ps(v, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, Vec v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec max(Vec lo, Vec v) { return _mm256_max_ps(lo, v); }
  static Vec min(Vec hi, Vec v) { return _mm256_min_ps(hi, v); }
  static Idx lane_map(int64_t first, int64_t m) {
    alignas(32) int32_t i[V];
    for (int l = 0; l < V; ++l) i[l] = int32_t((first + l) / m - first / m);
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(i));
  }
  static Vec permute(Vec v, Idx i) { return _mm256_permutevar8x32_ps(v, i); }
};
#endif

// ------------------------------------------------------------------ kernel shapes
// KH, KW, SW, DW: kernel size, stride and dilation along the width known at compile time (0:
// read them from the geometry). T: output pixels per tile. WREG: hold all kh*kw weight vectors
// of a channel block in registers across a row (3x3); otherwise each tile loads a kernel row's
// kw weights as it reaches it (L1 hits).
template <int KH_, int KW_, int SW_, int DW_, int T_, bool WREG_>
struct Shape {
  static constexpr int KH = KH_, KW = KW_, SW = SW_, DW = DW_, T = T_;
  static constexpr bool fixed = KW_ > 0, WREG = WREG_;
};

// Runtime geometry, in floats.
struct Geo {
  int64_t kh, kw, sh, sw, dh, dw, pt, pl, H, W, C, Co, wo, xrow, yrow, rstep;  // rstep = dh * xrow
};

// Output row oh of a fixed shape (dilation 1, stride SW, KH kernel rows) as the masked tiles
// read it: kernel rows [i0, i1) fall inside the input (none: the output is the epilogue of the
// bias), x points at input column -pad_left of input row oh * SW - pt + i0, full when all KH do.
struct MaskedRow {
  int64_t i0, i1;
  const float* x;
  bool full;
};

template <int SW, int KH>
inline MaskedRow masked_row(const Geo& g, const float* x, int64_t oh) {
  const int64_t ih0 = oh * SW - g.pt;
  int64_t i0 = std::max<int64_t>(0, -ih0), i1 = std::min<int64_t>(KH, g.H - ih0);
  if (i0 >= i1) i0 = i1 = 0;
  return {i0, i1, x + (i0 < i1 ? (ih0 + i0) * g.xrow : 0) - g.pl * g.C, i0 == 0 && i1 == KH};
}

template <class I>
struct Block {
  using Vec = typename I::Vec;
  using Mask = typename I::Mask;
  Vec bias;
  Mask mask;     // output lanes to store (channel tails, and the lanes before an aligned start)
  Mask in_mask;  // m > 1: input lanes to load (the channels the block reads)
  typename I::Idx idx;  // m > 1: lane -> loaded input lane
  const float* w;       // this block's weights: tap t at w + t * ws
  int64_t ws;
  Mask wmask;    // a wrapped block (Kernel WRAP): lanes that are the tail block's, at x, y + wrap
  int64_t wrap;
};

template <class I>
struct Epilogue {
  using Vec = typename I::Vec;
  Vec lo, hi;    // clamp bounds (None: -inf..inf, ReLU: 0..inf, ReLU6: 0..6, Clamp)
  bool hswish;   // HardSwish: v * clamp(v + 3, 0, 6) / 6
  explicit Epilogue(const Activation& a) {
    const float inf = __builtin_inff();
    float l = -inf, h = inf;
    switch (a.kind) {
      case ActivationKind::None: break;
      case ActivationKind::ReLU: l = 0.0f; break;
      case ActivationKind::ReLU6: l = 0.0f, h = 6.0f; break;
      case ActivationKind::HardSwish: l = 0.0f, h = 6.0f; break;
      case ActivationKind::Clamp: l = a.lo, h = a.hi; break;
    }
    lo = I::set1(l), hi = I::set1(h);
    hswish = a.kind == ActivationKind::HardSwish;
  }
  // The clamp, and HardSwish with the bounds 0..6 and its constants passed in: callers keep
  // all of them in registers across a tile's stores.
  static Vec clamp(Vec v, Vec lo, Vec hi) { return I::min(hi, I::max(lo, v)); }
  static Vec hard_swish(Vec v, Vec lo, Vec hi, Vec three, Vec sixth) {
    return I::mul(I::mul(v, clamp(I::add(v, three), lo, hi)), sixth);
  }
};

// Calls f(std::integral_constant<int, n>) for a runtime n in [1, N].
template <int N, class F>
inline void with_width(int64_t n, F&& f) {
  if constexpr (N >= 1) {
    if (n == N) return f(std::integral_constant<int, N>{});
    with_width<N - 1>(n, f);
  }
}

// One tile of a row: pixels [ow, ow + n), and the SKIP pattern of its footprint (Kernel::skip_of;
// -1: it reads its columns through the column masks).
struct TileSpec {
  int64_t ow;
  int n, skip;
};

// A row of wo pixels in the fewest tiles of at most T pixels, of near-equal widths (no 1-pixel
// border tile, a single chain of kh*kw dependent FMAs, and no short remainder); SKIP 0.
// Returns the number of tiles.
template <int T>
int64_t plan_row_tiles(int64_t wo, TileSpec* tiles) {
  const int64_t nt = (wo + T - 1) / T, base = wo / nt, wide = wo % nt;  // `wide` tiles of base+1
  for (int64_t k = 0, ow = 0; k < nt; ++k) {
    tiles[k] = TileSpec{ow, int(base + (k < wide)), 0};
    ow += tiles[k].n;
  }
  return nt;
}

// MASKED: the block's lanes are not all real channels (b.mask). MULT: depth multiplier > 1.
// WRAP (with MASKED): a realigned first block that also carries the last block's lanes (b.wmask,
// read and written b.wrap floats further on; see wrap_block).
template <class I, class S, bool MASKED, bool MULT, bool WRAP = false>
struct Kernel {
  using Vec = typename I::Vec;
  using Mask = typename I::Mask;
  static constexpr int V = I::V;
  static constexpr int KH = S::KH, KW = S::KW;

  static Vec load_x(const float* p, const Block<I>& b) {
    if constexpr (WRAP) return I::load_merge(I::load(p, b.mask), p + b.wrap, b.wmask);
    else if constexpr (MULT) return I::permute(I::load(p, b.in_mask), b.idx);
    else if constexpr (MASKED) return I::load(p, b.mask);
    else return I::load(p);
  }
  // An edge tap: an empty mask when the column is outside the input (a zero column).
  static Vec load_x(const float* p, const Block<I>& b, bool inside) {
    if constexpr (WRAP)
      return I::load_merge(I::load(p, I::mask_if(b.mask, inside)), p + b.wrap, I::mask_if(b.wmask, inside));
    else if constexpr (MULT) return I::permute(I::load(p, I::mask_if(b.in_mask, inside)), b.idx);
    else if constexpr (MASKED) return I::load(p, I::mask_if(b.mask, inside));
    else return I::load(p, I::mask_if(I::mask(V), inside));
  }
  // A column of a border tile: cm is empty when the column lies in the padding.
  static Vec load_x(const float* p, const Block<I>& b, Mask cm) {
    if constexpr (WRAP)
      return I::load_merge(I::load(p, I::mask_and(b.mask, cm)), p + b.wrap, I::mask_and(b.wmask, cm));
    else if constexpr (MASKED) return I::load(p, I::mask_and(b.mask, cm));
    else return I::load(p, cm);
  }
  // Fixed shapes read a zero-padded copy of the block's weights; the generic shape reads the
  // packed buffer, masked where lanes are not channels.
  static Vec load_w(const float* p, const Block<I>& b) {
    if constexpr (MASKED && !S::fixed) return I::load(p, b.mask);
    else return I::load(p);
  }
  static void store_y(float* p, Vec v, const Block<I>& b) {
    if constexpr (WRAP) I::store(p, v, b.mask), I::store(p + b.wrap, v, b.wmask);
    else if constexpr (MASKED) I::store(p, v, b.mask);
    else I::store(p, v);
  }

  template <int T>
  static void start(const Block<I>& b, Vec (&acc)[T]) {
#pragma GCC unroll 32
    for (int t = 0; t < T; ++t) acc[t] = b.bias;
  }
  template <int T>
  static void finish(const Geo& g, const Block<I>& b, const Epilogue<I>& e, Vec (&acc)[T], float* yp) {
    // Locals, and one branch on the activation: a vector store may alias anything, so members
    // read between stores would be reloaded (and the branch retested) for every pixel.
    const int64_t Co = g.Co;
    const Vec lo = e.lo, hi = e.hi;
    if (e.hswish) {
      const Vec three = I::set1(3.0f), sixth = I::set1(1.0f / 6.0f);
#pragma GCC unroll 32
      for (int t = 0; t < T; ++t) store_y(yp + t * Co, Epilogue<I>::hard_swish(acc[t], lo, hi, three, sixth), b);
    } else {
#pragma GCC unroll 32
      for (int t = 0; t < T; ++t) store_y(yp + t * Co, Epilogue<I>::clamp(acc[t], lo, hi), b);
    }
  }

  // Footprint columns a tile may skip on each side: up to the "same" padding, KW / 2. A skip
  // pattern K counts them, K % (kMaxSkip + 1) on the left and K / (kMaxSkip + 1) on the right.
  // Skipping at compile time, not loading through an empty mask, matters beyond the saved
  // loads: a masked-off load still needs its address mapped, and when the padding columns of
  // the first (last) input row fall on an unmapped or protected page before (after) the
  // input, every such load takes a microcode assist (dw5x5 C1152 7x7: 15 -> 110 us).
  static constexpr int kMaxSkip = S::fixed ? KW / 2 : 0;
  static constexpr int kSkipPatterns = (kMaxSkip + 1) * (kMaxSkip + 1);
  static constexpr int skip_left(int k) { return k % (kMaxSkip + 1); }
  static constexpr int skip_right(int k) { return k / (kMaxSkip + 1); }

  // One kernel row of a fixed shape into T accumulators, weights wv[0..KW). Each column of
  // the tile's footprint is loaded once and feeds every accumulator that uses it; SKIP: the
  // footprint columns in the padding, whose taps are skipped.
  template <int T, bool EDGE, int SKIP = 0>
  static void row_fixed(const Geo& g, const Block<I>& b, const float* xr, const Vec* wv, const Mask* cm,
                        Vec (&acc)[T]) {
    constexpr int SW = S::SW, DW = S::DW;
    constexpr int F = (T - 1) * SW + (KW - 1) * DW + 1;  // footprint columns
    const int64_t C = g.C;
#pragma GCC unroll 64
    for (int q = 0; q < F; ++q) {
      if (q < skip_left(SKIP) || q >= F - skip_right(SKIP)) continue;
      Vec xv;
      if constexpr (EDGE) xv = load_x(xr + q * C, b, cm[q]);
      else xv = load_x(xr + q * C, b);
      // Keep the column in a register: otherwise GCC folds it into each FMA as a memory
      // operand, reloading it up to kw times and making the loop load-bound.
      asm("" : "+v"(xv));
#pragma GCC unroll 32
      for (int t = 0; t < T; ++t) {
        const int jd = q - t * SW;
        if (jd >= 0 && jd % DW == 0 && jd / DW < KW) acc[t] = I::fma(xv, wv[jd / DW], acc[t]);
      }
    }
  }

  // One kernel row (weights wr) into T accumulators.
  template <int T, bool EDGE = false, int SKIP = 0>
  static void row_any(const Geo& g, const Block<I>& b, const float* xr, const float* wr, const Mask* cm,
                      Vec (&acc)[T]) {
    if constexpr (S::fixed) {
      Vec wv[KW];
#pragma GCC unroll 16
      for (int j = 0; j < KW; ++j) wv[j] = load_w(wr + j * b.ws, b);
      row_fixed<T, EDGE, SKIP>(g, b, xr, wv, cm, acc);
    } else {
      const int64_t sC = g.sw * g.C, dC = g.dw * g.C;
      for (int64_t j = 0; j < g.kw; ++j, xr += dC) {
        const Vec wv = load_w(wr + j * b.ws, b);
#pragma GCC unroll 32
        for (int t = 0; t < T; ++t) acc[t] = I::fma(load_x(xr + t * sC, b), wv, acc[t]);
      }
    }
  }

  // T output pixels whose taps all lie inside the input, kernel rows [i0, i1). xr: input at
  // kernel row i0, the first pixel's first column, the block's first channel.
  template <int T, bool EDGE = false, int SKIP = 0>
  static void tile(const Geo& g, const Block<I>& b, const Epilogue<I>& e, const float* xr, int64_t i0,
                   int64_t i1, const Mask* cm, float* yp) {
    Vec acc[T];
    start<T>(b, acc);
    const int64_t kw = S::fixed ? KW : g.kw;
    for (int64_t i = i0; i < i1; ++i, xr += g.rstep) row_any<T, EDGE, SKIP>(g, b, xr, b.w + i * kw * b.ws, cm, acc);
    finish<T>(g, b, e, acc, yp);
  }

  // The same with every kernel row inside the input, rows unrolled; wv: all KH*KW weight
  // vectors when WV (else each kernel row loads its weights from the block's copy).
  template <int T, bool EDGE = false, int SKIP = 0, bool WV = S::WREG>
  static void tile_full(const Geo& g, const Block<I>& b, const Epilogue<I>& e, const float* xr, const Vec* wv,
                        const Mask* cm, float* yp) {
    Vec acc[T];
    start<T>(b, acc);
#pragma GCC unroll 8
    for (int i = 0; i < KH; ++i) {
      if constexpr (WV) row_fixed<T, EDGE, SKIP>(g, b, xr + i * g.rstep, wv + i * KW, cm, acc);
      else row_any<T, EDGE, SKIP>(g, b, xr + i * g.rstep, b.w + i * KW * b.ws, cm, acc);
    }
    finish<T>(g, b, e, acc, yp);
  }

  // T output pixels near the left/right border: taps outside the input read zero columns
  // (loads with an empty mask). xr: input at kernel row i0, column 0, the block's first
  // channel; col0: the input column of the first pixel's first tap (may be negative).
  template <int T>
  __attribute__((noinline)) static void edge_tile(const Geo& g, const Block<I>& b, const Epilogue<I>& e,
                                                  const float* xr, int64_t i0, int64_t i1, int64_t col0,
                                                  float* yp) {
    Vec acc[T];
    start<T>(b, acc);
    const int64_t C = g.C, W = g.W;
    if constexpr (S::fixed) {
      // Fixed shapes: one mask per footprint column, each column loaded once per kernel row.
      constexpr int SW = S::SW, DW = S::DW;
      constexpr int F = (T - 1) * SW + (KW - 1) * DW + 1;
      const float* wr = b.w + i0 * KW * b.ws;
      for (int64_t i = i0; i < i1; ++i, xr += g.rstep, wr += KW * b.ws) {
        Vec wv[KW];
#pragma GCC unroll 16
        for (int j = 0; j < KW; ++j) wv[j] = load_w(wr + j * b.ws, b);
#pragma GCC unroll 64
        for (int q = 0; q < F; ++q) {
          const int64_t col = col0 + q;
          const bool inside = uint64_t(col) < uint64_t(W);
          Vec xv = load_x(xr + (inside ? col : 0) * C, b, inside);
          asm("" : "+v"(xv));
#pragma GCC unroll 32
          for (int t = 0; t < T; ++t) {
            const int jd = q - t * SW;
            if (jd >= 0 && jd % DW == 0 && jd / DW < KW) acc[t] = I::fma(xv, wv[jd / DW], acc[t]);
          }
        }
      }
    } else {
      const int64_t kw = g.kw, sw = g.sw, dw = g.dw;
      const float* wr = b.w + i0 * kw * b.ws;
      for (int64_t i = i0; i < i1; ++i, xr += g.rstep) {
        for (int64_t j = 0; j < kw; ++j, wr += b.ws) {
          const Vec wv = load_w(wr, b);
#pragma GCC unroll 32
          for (int t = 0; t < T; ++t) {
            const int64_t col = col0 + t * sw + j * dw;
            const bool inside = uint64_t(col) < uint64_t(W);
            acc[t] = I::fma(load_x(xr + (inside ? col : 0) * C, b, inside), wv, acc[t]);
          }
        }
      }
    }
    finish<T>(g, b, e, acc, yp);
  }

  // Pixels [ow, end) in edge tiles of up to T.
  static void edge_span(const Geo& g, const Block<I>& b, const Epilogue<I>& e, const float* xr, int64_t i0,
                        int64_t i1, int64_t ow, int64_t end, float* yr) {
    constexpr int T = S::T;
    const int64_t sw = S::fixed ? S::SW : g.sw;
    for (; ow + T <= end; ow += T) edge_tile<T>(g, b, e, xr, i0, i1, ow * sw - g.pl, yr + ow * g.Co);
    if (ow < end)
      with_width<T - 1>(end - ow, [&](auto n) {
        edge_tile<decltype(n)::value>(g, b, e, xr, i0, i1, ow * sw - g.pl, yr + ow * g.Co);
      });
  }

  // The tile of n pixels from ow reads footprint columns [c0, c1]: the SKIP pattern that
  // leaves only columns inside the input, or -1 when more than kMaxSkip lie in the padding
  // on a side (it needs the column masks).
  static int skip_of(const Geo& g, int64_t ow, int64_t n) {
    const int64_t c0 = ow * S::SW - g.pl, c1 = c0 + (n - 1) * S::SW + (KW - 1) * S::DW;
    const int64_t l = std::max<int64_t>(0, -c0), r = std::max<int64_t>(0, c1 - (g.W - 1));
    if (l > kMaxSkip || r > kMaxSkip || c0 + l > c1 - r) return -1;
    return int(l + r * (kMaxSkip + 1));
  }
  // The index in kTileFns of a tile of n pixels with skip pattern k (-1: column masks).
  static int64_t tile_fn(int64_t n, int k) { return (n - 1) * (kSkipPatterns + 1) + k + 1; }

  // One output row of one channel block, fixed shapes with a column-mask table cm (entry q:
  // input column q - pad_left, empty outside the input), along the row's tile plan (the same
  // for every row, made once per call by run_blocks). Fixed shapes have dilation 1 and
  // stride sh == SW, so the valid kernel rows need no division.
  __attribute__((noinline)) static void row_masked(const Geo& g, const Block<I>& b, const Epilogue<I>& e,
                                                   const float* x, int64_t oh, float* y, const Mask* cm,
                                                   const TileSpec* tiles, int64_t ntiles) {
    constexpr int SW = S::SW;
    const MaskedRow row = masked_row<SW, KH>(g, x, oh);
    float* yr = y + oh * g.yrow;
    const TileFn* fns = tile_fns(row.full);
    for (int64_t k = 0; k < ntiles; ++k) {
      const int64_t ow = tiles[k].ow;
      fns[tile_fn(tiles[k].n, tiles[k].skip)](g, b, e, row.x + ow * SW * g.C, row.i0, row.i1, cm + ow * SW,
                                                     yr + ow * g.Co);
    }
  }

  // The tiles of row_masked, one function per width N, SKIP pattern K (-1: column masks) and
  // FULL (all kernel rows inside the input), called through a table: the arguments travel in
  // registers (a capturing lambda per tile went through a closure on the stack, and its loads
  // stalled on the stores that built it). Each kernel row loads its weights from the block's
  // L1 copy (measured faster than passing all KH*KW weight vectors through the stack).
  using TileFn = void (*)(const Geo&, const Block<I>&, const Epilogue<I>&, const float*, int64_t, int64_t,
                          const Mask*, float*);
  template <bool FULL, int N, int K>
  static void tile_entry(const Geo& g, const Block<I>& b, const Epilogue<I>& e, const float* xp, int64_t i0,
                         int64_t i1, const Mask* cm, float* yp) {
    constexpr bool EDGE = K < 0;
    constexpr int SK = EDGE ? 0 : K;
    if constexpr (FULL) tile_full<N, EDGE, SK, false>(g, b, e, xp, nullptr, EDGE ? cm : nullptr, yp);
    else tile<N, EDGE, SK>(g, b, e, xp, i0, i1, EDGE ? cm : nullptr, yp);
  }
  template <bool FULL>
  struct TileFns {
    static constexpr int P = kSkipPatterns + 1;
    TileFn f[S::T * P];
    template <int... Ns>
    constexpr explicit TileFns(std::integer_sequence<int, Ns...>) : f{&tile_entry<FULL, Ns / P + 1, Ns % P - 1>...} {}
  };
  template <bool FULL>
  static constexpr TileFns<FULL> kTileFns{std::make_integer_sequence<int, S::T * (kSkipPatterns + 1)>{}};
  // The tile table for rows whose kernel rows all lie inside the input (full) or not.
  static const TileFn* tile_fns(bool full) { return full ? kTileFns<true>.f : kTileFns<false>.f; }

  // Two output rows oh, oh + 1 of a narrow row (wo <= T / 2, one tile each) whose kernel rows
  // all lie inside the input, interleaved: twice the independent FMA chains of one row (a 7-wide
  // row alone has fewer chains than FMA latency x throughput), weights loaded once for both.
  __attribute__((noinline)) static void row_pair(const Geo& g, const Block<I>& b, const Epilogue<I>& e,
                                                 const float* x, int64_t oh, float* y, const Mask* cm) {
    pair_at(g, b, e, x + (oh * g.sh - g.pt) * g.xrow - g.pl * g.C, g.sh * g.xrow, y + oh * g.yrow, cm,
            skip_of(g, 0, g.wo));
  }
  // The pair of rows from the first row's input xr (kernel row 0, padded column 0) and the
  // second's at xr + xs, with the row's skip pattern (-1: the columns go through the mask
  // table cm).
  __attribute__((always_inline)) static void pair_at(const Geo& g, const Block<I>& b, const Epilogue<I>& e,
                                                     const float* xr, int64_t xs, float* yr, const Mask* cm,
                                                     int skip) {
    static_assert(S::WREG, "row pairs hold all weights in registers");
    Vec wv[KH * KW];
#pragma GCC unroll 64
    for (int t = 0; t < KH * KW; ++t) wv[t] = load_w(b.w + t * b.ws, b);
    auto pair = [&](auto w, auto k) {
      constexpr int N = decltype(w)::value, K = decltype(k)::value;
      constexpr bool EDGE = K < 0;
      Vec a0[N], a1[N];
      start<N>(b, a0);
      start<N>(b, a1);
#pragma GCC unroll 8
      for (int i = 0; i < KH; ++i) {
        row_fixed<N, EDGE, EDGE ? 0 : K>(g, b, xr + i * g.rstep, wv + i * KW, cm, a0);
        row_fixed<N, EDGE, EDGE ? 0 : K>(g, b, xr + xs + i * g.rstep, wv + i * KW, cm, a1);
      }
      finish<N>(g, b, e, a0, yr);
      finish<N>(g, b, e, a1, yr + g.yrow);
    };
    with_width<S::T / 2>(g.wo, [&](auto w) {
      with_width<kSkipPatterns + 1>(skip + 2, [&](auto k) { pair(w, std::integral_constant<int, decltype(k)::value - 2>{}); });
    });
  }

  // Staged rows (run_staged): the input rows sit in a scratch whose padding columns are zeros,
  // so every tile loads its columns directly. xr: the scratch row of kernel row i0 (i0 == i1:
  // no input row, the output is the epilogue of the bias).
  __attribute__((noinline)) static void row_staged(const Geo& g, const Block<I>& b, const Epilogue<I>& e,
                                                   const float* xr, int64_t i0, int64_t i1, float* yr,
                                                   const TileSpec* tiles, int64_t ntiles) {
    const TileFn* fns = tile_fns(i0 == 0 && i1 == KH);
    for (int64_t k = 0; k < ntiles; ++k) {
      const int64_t ow = tiles[k].ow;
      fns[tile_fn(tiles[k].n, 0)](g, b, e, xr + ow * S::SW * g.C, i0, i1, nullptr, yr + ow * g.Co);
    }
  }
  __attribute__((noinline)) static void row_pair_staged(const Geo& g, const Block<I>& b, const Epilogue<I>& e,
                                                        const float* xr, float* yr) {
    pair_at(g, b, e, xr, S::SW * g.rstep, yr, nullptr, 0);
  }

  // Row pairs at stride 2 (kPairRows): output rows oh and oh + 1 read KH + SW input rows, KH - SW
  // of them shared; a tile of N pixels of both rows loads each column of those rows once, and
  // the shared row's columns feed both rows' accumulators (3x3: 5 rows loaded for 2 output
  // rows, not 6). Each input row loads the kernel rows it meets (L1 hits) instead of holding all
  // KH*KW weights: AVX2 has 16 registers, and on AVX-512 holding them measured no faster.
  // xr: input row oh * SW - pt at the tile's first footprint column; SKIP as row_fixed's.
  template <int N, int SKIP>
  static void pair_tile(const Geo& g, const Block<I>& b, const Epilogue<I>& e, const float* xr, float* yr) {
    constexpr int SW = S::SW, F = (N - 1) * SW + KW;
    const int64_t C = g.C;
    Vec a0[N], a1[N];
    start<N>(b, a0);
    start<N>(b, a1);
#pragma GCC unroll 8
    for (int i = 0; i < KH + SW; ++i) {
      const float* xi = xr + i * g.rstep;
      Vec w0[KW], w1[KW];  // kernel row i of the upper output row, i - SW of the lower
#pragma GCC unroll 16
      for (int j = 0; j < KW; ++j) {
        if (i < KH) w0[j] = load_w(b.w + (i * KW + j) * b.ws, b);
        if (i >= SW) w1[j] = load_w(b.w + ((i - SW) * KW + j) * b.ws, b);
      }
#pragma GCC unroll 64
      for (int q = 0; q < F; ++q) {
        if (q < skip_left(SKIP) || q >= F - skip_right(SKIP)) continue;
        Vec xv = load_x(xi + q * C, b);
        asm("" : "+v"(xv));  // one load per column (see row_fixed)
#pragma GCC unroll 32
        for (int t = 0; t < N; ++t) {
          const int jd = q - t * SW;
          if (jd < 0 || jd >= KW) continue;
          if (i < KH) a0[t] = I::fma(xv, w0[jd], a0[t]);
          if (i >= SW) a1[t] = I::fma(xv, w1[jd], a1[t]);
        }
      }
    }
    finish<N>(g, b, e, a0, yr);
    finish<N>(g, b, e, a1, yr + g.yrow);
  }
  // The pair tiles by width N in [1, kPairT] and SKIP pattern, called through a table (as kTileFns).
  static constexpr int kPairT = S::T / 2;
  using PairFn = void (*)(const Geo&, const Block<I>&, const Epilogue<I>&, const float*, float*);
  struct PairFns {
    PairFn f[kPairT * kSkipPatterns];
    template <int... Ns>
    constexpr explicit PairFns(std::integer_sequence<int, Ns...>)
        : f{&pair_tile<Ns / kSkipPatterns + 1, Ns % kSkipPatterns>...} {}
  };
  static constexpr PairFns kPairFns{std::make_integer_sequence<int, kPairT * kSkipPatterns>{}};

  // Output rows oh, oh + 1 of one channel block, every kernel row inside the input, along the
  // pair tile plan (run_blocks: tiles of at most kPairT pixels, no column masks).
  __attribute__((noinline)) static void row_pair_tiles(const Geo& g, const Block<I>& b, const Epilogue<I>& e,
                                                       const float* x, int64_t oh, float* y, const TileSpec* tiles,
                                                       int64_t ntiles) {
    const float* xr = x + (oh * S::SW - g.pt) * g.xrow - g.pl * g.C;
    float* yr = y + oh * g.yrow;
    for (int64_t k = 0; k < ntiles; ++k) {
      const int64_t ow = tiles[k].ow;
      kPairFns.f[(tiles[k].n - 1) * kSkipPatterns + tiles[k].skip](g, b, e, xr + ow * S::SW * g.C, yr + ow * g.Co);
    }
  }

  // One output row of one channel block: left border pixels [0, owl) in edge tiles, interior
  // pixels [owl, owr) (every tap inside the input) in direct tiles of T and one narrower
  // tile, right border pixels in edge tiles.
  __attribute__((noinline)) static void row(const Geo& g, const Block<I>& b, const Epilogue<I>& e,
                                            const float* x, int64_t oh, float* y, int64_t owl, int64_t owr) {
    constexpr int T = S::T;
    // Kernel rows [i0, i1) fall inside the input.
    const int64_t ih0 = oh * g.sh - g.pt;
    int64_t i0 = ih0 >= 0 ? 0 : (-ih0 + g.dh - 1) / g.dh;
    int64_t i1 = ih0 > g.H - 1 ? 0 : std::min(g.kh, (g.H - 1 - ih0) / g.dh + 1);
    if (i0 >= i1) i0 = i1 = 0;  // no input at all: the output is the epilogue of the bias
    const float* xr = x + (i0 < i1 ? (ih0 + i0 * g.dh) * g.xrow : 0);
    float* yr = y + oh * g.yrow;
    const int64_t sw = S::fixed ? S::SW : g.sw;
    edge_span(g, b, e, xr, i0, i1, 0, owl, yr);
    int64_t ow = owl;
    const float* xp = xr + (owl * sw - g.pl) * g.C;
    const int64_t step = T * sw * g.C;
    bool done = false;
    if constexpr (KH > 0) {
      if (i0 == 0 && i1 == KH) {
        Vec wv[S::WREG ? KH * KW : 1];
        if constexpr (S::WREG) {
#pragma GCC unroll 64
          for (int t = 0; t < KH * KW; ++t) wv[t] = load_w(b.w + t * b.ws, b);
        }
        for (; ow + T <= owr; ow += T, xp += step) tile_full<T>(g, b, e, xp, wv, nullptr, yr + ow * g.Co);
        if (ow < owr)
          with_width<T - 1>(owr - ow, [&](auto n) {
            tile_full<decltype(n)::value>(g, b, e, xp, wv, nullptr, yr + ow * g.Co);
          });
        done = true;
      }
    }
    if (!done) {
      for (; ow + T <= owr; ow += T, xp += step) tile<T>(g, b, e, xp, i0, i1, nullptr, yr + ow * g.Co);
      if (ow < owr)
        with_width<T - 1>(owr - ow, [&](auto n) {
          tile<decltype(n)::value>(g, b, e, xp, i0, i1, nullptr, yr + ow * g.Co);
        });
    }
    edge_span(g, b, e, xr, i0, i1, owr, g.wo, yr);
  }
};

// Output rows per band: the band's input rows (all channels) stay within this many bytes of L2.
constexpr int64_t kBandBytes = 256 * 1024;
// Realign the channel blocks to the input's vector alignment (so no load splits a cache
// line) when there are at least this many full vectors of channels: it costs one more block.
constexpr int64_t kRealignMinVectors = 2;
// Below this many vectors the extra block costs more than split loads, except when the output
// shares the input's misalignment and its stores get aligned too, at stride > 1 or where the
// straddling block (row_straddle) replaces the extra block. AVX-512, x and y 16 bytes off,
// realigned vs not (before the straddling block): stride 1 (pixel-major strips make split loads
// cheap) dw3x3 C32 112x112 69.9 vs 62.8 us, C48 98.2 vs 93.0; stride 2 C48 56x56 8.4 vs 10.1;
// with y aligned instead, C32 s1 59.6 = 60.7, C48 s2 10.2 vs 9.8. From 4 vectors on,
// realigning wins or ties at every offset (C64 56x56 s1 x16/y16 34.4 vs 35.6, y32 36.8 vs
// 38.9, y0 36.7 vs 33.6; C64 112x112 s2 59.3 vs 74.9; C96 112x112 s2 84.7 vs 105.8).
constexpr int64_t kRealignAlwaysVectors = 4;
// Channel blocks per group, and the L1 bytes a group's kernel rows may take.
constexpr int64_t kMaxGroup = 8;
constexpr int64_t kGroupBytes = 16 * 1024;
// Widest padded input row (in pixels) whose column masks are tabulated on the stack; wider
// rows take the per-tap masks of edge_tile.
constexpr int64_t kMaxMaskCols = 512;

// Pixel-major strips, for fixed shapes at stride 1 whose tiles re-read at most a quarter of
// their width at the strip edges (AVX-512 3x3 and 5x5, AVX2 3x3; measured slower: AVX2 5x5,
// 6-pixel tiles, 3-20%; AVX-512 7x7 2-4%; stride 2 mixed, -10..+10%). A group of channel
// blocks walks down the band one strip of tiles at a time and, within a row, computes each
// tile for every block in turn: its loads run along whole pixels (G adjacent lines, not one
// line at the pixel stride: sequential reads that the prefetchers follow, spread over all L1
// sets) while the strip's kernel rows, all of the group's channels, stay within kStripBytes of
// L1. Blocks per group: at most kMaxPixelGroup, and at most what fits one tile's kernel rows
// in kStripBytes. The band (kPixelBandBytes) only bounds the strips' height: strips share
// nothing but their edge columns. Kernel A/B in one process (AVX-512, dw3x3): C128 56x56
// 70 -> 44-48 us, C256 28x28 40 -> 28-30, C32 112x112 57 -> 52, C192 28x28 18.6 -> 17.1,
// C960 7x7 5.9 -> 5.0.
template <class S>
constexpr bool kPixelMajor = S::fixed && S::SW == 1 && S::DW == 1 && (S::KW - 1) * 4 <= S::T;
constexpr int64_t kMaxPixelGroup = 16;
constexpr int64_t kStripBytes = 32 * 1024;
constexpr int64_t kPixelBandBytes = 1024 * 1024;

// Row pairs (Kernel::pair_tile) for 3x3 at stride 2: output rows go two at a time, with
// all the kernel rows of both inside the input, down each channel block's band. Kernel A/B in
// one process (old/new, medians): AVX-512 dw3x3 s2 C96 112x112 70.5 -> 66.4 us, C64 112x112
// 49.7 -> 44.5, C144 56x56 28.7 -> 25.4, C576 14x14 5.39 -> 5.27; AVX2 C96 112x112 131 -> 124,
// C144 56x56 39.7 -> 38.4. 5x5 at stride 2 (7 input rows for 2 output rows) measured slower
// with pairs (AVX-512 C240 28x28 16.8 -> 18.5 us, C120 56x56 50.0 -> 52.0), so it keeps rows.
// Measured and dropped at 3x3 stride 2: software prefetch of the next band's rows into L2
// (0.83-0.86x) or of the next row's lines into L1 (0.73-0.92x) or of the next output lines
// (0.94x), and the pairs in pixel-major order (all blocks of a tile in turn: C96 112x112 1.05x
// but C64 112x112 and C576 14x14 0.92x).
template <class S>
constexpr bool kPairRows = S::fixed && S::SW == 2 && S::DW == 1 && S::KH == 3 && S::KW == 3;

// Shapes that can run the straddling block (row_straddle): fixed, stride 1, no dilation.
template <class S>
constexpr bool kStraddleRows = S::fixed && S::SW == 1 && S::DW == 1;

// Sets up the block of output lanes [oc, oc + V) within the work range; returns whether some
// lanes lie outside it (the block loads and stores through b.mask). Fixed shapes copy the
// block's weights, zero-padded, to wc (unmasked aligned loads after); the generic shape reads
// the packed buffer.
template <class I, class S, bool MULT>
bool setup_block(Block<I>& b, int64_t oc, const WorkRange& r, int64_t m, const float* w, int64_t Cp,
                 const float* bias, float* wc) {
  constexpr int V = I::V;
  const int64_t lo = std::max(oc, r.oc_begin) - oc, hi = std::min<int64_t>(V, r.oc_end - oc);
  const bool masked = lo > 0 || hi < V;
  b.mask = I::lanes(lo, hi);
  if constexpr (MULT) {
    const int64_t c0 = oc / m;
    b.in_mask = I::lanes(0, (oc + hi - 1) / m - c0 + 1);
    b.idx = I::lane_map(oc, m);
  }
  b.bias = bias ? (masked ? I::load(bias + oc, b.mask) : I::load(bias + oc)) : I::zero();
  if constexpr (S::fixed) {
    for (int64_t t = 0; t < S::KH * S::KW; ++t)
      I::store(wc + t * V, masked ? I::load(w + t * Cp + oc, b.mask) : I::load(w + t * Cp + oc));
    b.w = wc, b.ws = V;
  } else {
    b.w = w + oc, b.ws = Cp;
  }
  return masked;
}

// A realigned channel range (run_blocks' shift) starts and ends with masked blocks; when the
// last block's lanes [0, hi) lie below the first block's [lo, V) (a range of whole vectors of
// channels, misaligned), the first block b (from oc) takes them too, read and written `last - oc`
// floats further on, and the last block is not run: one block fewer (a misaligned C96 runs 6,
// not 7). Merges the last block's bias and weights into b's (wc: b's weight copy).
template <class I, class S>
void wrap_block(Block<I>& b, int64_t oc, int64_t last, const float* w, int64_t Cp, const float* bias, float* wc,
                int64_t hi) {
  constexpr int V = I::V;
  b.wmask = I::lanes(0, hi);
  b.wrap = last - oc;
  if (bias) b.bias = I::load_merge(b.bias, bias + last, b.wmask);
  for (int64_t t = 0; t < S::KH * S::KW; ++t) I::store(wc + t * V, I::load_merge(I::load(wc + t * V), w + t * Cp + last, b.wmask));
}

// Staged rows (fixed shapes). When the pixel stride is a multiple of a large power of two, a
// block's pixels fall in few L1 sets: x86 L1 data caches have 64 sets of 64-byte lines, so
// pixels whose addresses agree modulo 4 KiB share a set, and a pixel stride s gives only
// 4096 / gcd(s, 4096) such offsets (one for 1024 channels, four for 256). A block's kernel
// rows then need more lines per set than the cache has ways, and every input column is
// fetched from L2 again for each output row that reads it. Staging copies each input row of a
// group of blocks once into a contiguous scratch (the padding columns zeros), which the tiles
// read instead: lines per set of one block's kernel rows in the input, above which rows are
// staged: 3x3 layers at 22 (C256 28x28, C128 56x56) measured 0.96-1.0x staged, at 24 and 27
// (C512 14x14, C1024 7x7) 1.05-1.3x, larger kernels 1.3-7x. The copy costs about
// one output row's worth of loads per input row, so it pays only where each input row feeds
// enough output rows (kh / stride): measured, 3x3 stride 2 lost (C256 28x28 14.7 -> 20.3 us)
// while 5x5 stride 2 gained (C512 14x14 20.8 -> 14.0).
constexpr int64_t kStageLinesPerSet = 23;
// Bytes of the scratch (stack), and the most channel blocks staged together (one pass over
// the input's pages and lines serves them all).
constexpr int64_t kStageBytes = 32 * 1024;
constexpr int64_t kMaxStageGroup = 8;

// The staged rows' ring (see run_staged): rows in use at once (kh, or kh + stride for a pair
// of output rows), rows staged per step, and slots: a ring for both plus the mirrored slots.
template <class S>
struct StageRing {
  static constexpr int64_t live = S::KH + (S::WREG ? S::SW : 0), step = (S::WREG ? 2 : 1) * S::SW;
  static constexpr int64_t mirror = live - 1, min_slots = live + step + mirror;
};

// Blocks staged together, for rows of `cols` padded columns: 0 when the rows are not to be
// staged (or the ring of one block's rows does not fit).
template <class I, class S>
int64_t staged_group(const Geo& g, int64_t cols) {
  const int64_t stride = g.C * int64_t(sizeof(float));
  const int64_t offsets = 4096 / std::gcd(stride, int64_t(4096));  // distinct pixel addresses modulo 4 KiB
  if (2 * S::KH < 5 * S::SW || S::KH * std::min(cols, g.W) <= kStageLinesPerSet * offsets) return 0;
  return std::min(kMaxStageGroup, kStageBytes / (cols * I::V * int64_t(sizeof(float)) * StageRing<S>::min_slots));
}

// Copies block k's vector of n pixels from src (pixel stride C) to dst (pixel stride px) and,
// when DUP, to dst2 too (masked: through the block's mask, zeros elsewhere).
template <class I, bool DUP>
void stage_block(const float* src, int64_t C, float* dst, float* dst2, int64_t n, int64_t px, const Block<I>& b,
                 bool masked) {
  for (int64_t q = 0; q < n; ++q, src += C, dst += px, dst2 += DUP ? px : 0) {
    const typename I::Vec v = masked ? I::load(src, b.mask) : I::load(src);
    I::store(dst, v);
    if constexpr (DUP) I::store(dst2, v);
  }
}

// Fixed shapes with conflicting rows: band > group of G channel blocks > output row (or pair).
// The scratch is [slot][column][G][V]: a ring of R rows (input row ih at slot ih % R) whose
// first `mirror` slots are repeated after it, so the rows in use are contiguous from slot
// lo % R whatever the wrap. Each input row is copied once per group, block by block: a block's
// vectors of the rows the next step needs are copied just before the block computes this
// step, so the copy's L2 reads overlap the block's arithmetic (a separate copy phase runs at
// L2 bandwidth, the arithmetic at FMA throughput, one after the other).
template <class I, class S>
__attribute__((noinline)) void run_staged(const Geo& g, const WorkRange& r, const float* x, const float* w,
                                          const float* bias, const Epilogue<I>& e, float* y, int64_t Cp,
                                          int64_t band, int64_t shift, int64_t cols, int64_t G) {
  constexpr int V = I::V, KH = S::KH, SW = S::SW, T = S::T;
  constexpr int64_t E = StageRing<S>::mirror;
  alignas(64) float buf[kStageBytes / sizeof(float)];
  const int64_t px = G * V, slot = cols * px;  // floats per staged pixel and row
  const int64_t nslots = kStageBytes / (slot * int64_t(sizeof(float))), R = nslots - E;
  Geo gs = g;
  gs.C = px, gs.W = cols, gs.pl = 0, gs.xrow = gs.rstep = slot;
  // Scratch columns [q0, q1) hold input columns q - pl; the others are padding, zeroed once.
  const int64_t q0 = std::min(cols, g.pl), q1 = std::max(q0, std::min(cols, g.pl + g.W));
  for (int64_t k = 0; k < nslots; ++k) {
    std::fill(buf + k * slot, buf + k * slot + q0 * px, 0.0f);
    std::fill(buf + k * slot + q1 * px, buf + (k + 1) * slot, 0.0f);
  }
  // The row's tiles, all direct.
  constexpr int64_t kMaxTiles = (kStageBytes / (V * int64_t(sizeof(float)) * StageRing<S>::min_slots) + T - 1) / T;
  TileSpec tiles[kMaxTiles];
  const int64_t nt = plan_row_tiles<T>(g.wo, tiles);
  const bool pairs = S::WREG && g.wo <= T / 2;

  Block<I> blocks[kMaxStageGroup];
  bool masked[kMaxStageGroup];
  alignas(64) float wcopy[kMaxStageGroup][KH * S::KW * V];
  for (int64_t ob = r.oh_begin; ob < r.oh_end; ob += band) {
    const int64_t oe = std::min(r.oh_end, ob + band);
    // Output row oh (and oh + 1 when paired) reads input rows [lo, hi).
    auto rows_of = [&](int64_t oh, int64_t& lo, int64_t& hi) {
      const int64_t ih0 = oh * SW - g.pt;
      const bool pair = pairs && oh + 1 < oe && ih0 >= 0 && ih0 + SW + KH <= g.H;
      lo = std::max<int64_t>(0, ih0), hi = std::min(g.H, ih0 + KH + (pair ? SW : 0));
      return pair;
    };
    for (int64_t og = r.oc_begin - shift; og < r.oc_end; og += px) {
      const int64_t nb = std::min(G, (r.oc_end - og + V - 1) / V);
      for (int64_t k = 0; k < nb; ++k) masked[k] = setup_block<I, S, false>(blocks[k], og + k * V, r, 1, w, Cp, bias, wcopy[k]);
      const float* xg = x + og + (q0 - g.pl) * g.C;
      // Block k's vectors of input rows [from, to).
      auto stage = [&](int64_t k, int64_t from, int64_t to) {
        for (int64_t ih = from; ih < to; ++ih) {
          const int64_t j = ih % R;
          const float* src = xg + ih * g.xrow + k * V;
          float* dst = buf + j * slot + q0 * px + k * V;
          if (j < E) stage_block<I, true>(src, g.C, dst, dst + R * slot, q1 - q0, px, blocks[k], masked[k]);
          else stage_block<I, false>(src, g.C, dst, dst, q1 - q0, px, blocks[k], masked[k]);
        }
      };
      int64_t lo, hi;
      bool pair = rows_of(ob, lo, hi);
      int64_t have = lo;  // input rows below `have` are staged (those from lo on are live)
      for (int64_t oh = ob; oh < oe;) {
        have = std::max(have, lo);
        if (hi > have) {  // the group's first rows
          for (int64_t k = 0; k < nb; ++k) stage(k, have, hi);
          have = hi;
        }
        const int64_t ih0 = oh * SW - g.pt, next = oh + 1 + pair;
        int64_t nlo = 0, nhi = 0;
        const bool npair = next < oe ? rows_of(next, nlo, nhi) : false;
        const int64_t ahead = std::max(have, std::min(nhi, lo + R));  // rows the next step needs
        const float* xr = buf + (lo % R) * slot;
        float* yr = y + og + oh * g.yrow;
        for (int64_t k = 0; k < nb; ++k) {
          stage(k, have, ahead);
          const Block<I>& b = blocks[k];
          if (lo >= hi) {  // no input row: the epilogue of the bias
            if (masked[k]) Kernel<I, S, true, false>::row_staged(gs, b, e, buf, 0, 0, yr + k * V, tiles, nt);
            else Kernel<I, S, false, false>::row_staged(gs, b, e, buf, 0, 0, yr + k * V, tiles, nt);
            continue;
          }
          if constexpr (S::WREG) {
            if (pair) {
              if (masked[k]) Kernel<I, S, true, false>::row_pair_staged(gs, b, e, xr + k * V, yr + k * V);
              else Kernel<I, S, false, false>::row_pair_staged(gs, b, e, xr + k * V, yr + k * V);
              continue;
            }
          }
          if (masked[k])
            Kernel<I, S, true, false>::row_staged(gs, b, e, xr + k * V, lo - ih0, hi - ih0, yr + k * V, tiles, nt);
          else
            Kernel<I, S, false, false>::row_staged(gs, b, e, xr + k * V, lo - ih0, hi - ih0, yr + k * V, tiles, nt);
        }
        have = ahead;
        oh = next, pair = npair, lo = nlo, hi = nhi;
      }
    }
  }
}

// One output row of nb channel blocks (fixed shapes, m == 1, column-mask table cm): tile by
// tile, each tile for every block. x, y: block 0's first channel.
template <class I, class S>
__attribute__((noinline)) void row_masked_group(const Geo& g, const Block<I>* blocks, const bool* masked, int64_t nb,
                                                const Epilogue<I>& e, const float* x, int64_t oh, float* y,
                                                const typename I::Mask* cm, const TileSpec* tiles, int64_t ntiles) {
  constexpr int SW = S::SW, KH = S::KH, V = I::V;
  using KU = Kernel<I, S, false, false>;
  using KM = Kernel<I, S, true, false>;
  const MaskedRow row = masked_row<SW, KH>(g, x, oh);
  float* yr = y + oh * g.yrow;
  const typename KU::TileFn* fu = KU::tile_fns(row.full);
  const typename KU::TileFn* fm = KM::tile_fns(row.full);
  for (int64_t k = 0; k < ntiles; ++k) {
    const int64_t ow = tiles[k].ow, f = KU::tile_fn(tiles[k].n, tiles[k].skip);
    const float* xp = row.x + ow * SW * g.C;
    float* yp = yr + ow * g.Co;
    const typename I::Mask* cp = cm + ow * SW;
    for (int64_t j = 0; j < nb; ++j)
      (masked[j] ? fm : fu)[f](g, blocks[j], e, xp + j * V, row.i0, row.i1, cp, yp + j * V);
  }
}

// The straddling block. When C is a multiple of V and x and y both start s lanes past a vector
// boundary, realigning the blocks to x leaves two partial blocks (lanes [s, V) of the first,
// [0, s) of the last): one block more than an aligned call (C96: 7 instead of 6). But the
// aligned vector s floats before a pixel holds the previous pixel's last s channels and this
// pixel's first V - s, and at stride 1 every tap of both lane groups is that same vector,
// shifted by whole pixels. So one block over those vectors, at positions 0..wo of the row
// (position p: lanes [0, s) are pixel p - 1, lanes [s, V) pixel p), with the weights and
// bias rotated to match, replaces the two partial blocks. Its column masks are per lane group
// (straddle_masks); position 0 stores only lanes [s, V) and position wo only [0, s).
// AVX-512, x and y 16 bytes off (aligned, realigned before, straddling): dw3x3 C144 56x56 54.5,
// 62.0, 55.4 us; C32 112x112 47.5, 64.0 (not realigned: 2 vectors), 57.6; C576 14x14 13.2,
// 14.1, 12.8.
template <class I>
void straddle_masks(const Geo& g, int64_t s, int64_t cols, typename I::Mask* wm) {
  for (int64_t q = 0; q < cols; ++q) {
    const bool here = uint64_t(q - g.pl) < uint64_t(g.W), before = uint64_t(q - g.pl - 1) < uint64_t(g.W);
    wm[q] = I::lanes(before ? 0 : s, here ? I::V : s);
  }
}

// The straddling block's three blocks (position 0, the middle, position wo), its weights rotated
// into wc. w: packed [kh*kw][C].
template <class I, class S>
void setup_straddle(Block<I> (&wb)[3], int64_t s, int64_t C, const float* w, const float* bias, float* wc) {
  constexpr int V = I::V;
  auto channel = [&](int l) { return l < s ? C - s + l : l - s; };
  for (int64_t t = 0; t < S::KH * S::KW; ++t)
    for (int l = 0; l < V; ++l) wc[t * V + l] = w[t * C + channel(l)];
  alignas(64) float b[V];
  for (int l = 0; l < V; ++l) b[l] = bias ? bias[channel(l)] : 0.0f;
  const typename I::Mask masks[3] = {I::lanes(s, V), I::mask(V), I::lanes(0, s)};
  for (int k = 0; k < 3; ++k) {
    wb[k].bias = I::load(b);
    wb[k].mask = masks[k];
    wb[k].w = wc, wb[k].ws = V;
  }
}

// Output row oh of the straddling block: position 0, the middle positions along `tiles` (ow from 1;
// skip 0: every column of both lane groups inside the input, else -1), position wo.
template <class I, class S>
__attribute__((noinline)) void row_straddle(const Geo& g, const Block<I> (&wb)[3], const Epilogue<I>& e, const float* x,
                                        int64_t oh, float* y, int64_t s, const typename I::Mask* wm,
                                        const TileSpec* tiles, int64_t ntiles) {
  using KU = Kernel<I, S, false, false>;
  using KM = Kernel<I, S, true, false>;
  const MaskedRow row = masked_row<1, S::KH>(g, x, oh);
  const float* xr = row.x - s;
  float* yr = y + oh * g.yrow - s;
  const typename KU::TileFn* fu = KU::tile_fns(row.full);
  const typename KM::TileFn* fm = KM::tile_fns(row.full);
  const int64_t one = KU::tile_fn(1, -1);
  fm[one](g, wb[0], e, xr, row.i0, row.i1, wm, yr);
  for (int64_t k = 0; k < ntiles; ++k) {
    const int64_t ow = tiles[k].ow;
    fu[KU::tile_fn(tiles[k].n, tiles[k].skip)](g, wb[1], e, xr + ow * g.C, row.i0, row.i1, wm + ow, yr + ow * g.Co);
  }
  fm[one](g, wb[2], e, xr + g.wo * g.C, row.i0, row.i1, wm + g.wo, yr + g.wo * g.Co);
}

template <class I, class S, bool MULT>
void run_blocks(const ConvGeometry& cg, const WorkRange& r, const float* x, const float* w, const float* bias,
                const Activation& act, float* y) {
  constexpr int V = I::V;
  Geo g;
  g.kh = cg.kh, g.kw = cg.kw, g.sh = cg.sh, g.sw = cg.sw, g.dh = cg.dh, g.dw = cg.dw;
  g.pt = cg.pad_top, g.pl = cg.pad_left, g.H = cg.h, g.W = cg.w, g.C = cg.cin, g.Co = cg.cout;
  g.wo = cg.wo, g.xrow = cg.w * cg.cin, g.yrow = cg.wo * cg.cout, g.rstep = cg.dh * g.xrow;
  const int64_t Cp = padded_channels(cg.cout, V);
  const int64_t m = cg.multiplier();
  const Epilogue<I> e(act);

  // Output columns [owl, owr) have every tap inside the input.
  const int64_t span = (g.kw - 1) * g.dw;
  const int64_t owl = std::min(g.wo, (g.pl + g.sw - 1) / g.sw);
  const int64_t last = g.W - 1 - span + g.pl;  // largest first-tap column, shifted by pl
  int64_t owr = last < 0 ? 0 : std::min(g.wo, last / g.sw + 1);
  if (owr < owl) owr = owl;

  const int64_t row_bytes = std::max<int64_t>(1, g.sh * g.xrow * int64_t(sizeof(float)));
  const int64_t band = std::max<int64_t>(1, kBandBytes / row_bytes);

  // Blocks start `shift` lanes before oc_begin so that every full block's input vectors are
  // aligned (possible when all pixels share one alignment: cin a multiple of V).
  const int64_t padded_cols = (g.wo - 1) * g.sw + span + 1;
  // Shapes where a realigned call runs the straddling block (row_straddle) instead of two partial blocks.
  const bool straddle_shape = kStraddleRows<S> && !MULT && padded_cols <= kMaxMaskCols && r.oc_begin == 0 &&
                              r.oc_end == g.C && g.Co == g.C;
  int64_t shift = 0;
  if (!MULT && g.C % V == 0 && r.oc_end - r.oc_begin >= kRealignMinVectors * V) {
    constexpr uintptr_t kVectorBytes = V * sizeof(float);
    const uintptr_t a = reinterpret_cast<uintptr_t>(x + r.oc_begin), b = reinterpret_cast<uintptr_t>(y + r.oc_begin);
    const bool same = a % kVectorBytes == b % kVectorBytes;
    const bool worth = r.oc_end - r.oc_begin >= kRealignAlwaysVectors * V || (same && (g.sw > 1 || straddle_shape));
    if (a % sizeof(float) == 0 && worth) shift = int64_t(a % kVectorBytes / sizeof(float));
  }

  if constexpr (S::fixed) {
    if (const int64_t G = staged_group<I, S>(g, padded_cols))
      return run_staged<I, S>(g, r, x, w, bias, e, y, Cp, band, shift, padded_cols, G);
  }

  // Channel groups: a group's kernel rows (kh input rows x W pixels x G vectors) stay in L1
  // while the group walks down the band, and per pixel the group reads G adjacent vectors
  // (whole cache lines, spread over all L1 sets whatever the channel stride).
  const int64_t rows_bytes = ((g.kh - 1) * g.dh + 1) * g.W * V * int64_t(sizeof(float));
  int64_t group = std::max<int64_t>(1, std::min<int64_t>(kMaxGroup, kGroupBytes / rows_bytes));

  // Fixed shapes: one mask per input column of the padded row, empty in the padding.
  using Mask = typename I::Mask;
  Mask colmask[S::fixed ? kMaxMaskCols : 1];
  const Mask* cm = nullptr;
  if constexpr (S::fixed) {
    if (padded_cols <= kMaxMaskCols) {
      for (int64_t q = 0; q < padded_cols; ++q)
        colmask[q] = I::mask_if(I::mask(V), uint64_t(q - g.pl) < uint64_t(g.W));
      cm = colmask;
    }
  }
  // The tiles of every row (plan_row_tiles). Tiles that touch a border read their columns
  // through the mask table; the others load directly.
  constexpr int64_t kMaxTiles = S::fixed ? (kMaxMaskCols + S::T - 1) / S::T : 1;
  TileSpec tiles[kMaxTiles];
  int64_t ntiles = 0;
  if constexpr (S::fixed) {
    if (cm) {
      ntiles = plan_row_tiles<S::T>(g.wo, tiles);
      for (int64_t k = 0; k < ntiles; ++k) tiles[k].skip = Kernel<I, S, false, MULT>::skip_of(g, tiles[k].ow, tiles[k].n);
    }
  }

  // The straddling block (row_straddle) replaces the two partial blocks of a realigned call at stride 1.
  Mask smask[kStraddleRows<S> ? kMaxMaskCols + 1 : 1];
  TileSpec stiles[kStraddleRows<S> ? kMaxTiles : 1];
  int64_t nst = 0;
  Block<I> straddle_blocks[3];
  alignas(64) float straddle_w[kStraddleRows<S> ? S::KH * S::KW * V : 1];
  bool straddle = false;
  if constexpr (kStraddleRows<S> && !MULT) {
    const uintptr_t yx = reinterpret_cast<uintptr_t>(y) - reinterpret_cast<uintptr_t>(x);
    straddle = cm && shift > 0 && straddle_shape && yx % (V * sizeof(float)) == 0;
    if (straddle) {
      straddle_masks<I>(g, shift, padded_cols + 1, smask);
      setup_straddle<I, S>(straddle_blocks, shift, g.C, w, bias, straddle_w);
      nst = g.wo > 1 ? plan_row_tiles<S::T>(g.wo - 1, stiles) : 0;
      for (int64_t k = 0; k < nst; ++k) {
        TileSpec& t = stiles[k];
        t.ow += 1;
        t.skip = t.ow - 1 - g.pl >= 0 && t.ow + t.n - 1 + S::KW - 1 - g.pl <= g.W - 1 ? 0 : -1;
      }
    }
  }
  // Row pairs (kPairRows): their own tile plan, used when every tile's columns outside the
  // input are at most its first and last (SKIP patterns, no column masks).
  constexpr int64_t kMaxPairTiles = kPairRows<S> ? (kMaxMaskCols + S::T / 2 - 1) / (S::T / 2) : 1;
  TileSpec ptiles[kMaxPairTiles];
  int64_t npt = 0;
  if constexpr (kPairRows<S>) {
    if (cm && !MULT) {
      using K = Kernel<I, S, false, MULT>;
      npt = plan_row_tiles<K::kPairT>(g.wo, ptiles);
      for (int64_t k = 0; k < npt; ++k) {
        ptiles[k].skip = K::skip_of(g, ptiles[k].ow, ptiles[k].n);
        if (ptiles[k].skip < 0) npt = 0;
      }
    }
  }
  // With row pairs, a misaligned range's first block takes the last block's lanes (wrap_block).
  // Kernel A/B in one process, old/new medians, AVX-512 dw3x3 s2, x and y 16 bytes off a line:
  // C96 112x112 79.0 -> 73.3 us, C144 56x56 30.0 -> 26.8, C576 14x14 5.77 -> 5.47; x 32 and y
  // 48 bytes off: C96 112x112 83.1 -> 75.3; both 48 bytes off: C64 112x112 56.3 -> 48.8.
  const int64_t og0 = r.oc_begin - shift, og_last = og0 + (r.oc_end - og0 - 1) / V * V;
  const int64_t wrap_hi = r.oc_end - og_last;
  const bool wrap = kPairRows<S> && !MULT && npt && shift > 0 && og_last > og0 && og0 + V <= r.oc_end && wrap_hi <= shift;
  // The blocks [og_begin, og_end): the wrapped or the straddling block takes the partial ones.
  const int64_t og_begin = straddle ? og0 + V : og0;
  const int64_t og_end = wrap ? og_last : straddle ? r.oc_end - shift : r.oc_end;
  const bool pixel_major = kPixelMajor<S> && !MULT && cm;
  if (pixel_major) {
    const int64_t nblocks = std::max<int64_t>(1, (og_end - og_begin + V - 1) / V);
    const int64_t cols = (tiles[0].n - 1) * S::SW + S::KW;
    const int64_t most = std::max<int64_t>(1, std::min(kMaxPixelGroup, kStripBytes / (S::KH * cols * V * int64_t(sizeof(float)))));
    const int64_t ng = (nblocks + most - 1) / most;
    group = (nblocks + ng - 1) / ng;
  }
  constexpr int64_t kBlocks = S::fixed && !MULT ? std::max(kMaxGroup, kMaxPixelGroup) : kMaxGroup;
  Block<I> blocks[kBlocks];
  alignas(64) float wcopy[kBlocks][S::fixed ? S::KH * S::KW * V : 1];
  int64_t rows_per_band = pixel_major ? std::max<int64_t>(1, kPixelBandBytes / row_bytes) : band;
  // Row pairs do not straddle bands: an even band (rounded down) leaves no single rows inside.
  if (npt) rows_per_band = std::max<int64_t>(2, rows_per_band & ~int64_t(1));
  // A first row with a kernel row in the top padding goes alone: the first band takes it as
  // one row more, so that the pairs after it do not straddle the bands.
  const int64_t lead = npt && r.oh_begin * g.sh < g.pt ? 1 : 0;
  for (int64_t ob = r.oh_begin, oe; ob < r.oh_end; ob = oe) {
    oe = std::min(r.oh_end, ob + rows_per_band + (ob == r.oh_begin ? lead : 0));
    if constexpr (kStraddleRows<S> && !MULT) {
      if (straddle)
        for (int64_t oh = ob; oh < oe; ++oh) row_straddle<I, S>(g, straddle_blocks, e, x, oh, y, shift, smask, stiles, nst);
    }
    for (int64_t og = og_begin; og < og_end; og += group * V) {
      int64_t nb = 0;
      bool masked_block[kBlocks];
      for (int64_t oc = og; oc < og_end && nb < group; oc += V, ++nb)
        masked_block[nb] = setup_block<I, S, MULT>(blocks[nb], oc, r, m, w, Cp, bias, wcopy[nb]);
      const bool wrapped = wrap && og == og0;  // block 0 is wrapped
      if constexpr (kPairRows<S> && !MULT) {
        if (wrapped) wrap_block<I, S>(blocks[0], og0, og_last, w, Cp, bias, wcopy[0], wrap_hi);
      }
      if constexpr (S::fixed && !MULT) {
        if (pixel_major) {
          // Strips of tiles whose kernel rows (all the group's channels) fit the L1 budget.
          const int64_t col_bytes = S::KH * nb * V * int64_t(sizeof(float));
          for (int64_t k0 = 0, k1; k0 < ntiles; k0 = k1) {
            int64_t cols = (tiles[k0].n - 1) * S::SW + S::KW;
            for (k1 = k0 + 1; k1 < ntiles; ++k1) {
              const int64_t more = tiles[k1].n * S::SW;
              if ((cols + more) * col_bytes > kStripBytes) break;
              cols += more;
            }
            for (int64_t oh = ob; oh < oe; ++oh)
              row_masked_group<I, S>(g, blocks, masked_block, nb, e, x + og, oh, y + og, cm, tiles + k0, k1 - k0);
          }
          continue;
        }
      }
      for (int64_t oh = ob; oh < oe; ++oh) {
        if constexpr (kPairRows<S>) {
          const int64_t ih0 = oh * g.sh - g.pt, ih1 = ih0 + g.sh + (g.kh - 1) * g.dh;
          if (npt && oh + 1 < oe && ih0 >= 0 && ih1 < g.H) {
            for (int64_t k = 0; k < nb; ++k) {
              const int64_t oc = og + k * V;
              if (k == 0 && wrapped) Kernel<I, S, true, false, true>::row_pair_tiles(g, blocks[k], e, x + oc, oh, y + oc, ptiles, npt);
              else if (masked_block[k]) Kernel<I, S, true, MULT>::row_pair_tiles(g, blocks[k], e, x + oc, oh, y + oc, ptiles, npt);
              else Kernel<I, S, false, MULT>::row_pair_tiles(g, blocks[k], e, x + oc, oh, y + oc, ptiles, npt);
            }
            ++oh;
            continue;
          }
        }
        // Narrow rows go in pairs when both rows' kernel rows lie inside the input.
        bool pair = false;
        if constexpr (S::WREG) {
          const int64_t ih0 = oh * g.sh - g.pt, ih1 = ih0 + g.sh + (g.kh - 1) * g.dh;
          pair = cm && g.wo <= S::T / 2 && oh + 1 < oe && ih0 >= 0 && ih1 < g.H;
        }
        for (int64_t k = 0; k < nb; ++k) {
          const int64_t oc = og + k * V;
          const float* xb = x + oc / m;
          float* yb = y + oc;
          if constexpr (S::WREG) {
            if (pair) {
              if (masked_block[k]) Kernel<I, S, true, MULT>::row_pair(g, blocks[k], e, xb, oh, yb, cm);
              else Kernel<I, S, false, MULT>::row_pair(g, blocks[k], e, xb, oh, yb, cm);
              continue;
            }
          }
          if constexpr (kPairRows<S> && !MULT) {
            if (k == 0 && wrapped) {
              Kernel<I, S, true, false, true>::row_masked(g, blocks[k], e, xb, oh, yb, cm, tiles, ntiles);
              continue;
            }
          }
          if (cm) {
            if (masked_block[k]) Kernel<I, S, true, MULT>::row_masked(g, blocks[k], e, xb, oh, yb, cm, tiles, ntiles);
            else Kernel<I, S, false, MULT>::row_masked(g, blocks[k], e, xb, oh, yb, cm, tiles, ntiles);
          } else {
            if (masked_block[k]) Kernel<I, S, true, MULT>::row(g, blocks[k], e, xb, oh, yb, owl, owr);
            else Kernel<I, S, false, MULT>::row(g, blocks[k], e, xb, oh, yb, owl, owr);
          }
        }
        oh += pair;
      }
    }
  }
}

// The entry point of one kernel shape: fixed shapes are depth multiplier 1 only (the selector
// sends m > 1 to the generic shape).
template <class I, class S>
void run(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
         const Activation& act, float* y) {
  if (r.oc_begin >= r.oc_end || r.oh_begin >= r.oh_end || g.wo == 0) return;
  if constexpr (S::fixed) {
    run_blocks<I, S, false>(g, r, x, w, bias, act, y);
  } else {
    if (g.multiplier() > 1) run_blocks<I, S, true>(g, r, x, w, bias, act, y);
    else run_blocks<I, S, false>(g, r, x, w, bias, act, y);
  }
}

}  // namespace dsconv::detail::dwnhwc

#pragma GCC diagnostic pop
