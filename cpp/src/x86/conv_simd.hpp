// Direct standard convolution (conv2d, any groups / kernel / stride / dilation / padding) for
// AVX2+FMA and AVX-512F, instantiated with the ISA's vector traits in
// cpp/src/x86/avx2/conv_*_avx2.cpp and cpp/src/x86/avx512/conv_*_avx512.cpp.
//
// Every kernel reads the input in place (implicit GEMM, no im2col buffer) and keeps a tile of
// output pixels x output channels in registers while the reduction runs over the
// (kh, kw, cin) taps. Padding is zeros in input space: taps on padding rows are skipped, and
// padding columns are masked loads / masked broadcasts, so a NaN in the input only reaches
// outputs that read it. Three kernels:
//
// dot (NHWC, cin_g >= 64): vectors along the input channels (contiguous in NHWC). A tile is
//   L/4 pixels x 4 output channels = L accumulators, each a partial dot product over cin; one
//   transposing reduction turns them into one vector holding the 4 channels of each pixel,
//   which is the output's memory order. Packed: [cout][kh][kw][cin_g rounded up to L].
// broadcast (NHWC cin_g < 64; NCHW with narrow rows or stride != 1): vectors along cout, one
//   input value broadcast per pixel and channel; a tile is MR flattened output pixels x 2L
//   channels. Packed in panels: [cout/2L][kh][kw][cin_g][2L].
// width (NCHW): vectors along the output width, NR output channels broadcast from the same
//   panels; a tile is NR channels x up to MR vectors of one output row. Stride 1 loads
//   contiguous columns, stride 2 de-interleaves two vectors, other strides gather.
//
// The packing knows Cout, Cin/groups and the kernel size but not groups: the dot format keeps
// each channel's taps apart, and a panel that straddles a group boundary is run once per
// group, each run storing only its own lanes.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/kernel_types.hpp"

namespace dsconv::detail::conv_simd {

inline int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// ---------------------------------------------------------------------------------------------
// ISA traits
// ---------------------------------------------------------------------------------------------

struct Avx2 {
  using V = __m256;
  using M = __m256i;  // lane mask (all ones = load)
  static constexpr int L = 8;
  static const char* isa() { return "avx2"; }

  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float f) { return _mm256_set1_ps(f); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V bcast_masked(M m, const float* p) { return _mm256_and_ps(_mm256_broadcast_ss(p), _mm256_castsi256_ps(m)); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }

  // Lanes [lo, hi) (clamped to [0, L)).
  static M range(int64_t lo, int64_t hi) {
    const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const int l = int(std::clamp<int64_t>(lo, 0, L)), h = int(std::clamp<int64_t>(hi, 0, L));
    return _mm256_and_si256(_mm256_cmpgt_epi32(iota, _mm256_set1_epi32(l - 1)),
                            _mm256_cmpgt_epi32(_mm256_set1_epi32(h), iota));
  }
  static M full() { return _mm256_set1_epi32(-1); }
  static M none() { return _mm256_setzero_si256(); }
  static V maskz_load(M m, const float* p) { return _mm256_maskload_ps(p, m); }
  // a with lanes m loaded from p.
  static V load_into(V a, M m, const float* p) { return _mm256_blendv_ps(a, _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m)); }
  static void mask_store(float* p, M m, V v) { _mm256_maskstore_ps(p, m, v); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }

