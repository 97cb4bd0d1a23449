// Pointwise (1x1) convolution as GEMM on x86, one template for AVX2 and AVX-512
// (instantiated in x86/avx2/pwconv_*_avx2.cpp and x86/avx512/pwconv_*_avx512.cpp).
//
//   NHWC: Y[P x Cout] = X[P x Cin] * W^T   vectors over Cout (packed weights), broadcast pixels
//   NCHW: Y[Cout x P] = W * X[Cin x P]     vectors over pixels (input in place), broadcast weights
//
// The paths, chosen by the geometry (the packing depends only on Cout, Cin and the layout):
//   - NHWC: MR_HWC pixels x one panel (PW channels) per tile;
//   - NHWC, AVX-512, weights in L2 and Cout over several panels: the wide tile (MR_WIDE
//     pixels x up to NV_WIDE vectors across panels);
//   - NCHW: MR_CHW channels x NV_CHW pixel vectors per tile; with few pixels (a 7x7 plane is 3
//     vectors + 1 lane) the NHWC tile runs down the input's columns and is stored transposed;
//   - NHWC, Cout <= 24, AVX-512: the paired tile (8 channels x 2 inputs per vector).
//
// Packing (one format per ISA, both layouts): Cout in panels of Cfg::PW channels, Cin-major
// inside a panel, the last panel zero-padded: packed[q][k][lane] = W[q*PW + lane][k]; the
// paired path has its own (below). The bias is not packed (pack_weights never sees it): the
// epilogue loads it.
//
// Raw (unpacked) weights: the kernel packs only its own channel range into a per-thread buffer
// that stays in cache, never the whole weight first: on AVX-512 the NHWC panel path (and the
// NCHW few-pixel path, through transposed pixels) packs the next panel while computing the
// current one; the other paths pack chunks of panels right before their tiles. Every output
// is the same FMA chain over Cin as with packed weights, so the bits are the same.
//
// Blocking: the reduction in chunks of KC input channels (NCHW: the weight tile MR x KC stays
// in L1; NHWC: KC = 1024, whole reductions measured fastest), pixels in blocks of MC (the
// input block KC x MC stays in L2); partial sums go through the output, bias and activation
// are fused on the last chunk.
#pragma once

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "kernels/by_layout.hpp"
#include "x86/gemm_simd.hpp"

namespace dsconv::detail::pw {
namespace {

using gemm::Epilogue;

inline int64_t div_up(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Part i of n split into `parts` near-equal parts (the first n % parts one larger): 49 pixels in
// 4 tiles are 13, 12, 12, 12, never a short last tile after full ones.
inline int64_t near_equal_part(int64_t n, int64_t parts, int64_t i) { return n / parts + (i < n % parts ? 1 : 0); }
// The same split of n pixels into div_up(n, most) near-equal tiles, as runs of equal tiles:
// run(p, size, count) for the larger tiles first, p their first pixel (tile kernels that take
// a count pay their setup once per run).
template <class Run>
inline void near_equal_runs(int64_t p, int64_t n, int64_t most, Run run) {
  const int64_t tiles = div_up(n, most), big = n % tiles, size = n / tiles;
  if (big > 0) run(p, size + 1, big);
  if (tiles > big) run(p + big * (size + 1), size, tiles - big);
}

// This thread's 64-byte aligned buffer number Slot, of at least n floats (grown, never shrunk):
// raw-weight calls pack into slot 0, and the NCHW calls that run the NHWC tiles put their
// transposed input and output in slot 1.
template <int Slot = 0>
inline float* thread_scratch(size_t n) {
  struct Buffer {
    float* p = nullptr;
    size_t n = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer b;
  if (b.n < n) {
    std::free(b.p);
    b.n = 0;
    b.p = static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64));
    if (!b.p) throw std::bad_alloc();
    b.n = n;
  }
  return b.p;
}

// ---------------------------------------------------------------------- few output channels
// NHWC with Cout <= 24 on AVX-512: vectors over 32-wide panels would leave lanes idle (24 of
// 32) or need one broadcast per FMA (a half panel for Cout = 16). Here each vector holds 8
// output channels x 2 consecutive input channels, fed by ONE 64-bit broadcast of
// (x[p][k], x[p][k+1]); the epilogue adds the two halves of every pair (two permutes and an
// add per 16 outputs). The whole reduction runs in registers, the tile is written once.
// Packing: packed[t][2*j + h] = W[j][2t + h], t < ceil(Cin/2), j < 8 * vectors (zero-padded).
template <class Cfg>
struct Paired;
#if defined(__AVX512F__)
template <class Cfg>
struct Paired {
  using V = gemm::Avx512;
  using reg = __m512;
  static constexpr int MR_MAX = 14;
  static int vectors(int64_t cout) { return int(div_up(cout, 8)); }
  static size_t packed_size(const WeightDims& d) { return size_t(vectors(d.cout) * 16 * div_up(d.cin_per_group, 2)); }
  static void pack(const WeightDims& d, const float* w, float* out) {
    const int64_t cin = d.cin_per_group, width = vectors(d.cout) * 16;
    std::memset(out, 0, sizeof(float) * packed_size(d));
    for (int64_t j = 0; j < d.cout; ++j)
      for (int64_t k = 0; k < cin; ++k) out[(k / 2) * width + 2 * j + (k & 1)] = w[j * cin + k];
  }

