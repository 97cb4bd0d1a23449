// Depthwise convolution, NCHW, NEON: vectors along the output width.
//
// Each input channel's rows that the work range needs are first copied once into a padded
// plane (zero rows and columns around the image, slack on the right), so every tap below is
// an unconditional load and no border is special; the plane is reused by the m output
// channels of a depth multiplier. Copy: (rows x padded width) floats per channel, against
// ho*wo*kh*kw FMAs.
//
// Specialised 3x3 / 5x5, stride 1 / 2, and 7x7 stride 1 (dilation 1): weights in registers (K*K floats in
// ceil(K*K/4) vectors, FMA by element), a tile of RT output rows x U vectors (4U columns):
// each input row is loaded once per tile and feeds every output row of the tile that uses it.
//   stride 1: U+1 vector loads per input row, the K shifted taps built with vext (no load);
//   stride 2: U+1 vld2q (deinterleaved even/odd columns), shifted taps with vext.
//   aarch64: U = 2; RT = 4 for 3x3: 8 accumulators + 3 weight vectors, 3x3 s1 reads 6 rows x
//     3 loads for 72 FMAs (0.25 loads/FMA), 3x3 s2 9 rows x 3 vld2q (0.38); 5x5 s1 RT = 2:
//     6 x 3 for 100 (0.18); 5x5 s2 RT = 1: 5 x 3 vld2q for 50 (0.30); 7x7 s1 RT = 1: 13
//     weight vectors, 7 x 4 loads for 98 FMAs (0.29; GCC adds ~0.27 stack accesses per FMA).
//   armv7 (16 registers; the by-element multiply-add is vmla there, see fma_lane): 3x3 with
//     U = 2, RT = 2 (4 x 3 loads for 36 FMAs: 0.33); 5x5 and 7x7 with U = 1, RT = 1 (5 x 2
//     loads for 25 FMAs: 0.40; 7 x 3 for 49: 0.43). GCC 12 still spills part of these tiles on armv7 (its schedule hoists all the
//     row loads, and by-element operands must sit in q0-q7): about 0.6 stack accesses per FMA
//     for 3x3 and 1.1 for 5x5 in the generated code; worth measuring on a 32-bit board.
// Generic path (any kernel, stride, dilation): U = 2 vectors per step, one weight broadcast
// per tap shared by the U vectors, one input load per FMA (stride 2/3 with vld2q/vld3q
// deinterleave, larger strides with lane loads): 1.5 loads/FMA.
// x86 twin (dwconv_nchw_simd.hpp, dwconv_3x3s1_nchw_avx512 ...): R output rows per tile
// reusing each loaded input row, weights broadcast in registers, stride 2 by permutes; x86 has
// no cheap cross-lane shift, so each tap column loads its own vector there:
// ((R-1)*S + K) * K loads per R*K*K FMAs, where NEON's vext makes it ((R-1)*S + K) * (U+1)
// per R*U*K*K.
#include <algorithm>
#include <cstring>

#include "arm/arm_kernels.hpp"
#include "arm/neon/neon_common.hpp"

namespace dsconv::detail {
namespace {
using namespace neon;

constexpr int kU = 2;  // vectors along the width per step

// Output rows per tile of the specialised kernels: as many as the registers hold with the
// weights (ceil(K*K/4)), the RT*U accumulators and the U+1 loaded vectors (x2 for vld2q).
// Vectors along the width per step of the specialised kernels (armv7's 5x5: one, or spills).
template <int K, int S>
constexpr int width_vectors() {
  return kVectorRegisters == 16 && K >= 5 ? 1 : kU;
}
template <int K, int S>
constexpr int row_tile() {
  if (kVectorRegisters == 32) return K == 3 ? 4 : (K == 5 && S == 1 ? 2 : 1);
  return K == 3 ? 2 : 1;
}
constexpr int64_t kSlack = 16;  // readable zeros right of the last needed column

// The padded plane of one input channel for output rows [oh0, oh1): row r is input row
// oh0*sh - pad_top + r, column q is input column q - pad_left.
struct Plane {
  const float* p;
  int64_t ld;
};

int64_t padded_width(const ConvGeometry& g) {
  const int64_t wo_pad = ceil_div(g.wo, 4 * kU) * 4 * kU;
  return ceil_div((wo_pad - 1) * g.sw + (g.kw - 1) * g.dw + 1 + kSlack, 4) * 4;
}

Plane build_plane(const ConvGeometry& g, const float* xc, int64_t oh0, int64_t oh1, std::vector<float>& buf) {
  const int64_t ld = padded_width(g);
  const int64_t rows = (oh1 - 1 - oh0) * g.sh + (g.kh - 1) * g.dh + 1;
  float* p = scratch(buf, size_t(rows * ld));
  const int64_t ih0 = oh0 * g.sh - g.pad_top;
  const int64_t ncopy = std::clamp<int64_t>(ld - g.pad_left, 0, g.w);
  const int64_t left = std::min(g.pad_left, ld);
  for (int64_t r = 0; r < rows; ++r) {
    float* row = p + r * ld;
    const int64_t ih = ih0 + r;
    if (ih < 0 || ih >= g.h || ncopy == 0) {
      std::memset(row, 0, sizeof(float) * size_t(ld));
      continue;
    }
    std::memset(row, 0, sizeof(float) * size_t(left));
    std::memcpy(row + left, xc + ih * g.w, sizeof(float) * size_t(ncopy));
    std::memset(row + left + ncopy, 0, sizeof(float) * size_t(ld - left - ncopy));
  }
  return {p, ld};
}

inline void store_cols(float* out, float32x4_t v, int64_t col, int64_t wo) {
  if (col + 4 <= wo) vst1q_f32(out + col, v);
  else if (col < wo) store_partial(out + col, v, int(wo - col));
}

// Specialised K x K, stride S, dilation 1.
template <int K, int S>
struct Fixed {
  static constexpr int kWV = (K * K + 3) / 4;
  static constexpr int U = width_vectors<K, S>();