  // Even elements of p[0, 2L): lo covers p[0, L), hi covers p[L, 2L).
  static V load_even(const float* p, M lo, M hi) {
    const V a = _mm256_maskload_ps(p, lo), b = _mm256_maskload_ps(p + L, hi);
    const V e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2 | a4 a6 b4 b6
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  static V gather(const float* p, int64_t stride, M m) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(int(stride)));
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, idx, _mm256_castsi256_ps(m), 4);
  }

  // acc[(L/4)*m + k] -> lane 4k + m of the result holds the sum of acc[(L/4)*m + k]'s lanes.
  static V reduce(const V* a) {
    V c[4];
    for (int p = 0; p < 4; ++p)
      c[p] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * p], a[2 * p + 1], 0x20),
                           _mm256_permute2f128_ps(a[2 * p], a[2 * p + 1], 0x31));
    const V e0 = _mm256_add_ps(_mm256_shuffle_ps(c[0], c[1], _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm256_shuffle_ps(c[0], c[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const V e1 = _mm256_add_ps(_mm256_shuffle_ps(c[2], c[3], _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm256_shuffle_ps(c[2], c[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm256_add_ps(_mm256_shuffle_ps(e0, e1, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm256_shuffle_ps(e0, e1, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  // The 4 floats b[0..3] repeated in every 128-bit chunk.
  static V bcast4(const float* b) {
    const __m128 v = _mm_loadu_ps(b);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(v), v, 1);
  }
};

#if defined(__AVX512F__)
// GCC 12 warns inside its own AVX-512 intrinsics (their `__m512 __Y = __Y;` idiom, GCC bug
// 105593) wherever they are inlined; the warning says nothing about this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
struct Avx512 {
  using V = __m512;
  using M = __mmask16;
  static constexpr int L = 16;
  static const char* isa() { return "avx512"; }

  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float f) { return _mm512_set1_ps(f); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V bcast_masked(M m, const float* p) { return _mm512_maskz_broadcastss_ps(m, _mm_load_ss(p)); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }

  static M range(int64_t lo, int64_t hi) {
    const unsigned l = unsigned(std::clamp<int64_t>(lo, 0, L)), h = unsigned(std::clamp<int64_t>(hi, 0, L));
    return h > l ? M(((1u << h) - 1u) & ~((1u << l) - 1u)) : M(0);
  }
  static M full() { return M(0xFFFF); }
  static M none() { return M(0); }
  static V maskz_load(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static V load_into(V a, M m, const float* p) { return _mm512_mask_loadu_ps(a, m, p); }
  static void mask_store(float* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }

  static V load_even(const float* p, M lo, M hi) {
    const __m512i idx = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_maskz_loadu_ps(lo, p), idx, _mm512_maskz_loadu_ps(hi, p + L));
  }
  static V gather(const float* p, int64_t stride, M m) {
    const __m512i idx = _mm512_mullo_epi32(
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), _mm512_set1_epi32(int(stride)));
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, p, 4);
  }

  static V reduce(const V* a) {
    V c[8];
    for (int p = 0; p < 8; ++p)
      c[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                           _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    V d[4];
    for (int q = 0; q < 4; ++q)
      d[q] = _mm512_add_ps(_mm512_shuffle_f32x4(c[2 * q], c[2 * q + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                           _mm512_shuffle_f32x4(c[2 * q], c[2 * q + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    const V e0 = _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm512_shuffle_ps(d[0], d[1], _MM_SHUFFLE(3, 2, 3, 2)));
    const V e1 = _mm512_add_ps(_mm512_shuffle_ps(d[2], d[3], _MM_SHUFFLE(1, 0, 1, 0)),
                               _mm512_shuffle_ps(d[2], d[3], _MM_SHUFFLE(3, 2, 3, 2)));
    return _mm512_add_ps(_mm512_shuffle_ps(e0, e1, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_ps(e0, e1, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  static V bcast4(const float* b) { return _mm512_broadcast_f32x4(_mm_loadu_ps(b)); }
};
#endif

// Bias + activation in registers; must match apply_activation (NaN propagates: max/min return
// their second operand when either is NaN, so the input goes second).
template <class S>
struct Epilogue {
  using V = typename S::V;
  ActivationKind kind;
  V lo, hi, three, sixth;
  explicit Epilogue(const Activation& a)
      : kind(a.kind),
        lo(S::set1(a.kind == ActivationKind::Clamp ? a.lo : 0.0f)),
        hi(S::set1(a.kind == ActivationKind::Clamp ? a.hi : 6.0f)),
        three(S::set1(3.0f)),
        sixth(S::set1(1.0f / 6.0f)) {}
  V operator()(V v) const {
    switch (kind) {
      case ActivationKind::None: return v;
      case ActivationKind::ReLU: return S::max(lo, v);
      case ActivationKind::ReLU6:
      case ActivationKind::Clamp: return S::min(hi, S::max(lo, v));
      case ActivationKind::HardSwish: {
        const V t = S::min(hi, S::max(lo, S::add(v, three)));
        return S::mul(S::mul(v, t), sixth);
      }
    }
    return v;
  }
};

// ---------------------------------------------------------------------------------------------
// NHWC: vectors along cin, tile = L/4 pixels x 4 output channels.
// ---------------------------------------------------------------------------------------------

template <class S>
size_t nhwc_packed_size(const WeightDims& d, Layout) {
  return size_t(d.cout * d.kh * d.kw * round_up(d.cin_per_group, S::L));
}

template <class S>
void nhwc_pack(const WeightDims& d, Layout, const float* w, float* out) {
  const int64_t cpad = round_up(d.cin_per_group, S::L), taps = d.kh * d.kw;
  for (int64_t oc = 0; oc < d.cout; ++oc)
    for (int64_t t = 0; t < taps; ++t) {
      float* o = out + (oc * taps + t) * cpad;
      const float* src = w + oc * d.cin_per_group * taps + t;
      for (int64_t c = 0; c < d.cin_per_group; ++c) o[c] = src[c * taps];
      std::fill(o + d.cin_per_group, o + cpad, 0.0f);
    }
}

// How a tap's cin values split into vectors: `full` whole vectors, then an optional masked tail
// (lanes below `tail`). Rotated: the pixel pointers are `shift` floats before the pixel
// (aligned) and vector 0 holds lanes [shift, L) from there and lanes [0, shift) from `wrap`
// floats on (the pixel's last channels); the weights are rotated to match.
template <class S>
struct Chunks {
  typename S::M head, tail;
  int64_t full, wrap;
  bool rotated, has_tail;
};

// One vector c of L input channels of a tap. MASK: through `mask` (and the pixels' masks);
// WRAP: the rotated vector 0.
template <class S, bool AllValid, bool MASK, bool WRAP = false>
__attribute__((always_inline)) inline void nhwc_chunk(typename S::V* acc, const float* const* xp,
                                                      const typename S::M* xm, const float* const* wq, int64_t c,
                                                      const Chunks<S>& ch) {
  using V = typename S::V;
  using M = typename S::M;
  constexpr int MR = S::L / 4, NR = 4;
  V xv[MR];
#pragma GCC unroll 8
  for (int k = 0; k < MR; ++k) {
    const float* p = xp[k] + c * S::L;
    const M valid = AllValid ? S::full() : xm[k];
    if constexpr (WRAP) xv[k] = S::load_into(S::maskz_load(M(valid & ch.head), p), M(valid & ch.tail), p + ch.wrap);
    else if constexpr (MASK) xv[k] = S::maskz_load(M(valid & ch.tail), p);
    else xv[k] = AllValid ? S::loadu(p) : S::maskz_load(valid, p);
  }
#pragma GCC unroll 8
  for (int m = 0; m < NR; ++m) {
    const V wv = S::loadu(wq[m] + c * S::L);
#pragma GCC unroll 8
    for (int k = 0; k < MR; ++k) acc[m * MR + k] = S::fma(xv[k], wv, acc[m * MR + k]);
  }
}

// One tap (one input row, one kernel column) of a tile: a rank-L update of every accumulator
// over cin. `xm` are the pixels' masks: all set for a real pixel, none for padding or a pixel
// past the row's end (their pointers are then the image's base, never dereferenced).
template <class S, bool AllValid>
inline void nhwc_tap(typename S::V* acc, const float* const* xp, const typename S::M* xm, const float* const* wq,
                     const Chunks<S>& ch) {
  int64_t c = 0;
  if (ch.rotated) nhwc_chunk<S, AllValid, false, true>(acc, xp, xm, wq, c++, ch);
  for (; c < ch.full; ++c) nhwc_chunk<S, AllValid, false>(acc, xp, xm, wq, c, ch);
  if (ch.has_tail) nhwc_chunk<S, AllValid, true>(acc, xp, xm, wq, c, ch);
}

// Input vectors that start mid cache line (NumPy's arrays are 16-byte aligned) split every load
// across two lines: dense 3x3 144->24 56x56 808 -> 920 us, 5x5 64->64 28x28 667 -> 803 us.
// When all pixels share one misalignment (cin a multiple of L), the tiles read each pixel
// from the aligned address before it: vector 0 merges the lanes past the pixel's start with
// its last channels (two aligned loads), the other vectors are aligned loads, and the work
// range's weights are copied rotated to match (w'[i] = w[(i - shift) mod cin]). The copy reads
// each weight once, the tiles once per output pixel: it is made when the image has at least
// this many output pixels (the copy then costs well under 1%). The choice depends on the image
// and x's address only, never on the work range, so every thread count sums each output in the
// same order (bitwise identical results); an input at another 64-byte offset may round
// differently in the last bits.
constexpr int64_t kRotateMinPixels = 256;

template <class S>
void conv_nhwc(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp, const float* bias,
               const Activation& act, float* y) {
  using V = typename S::V;
  using M = typename S::M;
  constexpr int L = S::L, MR = L / 4, NR = 4;
  const int64_t cin_g = g.cin_per_group(), cout_g = g.cout_per_group();
  const int64_t cpad = round_up(cin_g, L), taps = g.kh * g.kw;
  Chunks<S> ch{S::full(), S::range(0, cin_g % L), cin_g / L, 0, false, cin_g % L != 0};
  const uintptr_t misaligned = reinterpret_cast<uintptr_t>(x) % (L * sizeof(float));
  std::vector<float> rotated;
  int64_t shift = 0, oc_first = 0;
  if (cin_g % L == 0 && misaligned % sizeof(float) == 0 && misaligned != 0 && g.ho * g.wo >= kRotateMinPixels) {
    shift = int64_t(misaligned / sizeof(float)), oc_first = r.oc_begin;
    const int64_t rows = (r.oc_end - r.oc_begin) * taps;
    rotated.resize(size_t(rows * cpad + L));  // aligned below, as the packed weights are
    float* const wr = rotated.data() + (L - reinterpret_cast<uintptr_t>(rotated.data()) / sizeof(float) % L) % L;
    for (int64_t row = 0; row < rows; ++row) {
      const float* src = wp + (oc_first * taps + row) * cpad;
      std::copy(src, src + cin_g - shift, wr + row * cpad + shift);
      std::copy(src + cin_g - shift, src + cin_g, wr + row * cpad);
    }
    wp = wr;
    ch = Chunks<S>{S::range(shift, L), S::range(0, shift), cin_g / L, cin_g, true, false};
  }
  const int64_t oc_stride = taps * cpad;
  const Epilogue<S> epi(act);
  alignas(64) float bias4[4];

  for (int64_t oh = r.oh_begin; oh < r.oh_end; ++oh) {
    const int64_t ih0 = oh * g.sh - g.pad_top;
    // Kernel rows that land on real input rows.
    const int64_t i_lo = ih0 >= 0 ? 0 : ceil_div(-ih0, g.dh);
    const int64_t i_hi = std::min(g.kh, ih0 < g.h ? ceil_div(g.h - ih0, g.dh) : int64_t(0));
    for (int64_t oc0 = r.oc_begin; oc0 < r.oc_end;) {
      const int64_t grp = oc0 / cout_g;
      const int n = int(std::min<int64_t>(NR, std::min(r.oc_end, (grp + 1) * cout_g) - oc0));
      const float* xg = x + grp * cin_g;
      const float* wq0[NR];
      for (int m = 0; m < NR; ++m) wq0[m] = wp + (oc0 - oc_first + (m < n ? m : 0)) * oc_stride;
      for (int m = 0; m < 4; ++m) bias4[m] = bias && m < n ? bias[oc0 + m] : 0.0f;
      const V bv = S::bcast4(bias4);

      for (int64_t ow0 = 0; ow0 < g.wo; ow0 += MR) {
        const int npx = int(std::min<int64_t>(MR, g.wo - ow0));
        V acc[L];
        for (int a = 0; a < L; ++a) acc[a] = S::zero();
        for (int64_t i = i_lo; i < i_hi; ++i) {
          const float* xrow = xg + (ih0 + i * g.dh) * g.w * g.cin;
          for (int64_t j = 0; j < g.kw; ++j) {
            const float* xp[MR];
            M xm[MR];
            bool all = true;
            for (int k = 0; k < MR; ++k) {
              const int64_t iw = (ow0 + k) * g.sw - g.pad_left + j * g.dw;
              const bool ok = k < npx && iw >= 0 && iw < g.w;
              xp[k] = ok ? xrow + iw * g.cin - shift : x;
              xm[k] = ok ? S::full() : S::none();
              all = all && ok;
            }
            const float* wq[NR];
            for (int m = 0; m < NR; ++m) wq[m] = wq0[m] + (i * g.kw + j) * cpad;
            if (all)
              nhwc_tap<S, true>(acc, xp, xm, wq, ch);
            else
              nhwc_tap<S, false>(acc, xp, xm, wq, ch);
          }
        }
        const V out = epi(S::add(S::reduce(acc), bv));
        alignas(64) float tmp[L];
        S::storeu(tmp, out);
        for (int k = 0; k < npx; ++k) {
          float* yp = y + (oh * g.wo + ow0 + k) * g.cout + oc0;
          if (n == 4)
            std::memcpy(yp, tmp + 4 * k, 4 * sizeof(float));
          else
            for (int m = 0; m < n; ++m) yp[m] = tmp[4 * k + m];
        }
      }
      oc0 += n;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Panel format and the broadcast kernel (both layouts). Weights in panels of P = 2L output
// channels: [cout/P][kh][kw][cin_g][P], tail lanes zero. The broadcast kernel's vectors run
// along cout: a tile is MR output pixels (flattened over rows) x P channels, one input value
// broadcast per pixel and channel. It serves NHWC with few input channels per group (the dot
// tiles would leave most lanes empty) and NCHW when the output rows are too narrow for width
// vectors or the stride is not 1. A panel that straddles a group boundary is run once per
// group, storing only that group's lanes.
// ---------------------------------------------------------------------------------------------

// NHWC uses the panel format below this many input channels per group, the dot format above.
constexpr int64_t kNhwcDotMinCin = 64;

inline bool nhwc_uses_panels(int64_t cin_per_group) { return cin_per_group < kNhwcDotMinCin; }

template <class S>
size_t panel_packed_size(const WeightDims& d) {
  return size_t(round_up(d.cout, 2 * S::L) * d.kh * d.kw * d.cin_per_group);
}

// Loop order for speed (raw-weight calls pack on every call): per input channel, the panel's
// 32 (or 16) source rows advance together, and each channel's kh*kw output rows are written
// whole.
template <class S>
void panel_pack(const WeightDims& d, const float* w, float* out) {
  constexpr int P = 2 * S::L;
  const int64_t taps = d.kh * d.kw, cin_g = d.cin_per_group, panels = ceil_div(d.cout, P);
  for (int64_t p = 0; p < panels; ++p) {
    float* o = out + p * taps * cin_g * P;
    const int lanes = int(std::min<int64_t>(P, d.cout - p * P));
    for (int64_t c = 0; c < cin_g; ++c) {
      for (int lane = 0; lane < lanes; ++lane) {
        const float* src = w + ((p * P + lane) * cin_g + c) * taps;
        for (int64_t t = 0; t < taps; ++t) o[(t * cin_g + c) * P + lane] = src[t];
      }
      for (int lane = lanes; lane < P; ++lane)
        for (int64_t t = 0; t < taps; ++t) o[(t * cin_g + c) * P + lane] = 0.0f;
    }
  }
}

// One tap: xp[k] is pixel k's input at channel 0 of the group, cs the channel stride; NV
// vectors of channels (the whole panel, or one half of it). With Interior false, a pixel whose
// `ok` mask is none (padding) contributes a zero broadcast; its pointer is still a valid
// address.
template <class S, int MR, int NV, bool Interior>
inline void bcast_tap(typename S::V* acc, const float* const* xp, const typename S::M* ok, const float* wt,
                      int64_t cin_g, int64_t cs) {
  using V = typename S::V;
  constexpr int L = S::L, P = 2 * L;
  for (int64_t c = 0, off = 0; c < cin_g; ++c, off += cs) {
    V w[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) w[v] = S::loadu(wt + c * P + v * L);
#pragma GCC unroll 32
    for (int k = 0; k < MR; ++k) {
      const V b = Interior ? S::bcast(xp[k] + off) : S::bcast_masked(ok[k], xp[k] + off);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[NV * k + v] = S::fma(b, w[v], acc[NV * k + v]);
    }
  }
}

// A tile whose every receptive field lies inside the image: the whole reduction as one loop
// over (tap, channel), the input offsets of which come from a table shared by every pixel.
template <class S, int MR, int NV>
inline void bcast_flat(typename S::V* acc, const float* const* xp, const int64_t* offs, const float* wt, int64_t steps) {
  using V = typename S::V;
  constexpr int L = S::L, P = 2 * L;
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t off = offs[t];
    V w[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) w[v] = S::loadu(wt + t * P + v * L);
#pragma GCC unroll 32
    for (int k = 0; k < MR; ++k) {
      const V b = S::bcast(xp[k] + off);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[NV * k + v] = S::fma(b, w[v], acc[NV * k + v]);
    }
  }
}

// What every tile of one conv_bcast call shares.
template <class S>
struct BcastCall {
  const ConvGeometry& g;
  const Epilogue<S>& epi;
  int64_t cin_g, rs, ps, cs, span_h, span_w, steps;
  const int64_t* offs;  // null when the table did not fit
};

// One tile: MR flattened output pixels from p0 (npx of them real) x NV vectors of channels
// starting at weight lane `base` of the panel; lanes [a, a + n) of those are stored.
template <class S, int MR, int NV, bool Nchw>
void bcast_tile(const BcastCall<S>& cl, const float* xg, const float* wt, int64_t p0, int npx, int64_t oc_base,
                int64_t a, int64_t n, const float* bias, float* y) {
  using V = typename S::V;
  using M = typename S::M;
  constexpr int L = S::L;
  const ConvGeometry& g = cl.g;
  // Top-left input corner of each pixel's receptive field (pixels past the end repeat the
  // last one: computed, never stored).
  int64_t ih0[MR], iw0[MR];
  bool inside = cl.offs != nullptr;
  const float* xb[MR];
  int64_t oh = p0 / g.wo, ow = p0 % g.wo;
  for (int k = 0; k < MR; ++k) {
    ih0[k] = oh * g.sh - g.pad_top;
    iw0[k] = ow * g.sw - g.pad_left;
    if (k + 1 < npx && ++ow == g.wo) ow = 0, ++oh;
    inside = inside && ih0[k] >= 0 && ih0[k] + cl.span_h < g.h && iw0[k] >= 0 && iw0[k] + cl.span_w < g.w;
    xb[k] = xg + ih0[k] * cl.rs + iw0[k] * cl.ps;
  }
  V acc[NV * MR];
#pragma GCC unroll 32
  for (int q = 0; q < NV * MR; ++q) acc[q] = S::zero();
  if (inside) bcast_flat<S, MR, NV>(acc, xb, cl.offs, wt, cl.steps);
  for (int64_t i = 0; i < g.kh && !inside; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const float* xp[MR];
      M ok[MR];
      bool interior = true, any = false;
      for (int k = 0; k < MR; ++k) {
        const int64_t ih = ih0[k] + i * g.dh, iw = iw0[k] + j * g.dw;
        const bool in = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
        xp[k] = in ? xg + ih * cl.rs + iw * cl.ps : xg;
        ok[k] = in ? S::full() : S::none();
        interior = interior && in;
        any = any || in;
      }
      const float* wtap = wt + (i * g.kw + j) * cl.cin_g * 2 * L;
      if (interior)
        bcast_tap<S, MR, NV, true>(acc, xp, ok, wtap, cl.cin_g, cl.cs);
      else if (any)
        bcast_tap<S, MR, NV, false>(acc, xp, ok, wtap, cl.cin_g, cl.cs);
    }
  M m[NV];
  V b[NV];
  for (int v = 0; v < NV; ++v) {
    m[v] = S::range(a - v * L, a + n - v * L);
    b[v] = bias ? S::maskz_load(m[v], bias + oc_base + v * L) : S::zero();
  }
  if (Nchw) {
    // Transpose through the stack: channel lanes become runs of the output planes.
    const int64_t plane = g.ho * g.wo;
    alignas(64) float tmp[MR][NV * L];
#pragma GCC unroll 32
    for (int k = 0; k < MR; ++k)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) S::storeu(tmp[k] + v * L, cl.epi(S::add(acc[NV * k + v], b[v])));
    for (int64_t lane = a; lane < a + n; ++lane) {
      float* yr = y + (oc_base + lane) * plane + p0;
      for (int k = 0; k < npx; ++k) yr[k] = tmp[k][lane];
    }
  } else {
#pragma GCC unroll 32
    for (int k = 0; k < MR; ++k) {
      if (k >= npx) break;
      float* yp = y + (p0 + k) * g.cout + oc_base;
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) S::mask_store(yp + v * L, m[v], cl.epi(S::add(acc[NV * k + v], b[v])));
    }
  }
}

// Tiles run over the flattened output pixels (oh, ow) of the work range, so narrow rows fill
// whole tiles; pixels are taken in chunks so that a chunk's input rows stay in cache while
// every channel panel passes over them. A tile whose channels lie in one half of the panel
// (Cout 16, a panel's tail, small groups) runs with one vector of channels and MR1 pixels.
template <class S, int MR, int MR1, bool Nchw>
void conv_bcast(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp, const float* bias,
                const Activation& act, float* y) {
  constexpr int L = S::L, P = 2 * L;
  constexpr int64_t kChunk = 16 * MR;
  const int64_t cin_g = g.cin_per_group(), cout_g = g.cout_per_group(), taps = g.kh * g.kw;
  const int64_t panel_stride = taps * cin_g * P;
  // Input addressing: pixel (ih, iw) of channel c of the group is at ih*rs + iw*ps + c*cs.
  const int64_t cs = Nchw ? g.h * g.w : 1, ps = Nchw ? 1 : g.cin, rs = g.w * ps;
  const int64_t group_stride = Nchw ? cin_g * g.h * g.w : cin_g;
  const Epilogue<S> epi(act);
  const int64_t p_begin = r.oh_begin * g.wo, p_end = r.oh_end * g.wo;
  // Offsets of the (tap, channel) reduction steps from a pixel's receptive-field corner, for
  // the interior tiles (when the table fits on the stack).
  constexpr int64_t kMaxSteps = 2048;
  const int64_t steps = taps * cin_g;
  int64_t offs[kMaxSteps];
  if (steps <= kMaxSteps)
    for (int64_t i = 0, t = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        for (int64_t c = 0; c < cin_g; ++c) offs[t++] = i * g.dh * rs + j * g.dw * ps + c * cs;
  const BcastCall<S> cl{g, epi, cin_g, rs, ps, cs, (g.kh - 1) * g.dh, (g.kw - 1) * g.dw, steps,
                        steps <= kMaxSteps ? offs : nullptr};
  for (int64_t chunk = p_begin; chunk < p_end; chunk += kChunk) {
    const int64_t chunk_end = std::min(p_end, chunk + kChunk);
    for (int64_t oc0 = r.oc_begin; oc0 < r.oc_end;) {
      const int64_t grp = oc0 / cout_g, panel = oc0 / P, a = oc0 % P;
      const int64_t n = std::min({r.oc_end, (grp + 1) * cout_g, (panel + 1) * P}) - oc0;
      const float* xg = x + grp * group_stride;
      const float* wpp = wp + panel * panel_stride;
      if (a / L == (a + n - 1) / L) {
        const int64_t half = a / L;
        for (int64_t p0 = chunk; p0 < chunk_end; p0 += MR1)
          bcast_tile<S, MR1, 1, Nchw>(cl, xg, wpp + half * L, p0, int(std::min<int64_t>(MR1, chunk_end - p0)),
                                      panel * P + half * L, a - half * L, n, bias, y);
      } else {
        for (int64_t p0 = chunk; p0 < chunk_end; p0 += MR)
          bcast_tile<S, MR, 2, Nchw>(cl, xg, wpp, p0, int(std::min<int64_t>(MR, chunk_end - p0)), panel * P, a, n,
                                     bias, y);
      }
      oc0 += n;
    }
  }
}

// The NHWC packing: which of the two formats depends only on cin_g.
template <class S>
size_t nhwc_packed_size_any(const WeightDims& d, Layout l) {
  return nhwc_uses_panels(d.cin_per_group) ? panel_packed_size<S>(d) : nhwc_packed_size<S>(d, l);
}
template <class S>
void nhwc_pack_any(const WeightDims& d, Layout l, const float* w, float* out) {
  if (nhwc_uses_panels(d.cin_per_group))
    panel_pack<S>(d, w, out);
  else
    nhwc_pack<S>(d, l, w, out);
}
template <class S>
size_t nchw_packed_size(const WeightDims& d, Layout) {
  return panel_packed_size<S>(d);
}
template <class S>
void nchw_pack(const WeightDims& d, Layout, const float* w, float* out) {
  panel_pack<S>(d, w, out);
}

// ---------------------------------------------------------------------------------------------
// NCHW: vectors along the output width, tile = NR output channels x NV vectors of one row.
// ---------------------------------------------------------------------------------------------

// How one vector of input columns is fetched for output columns at input stride s: plain
// (s = 1), even elements of two vectors (s = 2), or a gather (any other s). Masks come from
// the range of valid input columns, so padding columns and lanes past the row are zeros.
template <class S>
struct Stride1 {
  using M = typename S::M;
  struct Mask {
    M m;
  };
  // col: input column of lane 0; lanes: output lanes in this vector.
  static Mask mask(int64_t col, int64_t w, int64_t lanes, int64_t) { return {S::range(-col, std::min(lanes, w - col))}; }
  static typename S::V load(const float* p, const Mask& m, int64_t) { return S::maskz_load(m.m, p); }
};

template <class S>
struct Stride2 {
  using M = typename S::M;
  struct Mask {
    M lo, hi;
  };
  static Mask mask(int64_t col, int64_t w, int64_t lanes, int64_t) {
    const int64_t lo = -col, hi = std::min(2 * lanes - 1, w - col);  // raw elements [lo, hi)
    return {S::range(lo, hi), S::range(lo - S::L, hi - S::L)};
  }
  static typename S::V load(const float* p, const Mask& m, int64_t) { return S::load_even(p, m.lo, m.hi); }
};

template <class S>
struct StrideN {
  using M = typename S::M;
  struct Mask {
    M m;
  };
  static Mask mask(int64_t col, int64_t w, int64_t lanes, int64_t s) {
    // lane l reads column col + l*s: valid for l in [ceil(-col/s), ceil((w-col)/s)).
    const int64_t lo = col >= 0 ? 0 : ceil_div(-col, s);
    const int64_t hi = w - col <= 0 ? 0 : ceil_div(w - col, s);
    return {S::range(lo, std::min(hi, lanes))};
  }
  static typename S::V load(const float* p, const Mask& m, int64_t s) { return S::gather(p, s, m.m); }
};

// One tile: N output channels (consecutive lanes of a weight panel) x NV vectors. Every loop
// over the accumulators is unrolled so that they live in registers across the reduction.
template <class S, template <class> class Ld, int N, int NV>
void nchw_tile(const ConvGeometry& g, const float* xg, const float* wpanel, int64_t oh, int64_t ow0, int64_t i_lo,
               int64_t i_hi, const float* bias, const Epilogue<S>& epi, float* yc) {
  using V = typename S::V;
  using Loader = Ld<S>;
  constexpr int L = S::L, P = 2 * L;
  const int64_t cin_g = g.cin_per_group(), hw = g.h * g.w, s = g.sw, kw = g.kw, w = g.w;
  const int64_t row_step = g.dh * w, wrow_step = kw * cin_g * P;
  const int64_t x_first = (oh * g.sh - g.pad_top + i_lo * g.dh) * w;
  const int64_t rows = i_hi - i_lo;
  V acc[N * NV];
#pragma GCC unroll 32
  for (int a = 0; a < N * NV; ++a) acc[a] = S::zero();
  for (int64_t j = 0; j < kw && rows > 0; ++j) {
    const int64_t col0 = ow0 * s - g.pad_left + j * g.dw;
    typename Loader::Mask mk[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) mk[v] = Loader::mask(col0 + v * L * s, w, std::min<int64_t>(L, g.wo - ow0 - v * L), s);
    const float* xc = xg + x_first + col0;
    const float* wc = wpanel + (i_lo * kw + j) * cin_g * P;
    for (int64_t c = 0; c < cin_g; ++c, xc += hw, wc += P) {
      const float* xr = xc;
      const float* wt = wc;
      for (int64_t i = 0; i < rows; ++i, xr += row_step, wt += wrow_step) {
        V xv[NV];
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) xv[v] = Loader::load(xr + v * L * s, mk[v], s);
#pragma GCC unroll 8
        for (int m = 0; m < N; ++m) {
          const V wv = S::bcast(wt + m);
#pragma GCC unroll 8
          for (int v = 0; v < NV; ++v) acc[m * NV + v] = S::fma(xv[v], wv, acc[m * NV + v]);
        }
      }
    }
  }
  const int64_t plane = g.ho * g.wo;
#pragma GCC unroll 8
  for (int m = 0; m < N; ++m) {
    const V b = S::set1(bias ? bias[m] : 0.0f);
    float* yr = yc + m * plane + oh * g.wo + ow0;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const V o = epi(S::add(acc[m * NV + v], b));
      const int64_t lanes = std::min<int64_t>(L, g.wo - ow0 - v * L);
      if (lanes == L)
        S::storeu(yr + v * L, o);
      else
        S::mask_store(yr + v * L, S::range(0, lanes), o);
    }
  }
}

template <class S, template <class> class Ld, int NR, int MR>
struct NchwTiles {
  using Fn = void (*)(const ConvGeometry&, const float*, const float*, int64_t, int64_t, int64_t, int64_t, const float*,
                      const Epilogue<S>&, float*);
  template <int N, int... V>
  static constexpr auto row(std::integer_sequence<int, V...>) {
    return std::array<Fn, MR>{&nchw_tile<S, Ld, N, V + 1>...};
  }
  template <int... N>
  static constexpr auto table(std::integer_sequence<int, N...>) {
    return std::array<std::array<Fn, MR>, NR>{row<N + 1>(std::make_integer_sequence<int, MR>())...};
  }
  // fns[n-1][nv-1]
  static Fn get(int n, int nv) {
    static constexpr auto fns = table(std::make_integer_sequence<int, NR>());
    return fns[n - 1][nv - 1];
  }
};

template <class S, template <class> class Ld, int NR, int MR>
void conv_nchw(const ConvGeometry& g, const WorkRange& r, const float* x, const float* wp, const float* bias,
               const Activation& act, float* y) {
  constexpr int L = S::L, P = 2 * L;
  static_assert(P % NR == 0, "tiles split a panel evenly");
  const int64_t cin_g = g.cin_per_group(), cout_g = g.cout_per_group();
  const int64_t k = cin_g * g.kh * g.kw, plane = g.ho * g.wo;
  const Epilogue<S> epi(act);
  // Rows outermost: one output row's input rows stay in cache while every channel tile
  // passes over them.
  for (int64_t oh = r.oh_begin; oh < r.oh_end; ++oh) {
    const int64_t ih0 = oh * g.sh - g.pad_top;
    const int64_t i_lo = ih0 >= 0 ? 0 : ceil_div(-ih0, g.dh);
    const int64_t i_hi = std::min(g.kh, ih0 < g.h ? ceil_div(g.h - ih0, g.dh) : int64_t(0));
    for (int64_t oc0 = r.oc_begin; oc0 < r.oc_end;) {
      const int64_t grp = oc0 / cout_g, panel = oc0 / P, lane0 = oc0 % P;
      const int n = int(std::min({r.oc_end, (grp + 1) * cout_g, (panel + 1) * P, oc0 + NR}) - oc0);
      const float* xg = x + grp * cin_g * g.h * g.w;
      const float* wpanel = wp + panel * k * P + lane0;
      for (int64_t ow0 = 0; ow0 < g.wo; ow0 += MR * L) {
        const int nv = int(std::min<int64_t>(MR, ceil_div(g.wo - ow0, L)));
        NchwTiles<S, Ld, NR, MR>::get(n, nv)(g, xg, wpanel, oh, ow0, i_lo, i_hi, bias ? bias + oc0 : nullptr, epi,
                                             y + oc0 * plane);
      }
      oc0 += n;
    }
  }
}

// NCHW kernel choice: width vectors waste the lanes past the row's end (and stride 2 costs a
// shuffle per load, other strides a gather); the broadcast kernel wastes the panel's lanes past
// the group's channels and transposes its tile on the way out. Ties go to width vectors.
template <class S>
bool nchw_prefers_bcast(const ConvGeometry& g) {
  const double width = double(g.wo) / double(round_up(g.wo, S::L)) * (g.sw == 1 ? 1.0 : 0.7);
  const double bcast = double(g.cout_per_group()) / double(round_up(g.cout_per_group(), 2 * S::L));
  return bcast > width;
}

}  // namespace dsconv::detail::conv_simd
