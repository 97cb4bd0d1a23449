// Depthwise convolution, NHWC, NEON: vectors across channels.
//
// Specialised 3x3 / 5x5, stride 1 / 2 (dilation 1, multiplier 1): the weights of a block of
// 4 channels live in registers for a whole row band; P output pixels per step, and each input
// vector loaded feeds every output pixel of the step that uses it (up to K FMAs): a kernel row
// loads (P-1)*S + K vectors for P*K FMAs, and no weights.
//   aarch64 (32 registers): 3x3 with P = 8: 9 weight + 8 accumulator + 1 input registers;
//     0.42 loads/FMA (s1), 0.71 (s2). 5x5 with P = 4: 25 + 4 + 1; 0.40 (s1), 0.55 (s2).
//   armv7 (16 registers): P = 4; 3x3: 9 + 4 + 1, 0.50 (s1), 0.75 (s2); 5x5's 25 weight
//     vectors do not fit, so the compiler reloads part of them from L1 (up to one more load
//     per P FMAs).
// Generic path (any kernel, stride, dilation): one weight vector load per tap shared by the P
// pixels, one input load per FMA: 1 + 1/P loads/FMA.
// Depth multiplier m > 1 (generic path): the call is m slices (output channels c*m + j for
// fixed j), each with its weights gathered once per call into a [tap][c] plane; input loads
// stay contiguous, outputs are stored m floats apart.
// Borders: output columns whose taps all fall inside the input run the tiles above; the
// others (and all columns' rows) clip their tap ranges once per pixel/row: no per-tap branch.
// Channel tails (< 4) use lane loads/stores (no over-read).
// x86 twin (dwconv_nhwc_simd.hpp, dwconv_3x3_nhwc_avx512 ...): the same tiling — weights of
// a channel block in registers, T output pixels per step, each input column of the step's
// footprint loaded once: (T-1)*S + K loads per T*K FMAs, with 16 (AVX-512) or 8 (AVX2)
// channels per vector where NEON has 4; masked loads for channel tails.
#include <algorithm>

#include "arm/arm_kernels.hpp"
#include "arm/neon/neon_common.hpp"

namespace dsconv::detail {
namespace {
using namespace neon;

constexpr int kP = 4;  // output pixels per step

// One depth-multiplier slice: output channel c*m + j for input channel c.
struct Slice {
  const float* w;     // w[t * ldw + c], t = i * kw + j
  int64_t ldw;
  const float* bias;  // bias[c], or null
  float* y;           // output pixel q, channel c: y[q * cout + c * m]
  int64_t m;
};

template <bool Partial>
struct Block {
  int64_t c;  // first input channel of the block
  Lanes<Partial> lanes;
};

template <bool Partial>
inline void put(const Slice& s, const Lanes<Partial>& l, float* p, float32x4_t v) {
  if (s.m == 1) l.store(p, v);
  else store_strided(p, v, Partial ? l.n : 4, s.m);
}

template <bool Partial>
inline float32x4_t bias_of(const Slice& s, const Lanes<Partial>& l, int64_t c) {
  return s.bias ? l.load(s.bias + c) : vdupq_n_f32(0.0f);
}

// Tap range [lo, hi) of a kernel axis whose taps k land on input o + k*d inside [0, n).
inline void clip_taps(int64_t o, int64_t d, int64_t k, int64_t n, int64_t& lo, int64_t& hi) {
  lo = o >= 0 ? 0 : ceil_div(-o, d);
  hi = o + (k - 1) * d < n ? k : (n - 1 - o < 0 ? 0 : (n - 1 - o) / d + 1);
  if (hi < lo) hi = lo;
}

// One output pixel, any geometry, weights from the plane (borders and generic tails).
template <int CV, bool Partial>
inline void pixel(const ConvGeometry& g, const Slice& s, const float* x, const Block<Partial>& b, int64_t oh,
                  int64_t ow, int64_t i0, int64_t i1, const Epilogue& act) {
  int64_t j0, j1;
  const int64_t iw0 = ow * g.sw - g.pad_left, ih0 = oh * g.sh - g.pad_top;
  clip_taps(iw0, g.dw, g.kw, g.w, j0, j1);
  float32x4_t acc[CV];
  for (int v = 0; v < CV; ++v) acc[v] = bias_of(s, b.lanes, b.c + 4 * v);
  for (int64_t i = i0; i < i1; ++i) {
    const float* xr = x + ((ih0 + i * g.dh) * g.w + iw0) * g.cin + b.c;
    const float* wr = s.w + i * g.kw * s.ldw + b.c;
    for (int64_t j = j0; j < j1; ++j)
      for (int v = 0; v < CV; ++v)
        acc[v] = fma(acc[v], b.lanes.load(xr + j * g.dw * g.cin + 4 * v), b.lanes.load(wr + j * s.ldw + 4 * v));
  }
  float* out = s.y + (oh * g.wo + ow) * g.cout + b.c * s.m;
  for (int v = 0; v < CV; ++v) put(s, b.lanes, out + 4 * v * s.m, act(acc[v]));
}

// Output columns [lo, hi) whose kw taps all fall inside the input.
inline void interior_columns(const ConvGeometry& g, int64_t& lo, int64_t& hi) {
  lo = std::min(g.wo, ceil_div(g.pad_left, g.sw));
  const int64_t last = g.w - 1 + g.pad_left - (g.kw - 1) * g.dw;
  hi = last < 0 ? lo : std::clamp(last / g.sw + 1, lo, g.wo);
}

// Specialised K x K, stride S: weights in registers, P pixels per step.
template <int K, int S>
struct Fixed {
  static constexpr int kCV = 1;
  static constexpr int kPixels = (K == 3 && kVectorRegisters == 32) ? 8 : 4;