  // `tiles` consecutive tiles of MR pixels x NVP paired vectors (8 * NVP output channels): one
  // call per run of equal tiles, so the row offsets are set up once (with Cin = 32 a tile is
  // only 16 steps, and the per-call setup cost 10%).
  template <int MR, int NVP>
  static void tiles(int64_t cin, const float* x, const float* w, float* y, int64_t cout, const __mmask16* cm,
                    const Epilogue<V>& e, int64_t count) {
    for (int64_t t = 0; t < count; ++t) tile<MR, NVP>(cin, x + t * MR * cin, w, y + t * MR * cout, cout, cm, e);
  }
  template <int MR, int NVP>
  static DSCONV_GEMM_INLINE void tile(int64_t cin, const float* x, const float* w, float* y, int64_t cout,
                                     const __mmask16* cm, const Epilogue<V>& e) {
    reg acc[MR][NVP];
    gemm::zero_tile<V, MR, NVP>(acc);
    for (int64_t t = 0; t < cin / 2; ++t) {
      reg b[NVP];
#pragma GCC unroll 4
      for (int j = 0; j < NVP; ++j) b[j] = _mm512_loadu_ps(w + j * 16);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        double pair;
        std::memcpy(&pair, x + i * cin, sizeof pair);
        const reg a = _mm512_castpd_ps(_mm512_set1_pd(pair));
#pragma GCC unroll 4
        for (int j = 0; j < NVP; ++j) acc[i][j] = _mm512_fmadd_ps(a, b[j], acc[i][j]);
      }
      x += 2;
      w += NVP * 16;
    }
    if (cin & 1) {
      // The last input channel alone: its partner lanes get 0 * 0, never another pixel's input.
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const reg a = _mm512_maskz_mov_ps(0x5555, _mm512_set1_ps(x[i * cin]));
#pragma GCC unroll 4
        for (int j = 0; j < NVP; ++j) acc[i][j] = _mm512_fmadd_ps(a, _mm512_loadu_ps(w + j * 16), acc[i][j]);
      }
    }
    constexpr int NO = (NVP + 1) / 2;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    reg out[MR][NO];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
      for (int o = 0; o < NO; ++o) {
        const reg lo = acc[i][2 * o], hi = 2 * o + 1 < NVP ? acc[i][2 * o + 1] : lo;
        out[i][o] = _mm512_add_ps(_mm512_permutex2var_ps(lo, even, hi), _mm512_permutex2var_ps(lo, odd, hi));
      }
    gemm::store_tile<V, MR, NO, true>(out, y, cout, cm, e);
  }
  using Fn = void (*)(int64_t, const float*, const float*, float*, int64_t, const __mmask16*, const Epilogue<V>&,
                     int64_t);
  template <int NVP>
  static constexpr int mr_of() { return NVP == 3 ? 8 : 14; }
  template <int NVP, size_t... I>
  static std::array<Fn, MR_MAX> row(std::index_sequence<I...>) {
    return {{&tiles<std::min(int(I) + 1, mr_of<NVP>()), NVP>...}};
  }
  static void run(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp, const float* bias,
                  const Activation& act, float* y) {
    using I = std::make_index_sequence<MR_MAX>;
    static const std::array<Fn, MR_MAX> rows[3] = {row<1>(I()), row<2>(I()), row<3>(I())};
    const int nvp = vectors(g.cout);
    const int64_t mr_max = nvp == 3 ? mr_of<3>() : mr_of<1>();
    const int64_t p0 = r.oh_begin * g.wo, p1 = r.oh_end * g.wo;
    __mmask16 cm[2];
    for (int o = 0; o < 2; ++o)
      cm[o] = V::lanes(int(std::clamp<int64_t>(r.oc_begin - 16 * o, 0, 16)),
                       int(std::clamp<int64_t>(r.oc_end - 16 * o, 0, 16)));
    Epilogue<V> e(act, true);
    e.col_bias = bias;
    const int64_t full = (p1 - p0) / mr_max, rest = (p1 - p0) % mr_max;
    const std::array<Fn, MR_MAX>& fns = rows[nvp - 1];
    if (full > 0) fns[size_t(mr_max - 1)](g.cin, x + p0 * g.cin, wp, y + p0 * g.cout, g.cout, cm, e, full);
    const int64_t p = p0 + full * mr_max;
    if (rest > 0) fns[size_t(rest - 1)](g.cin, x + p * g.cin, wp, y + p * g.cout, g.cout, cm, e, 1);
  }
};
#endif

// Cfg: V (ISA traits), PW (panel width, floats), NHWC tile MR_HWC x (PW/L) vectors, NCHW tile
// MR_CHW couts x NV_CHW pixel vectors, and the cache blocking KC (input channels), MC (pixels).
template <class Cfg>
struct Pointwise {
  using V = typename Cfg::V;
  using reg = typename V::reg;
  using mask = typename V::mask;
  static constexpr int L = V::L;
  static constexpr int PW = Cfg::PW;
  static constexpr int NV_HWC = PW / L;
  static constexpr int MR_HWC = Cfg::MR_HWC;
  static constexpr int MR_CHW = Cfg::MR_CHW;
  static constexpr int NV_CHW = Cfg::NV_CHW;

  // ------------------------------------------------------------------ packing
  // NHWC with few output channels uses the paired format (AVX-512); all else the panels.
  static bool paired(const WeightDims& d, Layout layout) {
    return Cfg::PAIRED && layout == Layout::NHWC && d.cout <= 24;
  }
  static size_t packed_size(const WeightDims& d, Layout layout) {
    if constexpr (Cfg::PAIRED)
      if (paired(d, layout)) return Paired<Cfg>::packed_size(d);
    return size_t(div_up(d.cout, PW) * PW * d.cin_per_group);
  }

  static void pack(const WeightDims& d, Layout layout, const float* w, float* out) {
    if constexpr (Cfg::PAIRED)
      if (paired(d, layout)) return Paired<Cfg>::pack(d, w, out);
    pack_panels(d.cin_per_group, d.cout, w, 0, div_up(d.cout, PW), out);
  }

