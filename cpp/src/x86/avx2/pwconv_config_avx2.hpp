// The AVX2 pointwise configuration: tile shapes (16 ymm registers) and cache blocking.
#pragma once

#include "x86/pwconv_simd.hpp"

namespace dsconv::detail::pw {
namespace {

struct Avx2Config {
  using V = gemm::Avx2;
  static constexpr bool PAIRED = false;  // 8-lane vectors already fit Cout = 8, 16, 24
  static constexpr int PW = 16;
  static constexpr int MR_HWC = 6;
  // No wide NHWC tile: 16 ymm registers hold no more than the 6x16 tile.
  static constexpr int MR_WIDE = 0, NV_WIDE = 0;
  static constexpr int MR_CHW = 6, NV_CHW = 2;
  static constexpr int64_t KC_HWC = 1024, MC_HWC = 96, KC_CHW = 256, MC_CHW = 384;
  // Raw-weight calls pack their panels in chunks of at most this many bytes (at least one panel).
  static constexpr int64_t RAW_CHUNK = 128 * 1024;
  // Raw-weight NHWC panel tiles that pack the next panel as they run: MR_FUSED pixels x PW
  // (0: none; 16 ymm registers leave no room for the transposes).
  static constexpr int MR_FUSED = 0;
  static constexpr const char* name_nhwc = "avx2/pwconv_nhwc_6x16";
  static constexpr const char* name_nhwc_wide = nullptr;  // no wide tile
  static constexpr const char* name_nhwc_paired[3] = {nullptr, nullptr, nullptr};  // no paired path
  static constexpr const char* name_nchw = "avx2/pwconv_nchw_6x16";
  static constexpr const char* name_nchw_t = "avx2/pwconv_nchw_t6x16";
};

}  // namespace
}  // namespace dsconv::detail::pw
