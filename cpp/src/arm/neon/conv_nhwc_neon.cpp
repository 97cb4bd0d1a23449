// Direct standard convolution (groups too), NHWC, NEON: an implicit GEMM per group,
// Y[P x Cout_g] = X~[P x K] . W^T with K = kh*kw*Cin_g in (kh, kw, cin) order, on the GEMM
// microkernel of gemm_neon.hpp (m = pixels, n = output channels). There is no im2col buffer
// of the image: each block of kTiles*MR output pixels gathers its K taps straight from the
// input (each tap a contiguous run of Cin_g floats) into a packed A block, zeros for taps in
// the padding, and every weight panel (K x NR, packed once) runs over it.
// Weight panels span all Cout (packing cannot know the groups): a panel that straddles two
// groups runs once per group, storing only that group's columns.
// Registers and loads per FMA: see gemm_neon.hpp (0.21 / 0.375), plus the gather: K*MR
// copies per tile, shared by all Cout_g/NR panels. x86 twin (conv_simd.hpp, conv_nhwc_avx512):
// vectors along cin read in place, L/4 pixels x 4 channels of dot products and a transposing
// reduction: L/4 + 4 loads per L FMAs (0.5 on AVX-512, 0.75 on AVX2), no gather.
#include <algorithm>
#include <cstring>

#include "arm/arm_kernels.hpp"
#include "arm/neon/gemm_neon.hpp"

namespace dsconv::detail {
namespace {
using namespace neon;

constexpr int kTiles = 8;

size_t packed_size(const WeightDims& d, Layout) { return panel_size(d, kNR); }
void pack(const WeightDims& d, Layout, const float* w, float* out) {
  const int64_t cin_g = d.cin_per_group, taps = d.kh * d.kw;
  // panel k = tap * cin_g + ic  <-  PyTorch's ic * taps + tap
  pack_panels(d, kNR, w, out, [=](int64_t k) { return (k % cin_g) * taps + k / cin_g; });
}

// A[t][k][m] for output pixels p0 + t*MR + m of group `grp`; zero rows past np.
void gather(const ConvGeometry& g, const float* x, int64_t grp, int64_t p0, int64_t np, float* A) {
  const int64_t cin_g = g.cin_per_group(), K = g.kh * g.kw * cin_g;
  const int64_t tiles = ceil_div(np, kMR);
  for (int64_t t = 0; t < tiles; ++t) {
    float* At = A + t * K * kMR;
    for (int m = 0; m < kMR; ++m) {
      const int64_t pix = t * kMR + m;
      if (pix >= np) {
        for (int64_t k = 0; k < K; ++k) At[k * kMR + m] = 0.0f;
        continue;
      }
      const int64_t oh = (p0 + pix) / g.wo, ow = (p0 + pix) % g.wo;
      float* dst = At + m;
      for (int64_t i = 0; i < g.kh; ++i) {
        const int64_t ih = oh * g.sh - g.pad_top + i * g.dh;
        for (int64_t j = 0; j < g.kw; ++j, dst += cin_g * kMR) {
          const int64_t iw = ow * g.sw - g.pad_left + j * g.dw;
          if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) {
            for (int64_t c = 0; c < cin_g; ++c) dst[c * kMR] = 0.0f;
          } else {
            const float* src = x + (ih * g.w + iw) * g.cin + grp * cin_g;
            for (int64_t c = 0; c < cin_g; ++c) dst[c * kMR] = src[c];
          }
        }
      }
    }
  }
}

void conv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
          const Activation& a, float* y) {
  const Epilogue act(a);
  const int64_t cout_g = g.cout_per_group(), K = g.kh * g.kw * g.cin_per_group();
  const int64_t p_begin = r.oh_begin * g.wo, p_end = r.oh_end * g.wo;
  thread_local std::vector<float> buf;
  float* A = scratch(buf, size_t(K * kMR * kTiles));
  for (int64_t p0 = p_begin; p0 < p_end; p0 += kMR * kTiles) {
    const int64_t np = std::min<int64_t>(kMR * kTiles, p_end - p0);
    for (int64_t grp = r.oc_begin / cout_g; grp * cout_g < r.oc_end; ++grp) {
      const int64_t lo = std::max(r.oc_begin, grp * cout_g), hi = std::min(r.oc_end, (grp + 1) * cout_g);
      gather(g, x, grp, p0, np, A);
      for (int64_t q = lo / kNR; q * kNR < hi; ++q) {
        float b[kNR];
        bias_tile<kNR>(bias, q * kNR, g.cout, b);
        TileBounds tb{0, kMR, int(std::max<int64_t>(lo - q * kNR, 0)), int(std::min<int64_t>(hi - q * kNR, kNR))};
        for (int64_t t = 0; t * kMR < np; ++t) {
          tb.m_hi = int(std::min<int64_t>(kMR, np - t * kMR));
          gemm_tile<false>(K, A + t * K * kMR, w + q * K * kNR, kNR, b, act, y + (p0 + t * kMR) * g.cout + q * kNR,
                           g.cout, tb);
        }
      }
    }
  }
}

KernelChoice select(const ConvGeometry&) {
#if defined(__aarch64__)
  return {"neon/conv_nhwc_igemm_8x12", conv};
#else
  return {"neon/conv_nhwc_igemm_4x8", conv};
#endif
}

}  // namespace

LayoutKernels conv_nhwc_neon() { return {packed_size, pack, select}; }

}  // namespace dsconv::detail
