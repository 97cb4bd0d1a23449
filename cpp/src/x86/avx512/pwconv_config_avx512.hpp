// The AVX-512 pointwise configuration: tile shapes and cache blocking (measured on Zen 5:
// 48 KiB L1d, 1 MiB L2 per core).
#pragma once

#include "x86/pwconv_simd.hpp"

namespace dsconv::detail::pw {
namespace {

struct Avx512Config {
  using V = gemm::Avx512;
  static constexpr bool PAIRED = true;  // NHWC Cout <= 24: 8 channels x 2 inputs per vector
  static constexpr int PW = 32;
  static constexpr int MR_HWC = 14;
  // NHWC over more than one panel with weights that fit in L2: MR_WIDE pixels x NV_WIDE vectors.
  static constexpr int MR_WIDE = 4, NV_WIDE = 6;
  static constexpr int MR_CHW = 8, NV_CHW = 3;
  static constexpr int64_t KC_HWC = 1024, MC_HWC = 112, KC_CHW = 256, MC_CHW = 384;
  // Raw-weight calls pack their panels in chunks of at most this many bytes (at least one panel).
  static constexpr int64_t RAW_CHUNK = 128 * 1024;
  // Raw-weight NHWC panel tiles that pack the next panel as they run: MR_FUSED pixels x PW
  // (14 accumulators, leaving registers for the 8 x 8 transposes).
  static constexpr int MR_FUSED = 7;
  static constexpr const char* name_nhwc = "avx512/pwconv_nhwc_14x32";
  static constexpr const char* name_nhwc_wide = "avx512/pwconv_nhwc_4x96";
  // Paired path by Cout: <= 8, <= 16, <= 24 (pixels x output channels).
  static constexpr const char* name_nhwc_paired[3] = {"avx512/pwconv_nhwc_paired14x8", "avx512/pwconv_nhwc_paired14x16",
                                                      "avx512/pwconv_nhwc_paired8x24"};
  static constexpr const char* name_nchw = "avx512/pwconv_nchw_8x48";
  static constexpr const char* name_nchw_t = "avx512/pwconv_nchw_t14x32";
};

}  // namespace
}  // namespace dsconv::detail::pw