  // Taps j = 0..K-1 of U vectors starting at row + 4*S*u (stride S): stride 1 from
  // U + (K-1)/4 + 1 loads, stride 2 (K <= 5) from U+1 vld2q.
  template <int RT>
  static inline void tile(const float* plane, int64_t ld, const float32x4_t (&wv)[kWV], float32x4_t* acc) {
    for_each_index<(RT - 1) * S + K>([&](auto r) DSCONV_UNROLL {
      const float* row = plane + r * ld;
      if constexpr (S == 1) {
        constexpr int NA = U + (K - 1) / 4 + 1;
        float32x4_t a[NA];
        for_each_index<NA>([&](auto u) DSCONV_UNROLL { a[u] = vld1q_f32(row + 4 * u); });
        for_each_index<U>([&](auto u) DSCONV_UNROLL {
          for_each_index<K>([&](auto j) DSCONV_UNROLL {
            constexpr int jv = decltype(u)::value + decltype(j)::value / 4, js = decltype(j)::value % 4;
            float32x4_t v;
            if constexpr (js == 0) v = a[jv];
            else v = vextq_f32(a[jv], a[jv + 1], js);
            accumulate<RT, decltype(r)::value, decltype(j)::value>(acc, u, v, wv);
          });
        });
      } else {
        float32x4_t even[U + 1], odd[U + 1];  // columns 0,2,4,6 and 1,3,5,7 of each 8
        for_each_index<U + 1>([&](auto u) DSCONV_UNROLL {
          const float32x4x2_t d = vld2q_f32(row + 8 * u);
          even[u] = d.val[0];
          odd[u] = d.val[1];
        });
        for_each_index<U>([&](auto u) DSCONV_UNROLL {
          for_each_index<K>([&](auto j) DSCONV_UNROLL {
            constexpr int jj = decltype(j)::value;
            const float32x4_t v = jj % 2 ? vextq_f32(odd[u], odd[u + 1], jj / 2) : vextq_f32(even[u], even[u + 1], jj / 2);
            accumulate<RT, decltype(r)::value, jj>(acc, u, v, wv);
          });
        });
      }
    });
  }

  // Input row r, tap j feeds output row o of the tile through kernel row i = r - o*S.
  template <int RT, int R, int J>
  static inline void accumulate(float32x4_t* acc, int u, float32x4_t v, const float32x4_t (&wv)[kWV]) {
    for_each_index<RT>([&](auto o) DSCONV_UNROLL {
      constexpr int i = R - decltype(o)::value * S;
      if constexpr (i >= 0 && i < K) {
        constexpr int t = i * K + J;
        acc[o * U + u] = fma_lane<t % 4>(acc[o * U + u], v, wv[t / 4]);
      }
    });
  }

  template <int RT>
  static inline void rows(const ConvGeometry& g, const Plane& pl, const float32x4_t (&wv)[kWV], float32x4_t b,
                          int64_t o, float* y, const Epilogue& act) {
    for (int64_t ow = 0; ow < g.wo; ow += 4 * U) {
      float32x4_t acc[RT * U];
      for_each_index<RT * U>([&](auto i) DSCONV_UNROLL { acc[i] = b; });
      tile<RT>(pl.p + o * S * pl.ld + ow * S, pl.ld, wv, acc);
      for_each_index<RT>([&](auto r) DSCONV_UNROLL {
        for_each_index<U>([&](auto u) DSCONV_UNROLL { store_cols(y + (o + r) * g.wo, act(acc[r * U + u]), ow + 4 * u, g.wo); });
      });
    }
  }