  // Panels [qa, qb) of the weight w[cout][cin], panel qa at out.
  static void pack_panels(int64_t cin, int64_t cout, const float* w, int64_t qa, int64_t qb, float* out) {
#if defined(__AVX512F__)
    // Blocks of 16 channels x 16 inputs transposed in registers (1.7x the speed of 8 x 8
    // blocks); the input tail is a masked load, channels past Cout load as zeros (the padding).
    static_assert(PW % 16 == 0, "panels hold whole 16-channel blocks");
    for (int64_t q = qa; q < qb; ++q) {
      float* panel = out + (q - qa) * PW * cin;
      const int64_t n = std::min<int64_t>(PW, cout - q * PW);
      for (int64_t k0 = 0; k0 < cin; k0 += 16) {
        const int kn = int(std::min<int64_t>(16, cin - k0));
        const __mmask16 km = __mmask16((1u << kn) - 1u);
        for (int64_t l0 = 0; l0 < PW; l0 += 16) {
          __m512 r[16];
          const float* src = w + (q * PW + l0) * cin + k0;
#pragma GCC unroll 16
          for (int i = 0; i < 16; ++i)
            r[i] = l0 + i >= n ? _mm512_setzero_ps()
                               : (kn == 16 ? _mm512_loadu_ps(src + i * cin) : _mm512_maskz_loadu_ps(km, src + i * cin));
          transpose16(r);
#pragma GCC unroll 16
          for (int i = 0; i < 16; ++i)
            if (i < kn) _mm512_storeu_ps(panel + (k0 + i) * PW + l0, r[i]);
        }
      }
    }
#else
    for (int64_t q = qa; q < qb; ++q) {
      float* panel = out + (q - qa) * PW * cin;
      const int64_t n = std::min<int64_t>(PW, cout - q * PW);
      // Blocks of 8 channels x 8 inputs are transposed in registers (raw-weight calls pack on
      // every call), input blocks outermost so that each panel row is written whole at once;
      // the ragged edges go element by element.
      const int64_t n8 = n / 8 * 8, k8 = cin / 8 * 8;
      for (int64_t k0 = 0; k0 < k8; k0 += 8)
        for (int64_t l0 = 0; l0 < n8; l0 += 8) transpose8x8(w + (q * PW + l0) * cin + k0, cin, panel + k0 * PW + l0, PW);
      for (int64_t k = 0; k < cin; ++k)
        for (int64_t lane = (k < k8 ? n8 : 0); lane < PW; ++lane)
          panel[k * PW + lane] = lane < n ? w[(q * PW + lane) * cin + k] : 0.0f;
    }
#endif
  }

#if defined(__AVX512F__)
  // r[c][i] <- r[i][c] for a 16 x 16 block in registers.
  static DSCONV_GEMM_INLINE void transpose16(__m512 (&r)[16]) {
    // The all-lanes zero-masked forms are the plain shuffles (GCC 12's unmasked intrinsics warn,
    // -Wmaybe-uninitialized on their internal _mm512_undefined_ps).
    const __mmask16 all = 0xFFFF;
    __m512 t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_maskz_unpacklo_ps(all, r[i], r[i + 1]);
      t[i + 1] = _mm512_maskz_unpackhi_ps(all, r[i], r[i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_maskz_shuffle_ps(all, t[i], t[i + 2], 0x44);
      r[i + 1] = _mm512_maskz_shuffle_ps(all, t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm512_maskz_shuffle_ps(all, t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm512_maskz_shuffle_ps(all, t[i + 1], t[i + 3], 0xEE);
    }
    // Now 128-bit lane j of r[4a + b] holds column 4j + b of rows 4a..4a+3: two rounds of
    // 128-bit lane shuffles put each column's four lanes together.
#pragma GCC unroll 16
    for (int i = 0; i < 4; ++i) {
      t[i] = _mm512_maskz_shuffle_f32x4(all, r[i], r[i + 4], 0x88);
      t[i + 4] = _mm512_maskz_shuffle_f32x4(all, r[i], r[i + 4], 0xDD);
      t[i + 8] = _mm512_maskz_shuffle_f32x4(all, r[i + 8], r[i + 12], 0x88);
      t[i + 12] = _mm512_maskz_shuffle_f32x4(all, r[i + 8], r[i + 12], 0xDD);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 4; ++i) {
      r[i] = _mm512_maskz_shuffle_f32x4(all, t[i], t[i + 8], 0x88);
      r[i + 8] = _mm512_maskz_shuffle_f32x4(all, t[i], t[i + 8], 0xDD);
      r[i + 4] = _mm512_maskz_shuffle_f32x4(all, t[i + 4], t[i + 12], 0x88);
      r[i + 12] = _mm512_maskz_shuffle_f32x4(all, t[i + 4], t[i + 12], 0xDD);
    }
  }
#endif

  // r[c][i] <- r[i][c] for an 8 x 8 block in registers.
  static DSCONV_GEMM_INLINE void transpose8(__m256 (&r)[8]) {
    __m256 t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) {
      r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
      r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
      r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
      r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 4; ++i) {
      t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
      t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = t[i];
  }

  // dst[c * ld_dst + r] = src[r * ld_src + c] for an 8 x 8 block.
  static DSCONV_GEMM_INLINE void transpose8x8(const float* src, int64_t ld_src, float* dst, int64_t ld_dst) {
    __m256 r[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ld_src);
    transpose8(r);
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ld_dst, r[i]);
  }

  // The first n (<= 8) floats of v to p; the others are not touched.
  static DSCONV_GEMM_INLINE void store_first(float* p, __m256 v, int n) {
#if defined(__AVX512F__)
    _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1u), _mm512_castps256_ps512(v));
#else
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_maskstore_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), iota), v);
#endif
  }

  // ------------------------------------------------------------------ packing while computing
  // Raw-weight calls on AVX-512 (Cfg::MR_FUSED > 0): while the tiles of one panel run, the next
  // panel is packed in 8 x 8 blocks interleaved with their reduction steps, so the transposes
  // overlap the FMAs instead of running on their own (measured: the pack of a 960->320 weight
  // alone takes ~20 us, L2-bound; interleaved, the raw NHWC call costs ~6% over the packed one).
  // The tiles have 14 accumulators (MR_FUSED x PW), leaving registers for the transposes.
  struct PackJob {
    const float* src = nullptr;  // the panel's raw rows
    float* dst = nullptr;        // its packed copy
    int64_t cin = 0, k0 = 0, left = 0;
    int l0 = 0;
    DSCONV_GEMM_INLINE void step() {
      // The raw rows come from L3 (read once): each row's line 4 lines ahead is prefetched, or
      // the transposes' loads stall the FMAs (960->320 7x7: 1.19x the packed call without, 1.06x with).
      if ((k0 & 15) == 0)
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(src + (l0 + i) * cin + k0 + 64), _MM_HINT_T0);
      transpose8x8(src + l0 * cin + k0, cin, dst + k0 * PW + l0, PW);
      l0 += 8;
      if (l0 == PW) l0 = 0, k0 += 8;
      --left;
    }
  };
  // gemm::accumulate (broadcasts s[i*si + k*sk], vectors from a packed panel) with `blocks` steps
  // of `job` spread over the reduction. Its own loop, not gemm::accumulate over chunks: the
  // chunked form measured 1-3% slower (raw 320->1280 7x7 NCHW).
  template <int MR, int NV>
  static DSCONV_GEMM_INLINE void accumulate_packing(reg (&acc)[MR][NV], int64_t kc, const float* s, int64_t si,
                                                    int64_t sk, const float* w, PackJob& job, int64_t blocks) {
    const int64_t every = blocks > 0 ? std::max<int64_t>(1, kc / blocks) : kc + 1;
    int64_t countdown = every;
    for (int64_t k = 0; k < kc; ++k) {
      reg b[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) b[j] = V::load(w + j * L);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const reg a = V::broadcast(s + i * si);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, b[j], acc[i][j]);
      }
      s += sk;
      w += PW;
      if (--countdown == 0) {
        countdown = every;
        if (blocks > 0) {
          job.step();
          --blocks;
        }
      }
    }
    for (; blocks > 0; --blocks) job.step();
  }

  // ------------------------------------------------------------------ NHWC
  // gemm::accumulate for tiles of more than 8 pixel rows: the rows are read from two bases
  // (rows 0..H-1 and H..MR-1) that share the offsets i * cin, so the row addresses need
  // H + 1 registers, not MR (14 separate row pointers spill).
  template <int MR, int NV>
  static DSCONV_GEMM_INLINE void accumulate_rows2(reg (&acc)[MR][NV], int64_t kc, const float* x, int64_t cin,
                                                  const float* w) {
    constexpr int H = (MR + 1) / 2;
    const float* xb = x + H * cin;
    // Opaque to the compiler, which would otherwise fold xb back into x + constant * cin.
    __asm__("" : "+r"(xb));
    for (int64_t k = 0; k < kc; ++k) {
      reg b[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) b[j] = V::load(w + j * L);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const reg a = V::broadcast(i < H ? x + i * cin : xb + (i - H) * cin);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, b[j], acc[i][j]);
      }
      ++x;
      ++xb;
      w += PW;
    }
  }

  // `tiles` consecutive tiles of MR pixels, each over `panels` consecutive panels: MR pixels x
  // NV vectors of output channels per panel (one call for a run of equal tiles: the per-call
  // setup is paid once).
  template <int MR, int NV, bool Masked>
  static void hwc_tile(int64_t kc, const float* x, int64_t cin, const float* w, float* y, int64_t cout,
                       const mask* cm, bool first, const Epilogue<V>& e, int64_t panels, int64_t tiles) {
    for (int64_t t = 0; t < tiles; ++t) {
      Epilogue<V> ep = e;
      const float* wq = w;
      float* yq = y;
      for (int64_t q = 0; q < panels; ++q) {
        reg acc[MR][NV];
        if (first)
          gemm::zero_tile<V, MR, NV>(acc);
        else
          gemm::load_tile<V, MR, NV, Masked>(acc, yq, cout, cm);
        if constexpr (MR > 8)
          accumulate_rows2<MR, NV>(acc, kc, x, cin, wq);
        else
          gemm::accumulate<V, MR, NV, false>(acc, kc, x, cin, 1, wq, L, PW, mask{});
        gemm::store_tile<V, MR, NV, Masked>(acc, yq, cout, cm, ep);
        wq += PW * cin;
        yq += PW;
        if (ep.col_bias) ep.col_bias += PW;
      }
      x += MR * cin;
      y += MR * cout;
    }
  }
  using HwcFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, const mask*, bool,
                         const Epilogue<V>&, int64_t, int64_t);

  template <int NV, bool Masked, size_t... I>
  static std::array<HwcFn, MR_HWC> hwc_row(std::index_sequence<I...>) {
    return {{&hwc_tile<int(I) + 1, NV, Masked>...}};
  }
  // The tile for `mr` pixels (1..MR_HWC) and `nv` vectors (1 or NV_HWC).
  static HwcFn hwc_fn(int64_t mr, int nv, bool masked) {
    static_assert(NV_HWC >= 1 && NV_HWC <= 3, "panels hold one or two vectors");
    using I = std::make_index_sequence<MR_HWC>;
    static const std::array<HwcFn, MR_HWC> rows[4] = {hwc_row<1, false>(I()), hwc_row<1, true>(I()),
                                                      hwc_row<NV_HWC, false>(I()), hwc_row<NV_HWC, true>(I())};
    return rows[(nv == 1 ? 0 : 2) + (masked ? 1 : 0)][size_t(mr - 1)];
  }

  // The tile shape for panel q within the channel range: the first vector used (`shift`
  // floats into the panel: a range that starts in the panel's second half computes only that
  // half, e.g. the 2-thread split of 160 channels at 80), vectors, masks, whether masked.
  struct PanelTile {
    int shift;
    int nv;
    bool masked;
    mask cm[NV_HWC];
  };
  static PanelTile panel_tile(const WorkRange& r, int64_t q) {
    const int64_t base = q * PW;
    const int lo = int(std::max(r.oc_begin, base) - base), hi = int(std::min(r.oc_end, base + PW) - base);
    PanelTile t;
    t.shift = lo / L * L;
    t.nv = hi - t.shift <= L ? 1 : NV_HWC;
    t.masked = lo != t.shift || hi != t.shift + t.nv * L;
    for (int j = 0; j < NV_HWC; ++j)
      t.cm[j] = V::lanes(std::clamp(lo - t.shift - j * L, 0, L), std::clamp(hi - t.shift - j * L, 0, L));
    return t;
  }

  // ------------------------------------------------------------------ NHWC, wide tiles
  // When the weights fit in L2 and Cout spans more than one panel, a tile is MR_WIDE pixels x
  // up to NV_WIDE vectors across panels (AVX-512: 4 x 96, 24 accumulators): per k, NV_WIDE
  // weight vectors serve MR_WIDE broadcasts (10 loads per 24 FMAs; the 14x32 tile: 16 per 28),
  // and each pixel's outputs are written in one sequential run. Vector j of a tile lies in
  // panel j / NV_HWC (lanes past Cout in the last panel are zero weights; the store masks them
  // off).
  // `count` consecutive tiles in one call (with Cin = 16 a tile is only 16 steps: the per-call
  // setup is paid once per run of equal tiles).
  template <int MR, int NV, bool Masked>
  static void wide_tiles(int64_t kc, const float* x, int64_t cin, const float* w, float* y, int64_t cout,
                         const mask* cm, const Epilogue<V>& e, int64_t count) {
    for (int64_t t = 0; t < count; ++t) wide_tile<MR, NV, Masked>(kc, x + t * MR * cin, cin, w, y + t * MR * cout, cout, cm, e);
  }
  template <int MR, int NV, bool Masked>
  static DSCONV_GEMM_INLINE void wide_tile(int64_t kc, const float* x, int64_t cin, const float* w, float* y,
                                           int64_t cout, const mask* cm, const Epilogue<V>& e) {
    const int64_t ps = PW * cin;
    reg acc[MR][NV];
    gemm::zero_tile<V, MR, NV>(acc);
    for (int64_t k = 0; k < kc; ++k) {
      reg b[NV];
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) b[j] = V::load(w + (j / NV_HWC) * ps + (j % NV_HWC) * L);
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const reg a = V::broadcast(x + i * cin);
#pragma GCC unroll 8
        for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, b[j], acc[i][j]);
      }
      x += 1;
      w += PW;
    }
    gemm::store_tile<V, MR, NV, Masked>(acc, y, cout, cm, e);
  }
  using WideFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, const mask*,
                          const Epilogue<V>&, int64_t);
  template <bool Masked, int MR, size_t... J>
  static std::array<WideFn, Cfg::NV_WIDE> wide_row(std::index_sequence<J...>) {
    return {{&wide_tiles<MR, int(J) + 1, Masked>...}};
  }
  template <bool Masked, size_t... I>
  static std::array<std::array<WideFn, Cfg::NV_WIDE>, Cfg::MR_WIDE> wide_table(std::index_sequence<I...>) {
    return {{wide_row<Masked, int(I) + 1>(std::make_index_sequence<Cfg::NV_WIDE>())...}};
  }
  static WideFn wide_fn(int64_t mr, int64_t nv, bool masked) {
    using I = std::make_index_sequence<Cfg::MR_WIDE>;
    static const std::array<std::array<WideFn, Cfg::NV_WIDE>, Cfg::MR_WIDE> tables[2] = {wide_table<false>(I()),
                                                                                        wide_table<true>(I())};
    return tables[masked ? 1 : 0][size_t(mr - 1)][size_t(nv - 1)];
  }
  // Measured on Zen 5: the wide tile wins while all the weights stay in L2 (384->64 14x14
  // 1.016x, 576->96 14x14 1.015x, 16->96 112x112 1.10x); beyond, the 14x32 panel tiles stream
  // less from L2 and L3 (960->320 7x7: wide 0.97x).
  static bool wide(const ConvGeometry& g) {
    return Cfg::MR_WIDE > 0 && g.cout > PW && g.cin <= Cfg::KC_HWC &&
           g.cin * div_up(g.cout, PW) * PW * int64_t(sizeof(float)) <= 256 * 1024;
  }
  // The run_* functions read panel q at wp + (q - q_base) * PW * Cin: the whole packed buffer
  // (q_base = 0), or the panels of a channel range packed on the fly (run_raw).
  static void run_nhwc_wide(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp,
                            int64_t q_base, const float* bias, const Activation& act, float* y) {
    const int64_t cin = g.cin, cout = g.cout;
    const int64_t p0 = r.oh_begin * g.wo, p1 = r.oh_end * g.wo;
    // Vectors v0..v1 of the range, in near-equal groups of whole panels; a range that starts
    // inside a panel (a thread's channel block) first finishes that panel.
    const int64_t v0 = r.oc_begin / L, v1 = div_up(r.oc_end, L);
    Epilogue<V> e(act, true);
    mask cm[Cfg::NV_WIDE];
    // Blocks of pixels, each group's tiles over the block: the masks are set once per group
    // and block, and the block's outputs stay in L2 until every group has written them.
    for (int64_t pb = p0; pb < p1; pb += Cfg::MC_HWC) {
      const int64_t pe = std::min(p1, pb + Cfg::MC_HWC);
      for (int64_t v = v0; v < v1;) {
        // Whole panels in near-equal groups: 10 panels -> 3, 3, 2, 2 (not 3, 3, 3, 1).
        const int64_t panels_left = div_up(v1 - v, NV_HWC), groups_left = div_up(panels_left, Cfg::NV_WIDE / NV_HWC);
        const int64_t gsize = div_up(panels_left, groups_left) * NV_HWC;
        const int64_t nv = std::min(v % NV_HWC ? NV_HWC - v % NV_HWC : gsize, v1 - v);
        bool masked = false;
        for (int64_t j = 0; j < nv; ++j) {
          const int64_t c = (v + j) * L;
          const int lo = int(std::max<int64_t>(r.oc_begin - c, 0)), hi = int(std::min<int64_t>(r.oc_end - c, L));
          cm[j] = V::lanes(lo, hi);
          masked |= lo != 0 || hi != L;
        }
        e.col_bias = bias ? bias + v * L : nullptr;
        const float* w = wp + (v / NV_HWC - q_base) * PW * cin + v % NV_HWC * L;
        near_equal_runs(pb, pe - pb, Cfg::MR_WIDE, [&](int64_t p, int64_t size, int64_t count) {
          wide_fn(size, nv, masked)(cin, x + p * cin, cin, w, y + p * cout + v * L, cout, cm, e, count);
        });
        v += nv;
      }
    }
  }

  static void run_nhwc(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp, int64_t q_base,
                       const float* bias, const Activation& act, float* y) {
    const int64_t cin = g.cin, cout = g.cout;
    const int64_t p0 = r.oh_begin * g.wo, p1 = r.oh_end * g.wo;
    const int64_t q0 = r.oc_begin / PW, q1 = div_up(r.oc_end, PW);
    // Panels wholly inside the channel range: one call runs all of them for a pixel tile.
    const int64_t qa = div_up(r.oc_begin, PW), qb = std::max(qa, r.oc_end / PW);
    const PanelTile full = panel_tile(WorkRange{0, PW, 0, 0}, 0);
    for (int64_t kb = 0; kb < cin; kb += Cfg::KC_HWC) {
      const int64_t kc = std::min<int64_t>(Cfg::KC_HWC, cin - kb);
      const bool first = kb == 0;
      Epilogue<V> e(act, kb + kc == cin);
      const auto run_panel = [&](int64_t q, int64_t p, int64_t pe, int64_t panels, const PanelTile& t) {
        const int64_t c0 = q * PW + t.shift;
        e.col_bias = bias ? bias + c0 : nullptr;
        const float* w = wp + (q - q_base) * PW * cin + kb * PW + t.shift;
        near_equal_runs(p, pe - p, MR_HWC, [&](int64_t px, int64_t size, int64_t count) {
          hwc_fn(size, t.nv, t.masked)(kc, x + px * cin + kb, cin, w, y + px * cout + c0, cout, t.cm, first, e, panels,
                                       count);
        });
      };
      // Short reductions (the weights of the whole channel range fit in L1): pixel tiles
      // outermost, every panel per tile, so the per-tile setup is paid once per pixel tile.
      const bool pixels_outer = kc * (q1 - q0) * PW * int64_t(sizeof(float)) <= 32 * 1024;
      for (int64_t pb = p0; pb < p1; pb += Cfg::MC_HWC) {
        const int64_t pe = std::min(p1, pb + Cfg::MC_HWC);
        if (pixels_outer && q0 == qa && q1 == qb && qb > qa) {
          // Whole panels only: every pixel tile of the block over all of them, in one call per run of equal tiles.
          run_panel(qa, pb, pe, qb - qa, full);
        } else if (pixels_outer) {
          for (int64_t p = pb; p < pe; p += MR_HWC) {
            const int64_t pt = std::min(pe, p + MR_HWC);
            for (int64_t q = q0; q < q1; ++q) {
              if (q == qa && qb > qa) {
                run_panel(q, p, pt, qb - qa, full);
                q = qb - 1;
              } else {
                run_panel(q, p, pt, 1, panel_tile(r, q));
              }
            }
          }
        } else {
          for (int64_t q = q0; q < q1; ++q) run_panel(q, pb, pe, 1, q >= qa && q < qb ? full : panel_tile(r, q));
        }
      }
    }
  }

  // ------------------------------------------------------------------ NCHW
  // MR output channels (one panel's lanes) x NV vectors of pixels; Masked: the last vector is
  // a tail of the pixel range, loaded and stored under cm[NV-1].
  // `tiles` consecutive tiles along the pixels in one call (the per-call setup paid once per run).
  template <int MR, int NV, bool Masked>
  static void chw_tile(int64_t kc, const float* w, const float* x, int64_t plane, float* y, mask tail, bool first,
                       const Epilogue<V>& e, int64_t tiles) {
    mask cm[NV];
    for (int j = 0; j < NV; ++j) cm[j] = j == NV - 1 ? tail : V::lanes(0, L);
    for (int64_t t = 0; t < tiles; ++t) {
      reg acc[MR][NV];
      if (first)
        gemm::zero_tile<V, MR, NV>(acc);
      else
        gemm::load_tile<V, MR, NV, Masked>(acc, y, plane, cm);
      gemm::accumulate<V, MR, NV, Masked>(acc, kc, w, 1, PW, x, L, plane, tail);
      gemm::store_tile<V, MR, NV, Masked>(acc, y, plane, cm, e);
      x += NV * L;
      y += NV * L;
    }
  }
  using ChwFn = void (*)(int64_t, const float*, const float*, int64_t, float*, mask, bool, const Epilogue<V>&,
                         int64_t);

  template <bool Masked, int MR, size_t... J>
  static std::array<ChwFn, NV_CHW> chw_row(std::index_sequence<J...>) {
    return {{&chw_tile<MR, int(J) + 1, Masked>...}};
  }
  template <bool Masked, size_t... I>
  static std::array<std::array<ChwFn, NV_CHW>, MR_CHW> chw_table(std::index_sequence<I...>) {
    return {{chw_row<Masked, int(I) + 1>(std::make_index_sequence<NV_CHW>())...}};
  }
  // The tile for `mr` output channels (1..MR_CHW) and `nv` pixel vectors (1..NV_CHW).
  static ChwFn chw_fn(int64_t mr, int64_t nv, bool masked) {
    using I = std::make_index_sequence<MR_CHW>;
    static const std::array<std::array<ChwFn, NV_CHW>, MR_CHW> tables[2] = {chw_table<false>(I()),
                                                                            chw_table<true>(I())};
    return tables[masked ? 1 : 0][size_t(mr - 1)][size_t(nv - 1)];
  }

  static void run_nchw(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp, int64_t q_base,
                       const float* bias, const Activation& act, float* y) {
    const int64_t cin = g.cin, plane = g.h * g.w;
    const int64_t p0 = r.oh_begin * g.wo, p1 = r.oh_end * g.wo;
    constexpr int64_t NP = int64_t(NV_CHW) * L;
    for (int64_t kb = 0; kb < cin; kb += Cfg::KC_CHW) {
      const int64_t kc = std::min<int64_t>(Cfg::KC_CHW, cin - kb);
      const bool first = kb == 0;
      Epilogue<V> e(act, kb + kc == cin);
      for (int64_t pb = p0; pb < p1; pb += Cfg::MC_CHW) {
        const int64_t pe = std::min(p1, pb + Cfg::MC_CHW);
        for (int64_t o = r.oc_begin; o < r.oc_end;) {
          // A tile of channels never crosses a panel: its weights are lanes of one panel.
          const int64_t q = o / PW;
          const int64_t mr = std::min<int64_t>({MR_CHW, r.oc_end - o, (q + 1) * PW - o});
          const float* w = wp + (q - q_base) * PW * cin + kb * PW + (o - q * PW);
          e.row_bias = bias ? bias + o : nullptr;
          // The whole NP-pixel tiles in one call, then the rest.
          const int64_t full = (pe - pb) / NP;
          if (full > 0)
            chw_fn(mr, NV_CHW, false)(kc, w, x + kb * plane + pb, plane, y + o * plane + pb, V::lanes(0, L), first, e,
                                      full);
          if (const int64_t p = pb + full * NP; p < pe) {
            const int64_t nv = div_up(pe - p, L);
            const int rem = int(pe - p - (nv - 1) * L);
            chw_fn(mr, nv, rem != L)(kc, w, x + kb * plane + p, plane, y + o * plane + p, V::lanes(0, rem), first, e, 1);
          }
          o += mr;
        }
      }
    }
  }

  // ------------------------------------------------------------------ NCHW, few pixels
  // When the image has few pixels (7x7: 49 = 3 vectors + 1 lane) vectors over pixels waste
  // lanes; this path runs the NHWC tile (MR pixels x PW output channels, vectors over the
  // panel) with the broadcast read down the input's columns (si = 1, sk = plane), and writes
  // the tile transposed (8 x 8 blocks in registers, one masked store per channel). The whole
  // reduction runs in registers, so the tile is written once. Its pixels are consecutive, so
  // all MR broadcasts share one base register: the full MR_HWC tile (AVX-512 14 pixels, in
  // near-equal tiles) measured 1.01-1.03x over 7-pixel tiles (960->320 7x7 113.5 -> 110.1 us).
  template <int MR, int NV>
  static void chw_t_tile(int64_t cin, const float* x, int64_t plane, const float* w, float* y, int lo, int hi,
                         const mask* cm, const Epilogue<V>& e) {
    reg acc[MR][NV];
    gemm::zero_tile<V, MR, NV>(acc);
    gemm::accumulate<V, MR, NV, false>(acc, cin, x, 1, plane, w, L, PW, mask{});
    alignas(64) float t[MR][NV * L];
    gemm::store_tile<V, MR, NV, true>(acc, &t[0][0], NV * L, cm, e);
    // 8 pixels x 8 channels at a time.
    for (int r8 = 0; r8 < MR; r8 += 8) {
      const int nr = std::min(8, MR - r8);
      for (int c8 = lo / 8 * 8; c8 < hi; c8 += 8) {
        __m256 rows[8];
        // Rows past MR repeat the last pixel: they fill the transpose and are never stored.
        for (int i = 0; i < 8; ++i) rows[i] = _mm256_load_ps(&t[r8 + std::min(i, nr - 1)][c8]);
        transpose8(rows);
        for (int c = std::max(c8, lo); c < std::min(c8 + 8, hi); ++c)
          store_first(y + c * plane + r8, rows[c - c8], nr);
      }
    }
  }
  using ChwTFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int, int, const mask*,
                          const Epilogue<V>&);
  template <int NV, size_t... I>
  static std::array<ChwTFn, MR_HWC> chw_t_row(std::index_sequence<I...>) {
    return {{&chw_t_tile<int(I) + 1, NV>...}};
  }
  static ChwTFn chw_t_fn(int64_t mr, int nv) {
    using I = std::make_index_sequence<MR_HWC>;
    static const std::array<ChwTFn, MR_HWC> rows[2] = {chw_t_row<1>(I()), chw_t_row<NV_HWC>(I())};
    return rows[nv == 1 ? 0 : 1][size_t(mr - 1)];
  }

  static void run_nchw_t(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp, int64_t q_base,
                         const float* bias, const Activation& act, float* y) {
    const int64_t cin = g.cin, plane = g.h * g.w;
    const int64_t p0 = r.oh_begin * g.wo, p1 = r.oh_end * g.wo;
    const int64_t q0 = r.oc_begin / PW, q1 = div_up(r.oc_end, PW);
    Epilogue<V> e(act, true);
    for (int64_t q = q0; q < q1; ++q) {
      const PanelTile t = panel_tile(r, q);
      const int64_t c0 = q * PW + t.shift;
      const int lo = int(std::max(r.oc_begin, c0) - c0), hi = int(std::min(r.oc_end, (q + 1) * PW) - c0);
      e.col_bias = bias ? bias + c0 : nullptr;
      const int64_t tiles = div_up(p1 - p0, MR_HWC);
      for (int64_t i = 0, p = p0; i < tiles; ++i) {
        const int64_t mr = near_equal_part(p1 - p0, tiles, i);
        chw_t_fn(mr, t.nv)(cin, x + p, plane, wp + (q - q_base) * PW * cin + t.shift, y + c0 * plane + p, lo, hi,
                           t.cm, e);
        p += mr;
      }
    }
  }

  // Lanes used by vectors over pixels vs over output channels: the transposed path wins when
  // the pixel tail wastes more.
  static bool few_pixels(const ConvGeometry& g) {
    const int64_t plane = g.h * g.w;
    const double pixel_use = double(plane) / double(div_up(plane, L) * L);
    const double channel_use = double(g.cout) / double(div_up(g.cout, L) * L);
    return plane <= 16 * L && channel_use > pixel_use;
  }

  // ------------------------------------------------------------------ raw weights
  // A call with raw weights packs the panels of its own channel range, a chunk of at most
  // Cfg::RAW_CHUNK bytes at a time, into a per-thread buffer right before the tiles that read
  // them: the packed copy stays in L2 (packing all the weights first wrote a copy the size of
  // the weights out of L2, for the kernel to read back). The tiles and each output's
  // reduction order are those of the packed call, so the results are bitwise the same.
  // Whole: the range's panels in one chunk (the wide path runs only while they fit in L2).
  using RunFn = void (*)(const ConvGeometry&, const WorkRange&, const float*, const float*, int64_t, const float*,
                         const Activation&, float*);
  template <RunFn Run, bool Whole>
  static void run_raw(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
                      const Activation& act, float* y) {
    const int64_t cin = g.cin, q0 = r.oc_begin / PW, q1 = div_up(r.oc_end, PW);
    const int64_t per =
        Whole ? q1 - q0 : std::clamp<int64_t>(Cfg::RAW_CHUNK / (PW * cin * int64_t(sizeof(float))), 1, q1 - q0);
    float* buf = thread_scratch(size_t(per * PW * cin));
    for (int64_t q = q0; q < q1; q += per) {
      const int64_t qe = std::min(q1, q + per);
      pack_panels(cin, g.cout, w, q, qe, buf);
      const WorkRange sub{std::max(r.oc_begin, q * PW), std::min(r.oc_end, qe * PW), r.oh_begin, r.oh_end};
      Run(g, sub, x, buf, q, bias, act, y);
    }
  }
  // The NHWC panel path with raw weights, packing while computing (above): each output's
  // reduction is still one FMA chain over Cin in order, so the bits are those of the packed call.
  template <int MR>
  static void hwc_tile_fused(int64_t kc, const float* x, int64_t cin, const float* w, float* y, int64_t cout,
                             bool first, const Epilogue<V>& e, PackJob& job, int64_t blocks) {
    reg acc[MR][NV_HWC];
    if (first)
      gemm::zero_tile<V, MR, NV_HWC>(acc);
    else
      gemm::load_tile<V, MR, NV_HWC, false>(acc, y, cout, nullptr);
    accumulate_packing<MR, NV_HWC>(acc, kc, x, cin, 1, w, job, blocks);
    gemm::store_tile<V, MR, NV_HWC, false>(acc, y, cout, nullptr, e);
  }
  using FusedFn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, bool, const Epilogue<V>&,
                           PackJob&, int64_t);
  template <size_t... I>
  static std::array<FusedFn, sizeof...(I)> fused_row(std::index_sequence<I...>) {
    return {{&hwc_tile_fused<int(I) + 1>...}};
  }
  static FusedFn fused_fn(int64_t mr) {
    static const auto row = fused_row(std::make_index_sequence<size_t(std::max(Cfg::MR_FUSED, 1))>());
    return row[size_t(mr - 1)];
  }
  // Full panel q of the range, while packing `job` (the next panel, or nothing).
  static void run_panel_fused(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp, int64_t q,
                              const float* bias, const Activation& act, float* y, PackJob& job) {
    const int64_t cin = g.cin, cout = g.cout;
    const int64_t p0 = r.oh_begin * g.wo, p1 = r.oh_end * g.wo;
    const int64_t kblocks = div_up(cin, Cfg::KC_HWC);
    int64_t calls = kblocks * pixel_tiles(p1 - p0);
    for (int64_t kb = 0; kb < cin; kb += Cfg::KC_HWC) {
      const int64_t kc = std::min<int64_t>(Cfg::KC_HWC, cin - kb);
      Epilogue<V> e(act, kb + kc == cin);
      e.col_bias = bias ? bias + q * PW : nullptr;
      for (int64_t pb = p0; pb < p1; pb += Cfg::MC_HWC) {
        const int64_t n = std::min(p1, pb + Cfg::MC_HWC) - pb, tiles = div_up(n, Cfg::MR_FUSED);
        for (int64_t i = 0, p = pb; i < tiles; ++i) {
          const int64_t mr = near_equal_part(n, tiles, i);
          const int64_t blocks = div_up(job.left, calls--);
          fused_fn(mr)(kc, x + p * cin + kb, cin, wp + kb * PW, y + p * cout + q * PW, cout, kb == 0, e, job, blocks);
          p += mr;
        }
      }
    }
  }
  // What a PackJob leaves of a full panel: the reduction tail (Cin % 8 inputs), element by element.
  static void pack_tail(int64_t cin, const float* src, float* dst) {
    for (int64_t k = cin / 8 * 8; k < cin; ++k)
      for (int64_t lane = 0; lane < PW; ++lane) dst[k * PW + lane] = src[lane * cin + k];
  }
  static int64_t pixel_tiles(int64_t n) {
    const int64_t full = n / Cfg::MC_HWC, rest = n % Cfg::MC_HWC;
    return full * div_up(Cfg::MC_HWC, Cfg::MR_FUSED) + div_up(rest, Cfg::MR_FUSED);
  }
  // Panels [qa, qb) wholly inside the range take the fused tiles; a partial panel at either end
  // is packed first and runs the packed path's tiles.
  static void run_nhwc_raw_fused(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                                 const float* bias, const Activation& act, float* y) {
    const int64_t cin = g.cin, cout = g.cout, ps = PW * cin;
    const int64_t q0 = r.oc_begin / PW, q1 = div_up(r.oc_end, PW);
    const int64_t qa = div_up(r.oc_begin, PW), qb = std::max(qa, r.oc_end / PW);
    // With one full panel there is nothing to pack while computing: the packed path's tiles.
    if (qb - qa < 2) return run_raw<run_nhwc, false>(g, r, x, w, bias, act, y);
    float* cur = thread_scratch(size_t(2 * ps));
    float* next = cur + ps;
    if (q0 < qa) {
      pack_panels(cin, cout, w, q0, q0 + 1, cur);
      run_nhwc(g, WorkRange{r.oc_begin, std::min(r.oc_end, qa * PW), r.oh_begin, r.oh_end}, x, cur, q0, bias, act, y);
    }
    pack_panels(cin, cout, w, qa, qa + 1, cur);
    for (int64_t q = qa; q < qb; ++q) {
      PackJob job;
      if (q + 1 < qb) job = PackJob{w + (q + 1) * ps, next, cin, 0, cin / 8 * (PW / 8), 0};
      run_panel_fused(g, r, x, cur, q, bias, act, y, job);
      if (q + 1 < qb) {
        pack_tail(cin, w + (q + 1) * ps, next);
        std::swap(cur, next);
      }
    }
    if (qb < q1) {
      pack_panels(cin, cout, w, qb, qb + 1, cur);
      run_nhwc(g, WorkRange{std::max(r.oc_begin, qb * PW), r.oc_end, r.oh_begin, r.oh_end}, x, cur, qb, bias, act, y);
    }
  }

  // The few-pixel NCHW path with raw weights: its tiles are the NHWC tiles run down the input's
  // columns, so the input's pixels are transposed to NHWC rows (a 7x7 image's input is ~1/6 of
  // a 960->320 weight), the NHWC tiles run packing while computing, and the output is
  // transposed back. Each output's reduction is the same FMA chain, so the bits are those of
  // the packed call. (Packing while computing inside the NCHW tiles did not pay: measured no
  // faster than packing each chunk first, 960->320 7x7 1.19x the packed call.)
  static void run_nchw_t_raw(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                             const float* bias, const Activation& act, float* y) {
    const int64_t cin = g.cin, cout = g.cout, plane = g.h * g.w;
    const int64_t p0 = r.oh_begin * g.wo, np = (r.oh_end - r.oh_begin) * g.wo;
    const int64_t qa = div_up(r.oc_begin, PW), qb = std::max(qa, r.oc_end / PW);
    if (qb - qa < 2 || np * cin * int64_t(sizeof(float)) > 256 * 1024)
      return run_raw<run_nchw_t, false>(g, r, x, w, bias, act, y);
    float* xt = thread_scratch<1>(size_t(np * (cin + cout)));
    float* yt = xt + np * cin;
    transpose(x + p0, plane, cin, np, xt, cin);
    ConvGeometry gt = g;
    gt.layout = Layout::NHWC;
    gt.h = gt.ho = r.oh_end - r.oh_begin;
    run_nhwc_raw_fused(gt, WorkRange{r.oc_begin, r.oc_end, 0, gt.ho}, xt, w, bias, act, yt);
    transpose(yt + r.oc_begin, cout, np, r.oc_end - r.oc_begin, y + r.oc_begin * plane + p0, plane);
  }
  // dst[c * ld_dst + i] = src[i * ld_src + c] for i < rows, c < cols.
  static void transpose(const float* src, int64_t ld_src, int64_t rows, int64_t cols, float* dst, int64_t ld_dst) {
    const int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
    for (int64_t i = 0; i < r8; i += 8)
      for (int64_t c = 0; c < c8; c += 8) transpose8x8(src + i * ld_src + c, ld_src, dst + c * ld_dst + i, ld_dst);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t c = i < r8 ? c8 : 0; c < cols; ++c) dst[c * ld_dst + i] = src[i * ld_src + c];
  }

  static void run_paired_raw(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w,
                             const float* bias, const Activation& act, float* y) {
    const WeightDims d{g.cout, g.cin, 1, 1};
    float* buf = thread_scratch(Paired<Cfg>::packed_size(d));
    Paired<Cfg>::pack(d, w, buf);
    Paired<Cfg>::run(g, r, x, buf, bias, act, y);
  }

  // ------------------------------------------------------------------ table entries
  template <RunFn Run>
  static void run_packed(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp,
                         const float* bias, const Activation& act, float* y) {
    Run(g, r, x, wp, 0, bias, act, y);
  }
  template <bool Raw>
  static KernelChoice select_nhwc(const ConvGeometry& g) {
    if constexpr (Cfg::PAIRED)
      if (paired(WeightDims{g.cout, g.cin, 1, 1}, Layout::NHWC))
        return {Cfg::name_nhwc_paired[Paired<Cfg>::vectors(g.cout) - 1], Raw ? run_paired_raw : Paired<Cfg>::run};
    if constexpr (Cfg::MR_WIDE > 0)
      if (wide(g))
        return {Cfg::name_nhwc_wide, Raw ? run_raw<run_nhwc_wide, true> : run_packed<run_nhwc_wide>};
    if constexpr (Cfg::MR_FUSED > 0)
      if (Raw) return {Cfg::name_nhwc, run_nhwc_raw_fused};
    return {Cfg::name_nhwc, Raw ? run_raw<run_nhwc, false> : run_packed<run_nhwc>};
  }
  template <bool Raw>
  static KernelChoice select_nchw(const ConvGeometry& g) {
    if (few_pixels(g)) {
      if constexpr (Cfg::MR_FUSED > 0)
        if (Raw) return {Cfg::name_nchw_t, run_nchw_t_raw};
      return {Cfg::name_nchw_t, Raw ? run_raw<run_nchw_t, false> : run_packed<run_nchw_t>};
    }
    return {Cfg::name_nchw, Raw ? run_raw<run_nchw, false> : run_packed<run_nchw>};
  }
  static LayoutKernels nhwc() { return {packed_size, pack, select_nhwc<false>, select_nhwc<true>}; }
  static LayoutKernels nchw() { return {packed_size, pack, select_nchw<false>, select_nchw<true>}; }
};

}  // namespace
}  // namespace dsconv::detail::pw