  template <int P, int CV, bool Partial>
  static inline void step(const ConvGeometry& g, const Slice& s, const float* x, const Block<Partial>& b,
                          const float32x4_t (&wr)[K * K][CV], int64_t oh, int64_t ow, int64_t i0, int64_t i1,
                          const Epilogue& act) {
    float32x4_t acc[P][CV];
    for_each_index<CV>([&](auto v) DSCONV_UNROLL {
      const float32x4_t bv = bias_of(s, b.lanes, b.c + 4 * v);
      for_each_index<P>([&](auto p) DSCONV_UNROLL { acc[p][v] = bv; });
    });
    const int64_t ih0 = oh * S - g.pad_top;
    for_each_index<K>([&](auto i) DSCONV_UNROLL {
      if (i < i0 || i >= i1) return;
      const float* xr = x + ((ih0 + i) * g.w + ow * S - g.pad_left) * g.cin + b.c;
      for_each_index<(P - 1) * S + K>([&](auto q) DSCONV_UNROLL {
        float32x4_t in[CV];
        for_each_index<CV>([&](auto v) DSCONV_UNROLL { in[v] = b.lanes.load(xr + q * g.cin + 4 * v); });
        for_each_index<P>([&](auto p) DSCONV_UNROLL {
          constexpr int j = decltype(q)::value - decltype(p)::value * S;
          if constexpr (j >= 0 && j < K)
            for_each_index<CV>([&](auto v) DSCONV_UNROLL { acc[p][v] = fma(acc[p][v], in[v], wr[i * K + j][v]); });
        });
      });
    });
    float* out = s.y + (oh * g.wo + ow) * g.cout + b.c * s.m;
    for_each_index<P>([&](auto p) DSCONV_UNROLL {
      for_each_index<CV>([&](auto v) DSCONV_UNROLL { put(s, b.lanes, out + p * g.cout + 4 * v * s.m, act(acc[p][v])); });
    });
  }

  template <int CV, bool Partial>
  static void rows(const ConvGeometry& g, const Slice& s, const float* x, const Block<Partial>& b, int64_t oh0,
                   int64_t oh1, const Epilogue& act) {
    float32x4_t wr[K * K][CV];
    for (int t = 0; t < K * K; ++t)
      for (int v = 0; v < CV; ++v) wr[t][v] = b.lanes.load(s.w + t * s.ldw + b.c + 4 * v);
    int64_t lo, hi;
    interior_columns(g, lo, hi);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      int64_t i0, i1;
      clip_taps(oh * S - g.pad_top, 1, K, g.h, i0, i1);
      int64_t ow = 0;
      for (; ow < lo; ++ow) pixel<CV>(g, s, x, b, oh, ow, i0, i1, act);
      for (; ow + kPixels <= hi; ow += kPixels) step<kPixels, CV>(g, s, x, b, wr, oh, ow, i0, i1, act);
      for (; ow < hi; ++ow) step<1, CV>(g, s, x, b, wr, oh, ow, i0, i1, act);
      for (; ow < g.wo; ++ow) pixel<CV>(g, s, x, b, oh, ow, i0, i1, act);
    }
  }
};

// Any kernel size, stride and dilation: weights loaded per tap, P pixels per step.
struct Generic {
  static constexpr int kCV = kVectorRegisters == 32 ? 2 : 1;

  template <int P, int CV, bool Partial>
  static inline void step(const ConvGeometry& g, const Slice& s, const float* x, const Block<Partial>& b,
                          int64_t oh, int64_t ow, int64_t i0, int64_t i1, const Epilogue& act) {
    float32x4_t acc[P][CV];
    for_each_index<CV>([&](auto v) DSCONV_UNROLL {
      const float32x4_t bv = bias_of(s, b.lanes, b.c + 4 * v);
      for_each_index<P>([&](auto p) DSCONV_UNROLL { acc[p][v] = bv; });
    });
    const int64_t ih0 = oh * g.sh - g.pad_top, pix_step = g.sw * g.cin, tap_step = g.dw * g.cin;
    for (int64_t i = i0; i < i1; ++i) {
      const float* xr = x + ((ih0 + i * g.dh) * g.w + ow * g.sw - g.pad_left) * g.cin + b.c;
      const float* wr = s.w + i * g.kw * s.ldw + b.c;
      for (int64_t j = 0; j < g.kw; ++j, xr += tap_step, wr += s.ldw) {
        float32x4_t wv[CV];
        for_each_index<CV>([&](auto v) DSCONV_UNROLL { wv[v] = b.lanes.load(wr + 4 * v); });
        for_each_index<P>([&](auto p) DSCONV_UNROLL {
          for_each_index<CV>([&](auto v) DSCONV_UNROLL { acc[p][v] = fma(acc[p][v], b.lanes.load(xr + p * pix_step + 4 * v), wv[v]); });
        });
      }
    }
    float* out = s.y + (oh * g.wo + ow) * g.cout + b.c * s.m;
    for_each_index<P>([&](auto p) DSCONV_UNROLL {
      for_each_index<CV>([&](auto v) DSCONV_UNROLL { put(s, b.lanes, out + p * g.cout + 4 * v * s.m, act(acc[p][v])); });
    });
  }