  static void channel(const ConvGeometry& g, const Plane& pl, const float* w, float bias, int64_t nrows, float* y,
                      const Epilogue& act) {
    float32x4_t wv[kWV];
    float wpad[kWV * 4] = {};
    std::memcpy(wpad, w, sizeof(float) * K * K);
    for (int v = 0; v < kWV; ++v) wv[v] = vld1q_f32(wpad + 4 * v);
    const float32x4_t b = vdupq_n_f32(bias);
    constexpr int RT = row_tile<K, S>();
    int64_t o = 0;
    for (; o + RT <= nrows; o += RT) rows<RT>(g, pl, wv, b, o, y, act);
    for (; o < nrows; ++o) rows<1>(g, pl, wv, b, o, y, act);
  }
};

// Any kernel, stride and dilation.
struct Generic {
  static inline float32x4_t load(const float* p, int64_t s) {
    switch (s) {
      case 1: return vld1q_f32(p);
      case 2: return vld2q_f32(p).val[0];
      case 3: return vld3q_f32(p).val[0];
      default: {
        float32x4_t v = vdupq_n_f32(0.0f);
        v = vld1q_lane_f32(p, v, 0);
        v = vld1q_lane_f32(p + s, v, 1);
        v = vld1q_lane_f32(p + 2 * s, v, 2);
        return vld1q_lane_f32(p + 3 * s, v, 3);
      }
    }
  }

  static void channel(const ConvGeometry& g, const Plane& pl, const float* w, float bias, int64_t nrows, float* y,
                      const Epilogue& act) {
    const int64_t s = g.sw;
    for (int64_t o = 0; o < nrows; ++o) {
      const float* base = pl.p + o * g.sh * pl.ld;
      for (int64_t ow = 0; ow < g.wo; ow += 4 * kU) {
        float32x4_t acc[kU];
        for (int u = 0; u < kU; ++u) acc[u] = vdupq_n_f32(bias);
        for (int64_t i = 0; i < g.kh; ++i) {
          const float* row = base + i * g.dh * pl.ld + ow * s;
          for (int64_t j = 0; j < g.kw; ++j) {
            const float wt = w[i * g.kw + j];
            for_each_index<kU>([&](auto u) DSCONV_UNROLL { acc[u] = fma_n(acc[u], load(row + j * g.dw + 4 * u * s, s), wt); });
          }
        }
        for (int u = 0; u < kU; ++u) store_cols(y + o * g.wo, act(acc[u]), ow + 4 * u, g.wo);
      }
    }
  }
};

template <class Kernel>
void run(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
         const Activation& a, float* y) {
  const Epilogue act(a);
  const int64_t m = g.multiplier(), taps = g.kh * g.kw, nrows = r.oh_end - r.oh_begin;
  thread_local std::vector<float> buf;
  for (int64_t c = r.oc_begin / m; c < r.oc_end / m; ++c) {
    const Plane pl = build_plane(g, x + c * g.h * g.w, r.oh_begin, r.oh_end, buf);
    for (int64_t oc = c * m; oc < c * m + m; ++oc)
      Kernel::channel(g, pl, w + oc * taps, bias ? bias[oc] : 0.0f, nrows, y + (oc * g.ho + r.oh_begin) * g.wo, act);
  }
}

// Packed weights: PyTorch's [oc][kh][kw], which is already what a channel's kernels read.
size_t packed_size(const WeightDims& d, Layout) { return size_t(d.count()); }
void pack(const WeightDims& d, Layout, const float* w, float* out) {
  std::memcpy(out, w, sizeof(float) * size_t(d.count()));
}

KernelChoice select(const ConvGeometry& g) {
  const bool square = g.kh == g.kw && g.sh == g.sw && g.dh == 1 && g.dw == 1;
  if (square && g.kh == 3 && g.sh == 1) return {"neon/dwconv_3x3s1_nchw", run<Fixed<3, 1>>};
  if (square && g.kh == 3 && g.sh == 2) return {"neon/dwconv_3x3s2_nchw", run<Fixed<3, 2>>};
  if (square && g.kh == 5 && g.sh == 1) return {"neon/dwconv_5x5s1_nchw", run<Fixed<5, 1>>};
  if (square && g.kh == 5 && g.sh == 2) return {"neon/dwconv_5x5s2_nchw", run<Fixed<5, 2>>};
  if (square && g.kh == 7 && g.sh == 1) return {"neon/dwconv_7x7s1_nchw", run<Fixed<7, 1>>};
  return {"neon/dwconv_generic_nchw", run<Generic>};
}

}  // namespace

LayoutKernels dwconv_nchw_neon() { return {packed_size, pack, select}; }

}  // namespace dsconv::detail
