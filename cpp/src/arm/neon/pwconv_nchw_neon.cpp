// Pointwise (1x1) convolution, NCHW, NEON: Y[Cout x P] = W[Cout x Cin] . X[Cin x P], on the
// GEMM microkernel of gemm_neon.hpp with m = output channels (A = weight panels, packed once
// as MR-wide [k][MR] panels) and n = pixels: B is read in place from the input (K rows of NR
// floats, P apart) — no copy — except the last partial pixel tile of the image, copied into a
// zero-padded tile so nothing past the image is read.
// Blocking: kTiles pixel tiles (K x NR*kTiles floats of input, in L2) per weight panel.
// Registers and loads per FMA: see gemm_neon.hpp (aarch64 8x12: 0.21 loads/FMA; armv7 4x8:
// 0.375). x86 twin: avx512/pwconv_nchw_8x48 (0.46 loads/FMA).
#include <algorithm>

#include "arm/arm_kernels.hpp"
#include "arm/neon/gemm_neon.hpp"

namespace dsconv::detail {
namespace {
using namespace neon;

constexpr int kTiles = 8;

size_t packed_size(const WeightDims& d, Layout) { return panel_size(d, kMR); }
void pack(const WeightDims& d, Layout, const float* w, float* out) {
  pack_panels(d, kMR, w, out, [](int64_t k) { return k; });
}

void pwconv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
            const Activation& a, float* y) {
  const Epilogue act(a);
  const int64_t K = g.cin, HW = g.ho * g.wo;
  const int64_t p_begin = r.oh_begin * g.wo, p_end = r.oh_end * g.wo;
  // The range's last tile, if it runs past the image: a zero-padded copy (tiles start at
  // p_begin + multiples of NR, so only that one can).
  thread_local std::vector<float> buf;
  float* tail = scratch(buf, size_t(K * kNR));
  const int64_t tail_pix = p_end > p_begin ? p_begin + (p_end - p_begin - 1) / kNR * kNR : p_end;
  if (tail_pix + kNR > HW && tail_pix < p_end) {
    const int64_t n = HW - tail_pix;
    for (int64_t k = 0; k < K; ++k)
      for (int i = 0; i < kNR; ++i) tail[k * kNR + i] = i < n ? x[k * HW + tail_pix + i] : 0.0f;
  }
  for (int64_t p0 = p_begin; p0 < p_end; p0 += kNR * kTiles) {
    const int64_t np = std::min<int64_t>(kNR * kTiles, p_end - p0);
    for (int64_t q = r.oc_begin / kMR; q * kMR < r.oc_end; ++q) {
      float b[kMR];
      bias_tile<kMR>(bias, q * kMR, g.cout, b);
      TileBounds tb{int(std::max<int64_t>(r.oc_begin - q * kMR, 0)), int(std::min<int64_t>(r.oc_end - q * kMR, kMR)),
                    0, kNR};
      for (int64_t t = 0; t * kNR < np; ++t) {
        const int64_t pix = p0 + t * kNR;
        tb.n_hi = int(std::min<int64_t>(kNR, np - t * kNR));
        const float* B = x + pix;
        int64_t ldb = HW;
        if (pix + kNR > HW) {
          B = tail;
          ldb = kNR;
        }
        gemm_tile<true>(K, w + q * K * kMR, B, ldb, b, act, y + q * kMR * HW + pix, HW, tb);
      }
    }
  }
}

KernelChoice select(const ConvGeometry&) {
#if defined(__aarch64__)
  return {"neon/pwconv_nchw_8x12", pwconv};
#else
  return {"neon/pwconv_nchw_4x8", pwconv};
#endif
}

}  // namespace

LayoutKernels pwconv_nchw_neon() { return {packed_size, pack, select}; }

}  // namespace dsconv::detail