  template <int CV, bool Partial>
  static void rows(const ConvGeometry& g, const Slice& s, const float* x, const Block<Partial>& b, int64_t oh0,
                   int64_t oh1, const Epilogue& act) {
    int64_t lo, hi;
    interior_columns(g, lo, hi);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      int64_t i0, i1;
      clip_taps(oh * g.sh - g.pad_top, g.dh, g.kh, g.h, i0, i1);
      int64_t ow = 0;
      for (; ow < lo; ++ow) pixel<CV>(g, s, x, b, oh, ow, i0, i1, act);
      for (; ow + kP <= hi; ow += kP) step<kP, CV>(g, s, x, b, oh, ow, i0, i1, act);
      for (; ow < hi; ++ow) step<1, CV>(g, s, x, b, oh, ow, i0, i1, act);
      for (; ow < g.wo; ++ow) pixel<CV>(g, s, x, b, oh, ow, i0, i1, act);
    }
  }
};

// Packed weights: [tap][oc], oc contiguous, so a channel block's weights of one tap are one
// vector load (and m == 1 calls use them as they are).
size_t packed_size(const WeightDims& d, Layout) { return size_t(d.kh * d.kw * d.cout); }
void pack(const WeightDims& d, Layout, const float* w, float* out) {
  const int64_t taps = d.kh * d.kw;
  for (int64_t oc = 0; oc < d.cout; ++oc)
    for (int64_t t = 0; t < taps; ++t) out[t * d.cout + oc] = w[oc * taps + t];
}

template <class Kernel>
void run(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
         const Activation& a, float* y) {
  const Epilogue act(a);
  const int64_t m = g.multiplier(), C = g.cin, taps = g.kh * g.kw;
  const int64_t c0 = r.oc_begin / m, c1 = r.oc_end / m;
  constexpr int CV = Kernel::kCV;
  for (int64_t j = 0; j < m; ++j) {
    Slice s{w, g.cout, bias, y, 1};
    if (m > 1) {
      thread_local std::vector<float> buf;
      float* plane = scratch(buf, size_t(taps * C + C));
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t c = c0; c < c1; ++c) plane[t * C + c] = w[t * g.cout + c * m + j];
      if (bias)
        for (int64_t c = c0; c < c1; ++c) plane[taps * C + c] = bias[c * m + j];
      s = Slice{plane, C, bias ? plane + taps * C : nullptr, y + j, m};
    }
    int64_t c = c0;
    for (; c + 4 * CV <= c1; c += 4 * CV)
      Kernel::template rows<CV>(g, s, x, Block<false>{c, {}}, r.oh_begin, r.oh_end, act);
    for (; c + 4 <= c1; c += 4) Kernel::template rows<1>(g, s, x, Block<false>{c, {}}, r.oh_begin, r.oh_end, act);
    if (c < c1) {
      Block<true> b{c, {}};
      b.lanes.n = int(c1 - c);
      Kernel::template rows<1>(g, s, x, b, r.oh_begin, r.oh_end, act);
    }
  }
}

KernelChoice select(const ConvGeometry& g) {
  // The specialised kernels would run m > 1 too (as slices), but the generic one's name is
  // what the x86 families report for a multiplier, and the work per slice is the same.
  const bool square = g.kh == g.kw && g.sh == g.sw && g.dh == 1 && g.dw == 1 && g.multiplier() == 1;
  if (square && g.kh == 3 && g.sh == 1) return {"neon/dwconv_3x3s1_nhwc", run<Fixed<3, 1>>};
  if (square && g.kh == 3 && g.sh == 2) return {"neon/dwconv_3x3s2_nhwc", run<Fixed<3, 2>>};
  if (square && g.kh == 5 && g.sh == 1) return {"neon/dwconv_5x5s1_nhwc", run<Fixed<5, 1>>};
  if (square && g.kh == 5 && g.sh == 2) return {"neon/dwconv_5x5s2_nhwc", run<Fixed<5, 2>>};
  return {"neon/dwconv_generic_nhwc", run<Generic>};
}

}  // namespace

LayoutKernels dwconv_nhwc_neon() { return {packed_size, pack, select}; }

}  // namespace dsconv::detail
