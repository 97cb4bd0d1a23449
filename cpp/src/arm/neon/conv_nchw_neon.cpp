// Direct standard convolution (groups too), NCHW, NEON: an implicit GEMM per group,
// Y[Cout_g x P] = W[Cout_g x K] . X~[K x P] with K = Cin_g*kh*kw in PyTorch's (cin, kh, kw)
// order, on the GEMM microkernel of gemm_neon.hpp (m = output channels: weight panels packed
// once as [k][MR]; n = pixels). There is no im2col buffer of the image: each block of
// kTiles*NR output pixels gathers its K taps from the input into packed [k][NR] tiles (a
// stride-1 tap of a tile inside one output row is one contiguous run of the input row),
// zeros for taps in the padding, and every weight panel runs over the block.
// Weight panels span all Cout (packing cannot know the groups): a panel that straddles two
// groups runs once per group, storing only that group's rows.
// Registers and loads per FMA: see gemm_neon.hpp (0.21 / 0.375), plus the gather: K*NR
// copies per tile, shared by all Cout_g/MR panels. x86 twin (conv_simd.hpp, conv_nchw_avx512):
// NR channels x MR vectors of one output row read in place with masked edge loads, weights
// broadcast: (MR + NR) loads per MR*NR FMAs.
#include <algorithm>
#include <cstring>

#include "arm/arm_kernels.hpp"
#include "arm/neon/gemm_neon.hpp"

namespace dsconv::detail {
namespace {
using namespace neon;

constexpr int kTiles = 4;

size_t packed_size(const WeightDims& d, Layout) { return panel_size(d, kMR); }
void pack(const WeightDims& d, Layout, const float* w, float* out) {
  pack_panels(d, kMR, w, out, [](int64_t k) { return k; });
}

// B[t][k][n] for output pixels p0 + t*NR + n of group `grp`; zero columns past np.
void gather(const ConvGeometry& g, const float* x, int64_t grp, int64_t p0, int64_t np, float* B) {
  const int64_t cin_g = g.cin_per_group(), K = cin_g * g.kh * g.kw;
  const int64_t tiles = ceil_div(np, kNR);
  for (int64_t t = 0; t < tiles; ++t) {
    float* Bt = B + t * K * kNR;
    int64_t oh[kNR], ow[kNR];
    const int n = int(std::min<int64_t>(kNR, np - t * kNR));
    for (int i = 0; i < n; ++i) oh[i] = (p0 + t * kNR + i) / g.wo, ow[i] = (p0 + t * kNR + i) % g.wo;
    // A tile inside one output row at stride 1 reads contiguous input runs.
    const bool one_row = n == kNR && oh[0] == oh[kNR - 1] && g.sw == 1;
    for (int64_t c = 0; c < cin_g; ++c) {
      const float* xc = x + (grp * cin_g + c) * g.h * g.w;
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) {
          float* dst = Bt + ((c * g.kh + i) * g.kw + j) * kNR;
          if (one_row) {
            const int64_t ih = oh[0] * g.sh - g.pad_top + i * g.dh, iw0 = ow[0] - g.pad_left + j * g.dw;
            if (ih >= 0 && ih < g.h && iw0 >= 0 && iw0 + kNR <= g.w) {
              std::memcpy(dst, xc + ih * g.w + iw0, sizeof(float) * kNR);
              continue;
            }
          }
          for (int k = 0; k < kNR; ++k) {
            float v = 0.0f;
            if (k < n) {
              const int64_t ih = oh[k] * g.sh - g.pad_top + i * g.dh, iw = ow[k] * g.sw - g.pad_left + j * g.dw;
              if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) v = xc[ih * g.w + iw];
            }
            dst[k] = v;
          }
        }
    }
  }
}

void conv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
          const Activation& a, float* y) {
  const Epilogue act(a);
  const int64_t cout_g = g.cout_per_group(), K = g.cin_per_group() * g.kh * g.kw, HW = g.ho * g.wo;
  const int64_t p_begin = r.oh_begin * g.wo, p_end = r.oh_end * g.wo;
  thread_local std::vector<float> buf;
  float* B = scratch(buf, size_t(K * kNR * kTiles));
  for (int64_t p0 = p_begin; p0 < p_end; p0 += kNR * kTiles) {
    const int64_t np = std::min<int64_t>(kNR * kTiles, p_end - p0);
    for (int64_t grp = r.oc_begin / cout_g; grp * cout_g < r.oc_end; ++grp) {
      const int64_t lo = std::max(r.oc_begin, grp * cout_g), hi = std::min(r.oc_end, (grp + 1) * cout_g);
      gather(g, x, grp, p0, np, B);
      for (int64_t q = lo / kMR; q * kMR < hi; ++q) {
        float b[kMR];
        bias_tile<kMR>(bias, q * kMR, g.cout, b);
        TileBounds tb{int(std::max<int64_t>(lo - q * kMR, 0)), int(std::min<int64_t>(hi - q * kMR, kMR)), 0, kNR};
        for (int64_t t = 0; t * kNR < np; ++t) {
          tb.n_hi = int(std::min<int64_t>(kNR, np - t * kNR));
          gemm_tile<true>(K, w + q * K * kMR, B + t * K * kNR, kNR, b, act, y + q * kMR * HW + p0 + t * kNR, HW, tb);
        }
      }
    }
  }
}

KernelChoice select(const ConvGeometry&) {
#if defined(__aarch64__)
  return {"neon/conv_nchw_igemm_8x12", conv};
#else
  return {"neon/conv_nchw_igemm_4x8", conv};
#endif
}

}  // namespace

LayoutKernels conv_nchw_neon() { return {packed_size, pack, select}; }

}  // namespace dsconv::detail
