// The NHWC depthwise 3x3 stride-2 row pairs (x86/dwconv_nhwc_simd.hpp, Kernel::pair_tile: two
// output rows at a time, the shared input row loaded once) against the reference on every ISA
// this CPU has: channels 1..3*16+1 (tails, several blocks), widths 1..2*16+3 (pair tiles of
// every width, both SKIP patterns), heights 1..9 (odd and even rows per band, rows with kernel
// rows in the padding), padding 0..k per side (so some rows fall back to single rows and
// column masks), every activation, bias and none; and, called directly, partial work ranges
// (odd first rows, ranges of one row) on inputs and outputs offset by 0..15 floats, and whole
// vectors of channels on misaligned inputs (the realigned first block that takes the last
// block's lanes, wrap_block).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dwconv_nhwc_range.hpp"

using namespace dsconv;
using test::Case;

TEST(DwconvNhwcS2, ChannelsWidthsHeightsAndPadding) {
  std::mt19937 rng(51);
  int n = 0;
  for (int64_t ch = 1; ch <= 49; ch += (ch < 18 ? 1 : 5))
    for (int64_t w = 1; w <= 35; w += (w < 20 ? 1 : 3))
      for (int64_t h = 1; h <= 9; h += 1 + (n % 2)) {
        Case c;
        const Padding pad = n % 4 == 0 ? Padding::symmetric(1, 1) : n % 4 == 1 ? Padding{} : test::random_padding(rng, 3, 3);
        if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, 3, 3, 2, 2, 1, 1, pad, n, n % 3 != 0)) continue;
        test::expect_all_isas_match_reference(c, uint32_t(15000 + n));
        ++n;
      }
  EXPECT_GT(n, 1000);
}

using test::check_range;

// Whole vectors of channels (16..112, 576) on inputs offset by 1..15 floats: the first block is
// realigned and takes the last block's lanes. Full ranges, and ranges that start or end at a
// vector boundary or inside one (the wrap applies only where the two blocks' lanes do not
// overlap), all rows and some.
TEST(DwconvNhwcS2, MisalignedWholeVectors) {
  std::mt19937 rng(57);
  test::for_each_simd_isa([&](const std::string& isa) {
    int n = 0;
    for (int64_t ch : {16, 32, 48, 64, 96, 112, 576})
      for (int64_t xoff = 0; xoff < 16; ++xoff) {
        const int64_t w = test::pick(rng, 1, 40), h = test::pick(rng, 1, 12);
        const Padding pad = n % 3 == 0 ? Padding::symmetric(1, 1) : n % 3 == 1 ? Padding{0, 1, 0, 1} : test::random_padding(rng, 3, 3);
        Case c;
        if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, 3, 3, 2, 2, 1, 1, pad, n, n % 2 == 0)) continue;
        const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
        detail::WorkRange r{0, ch, 0, g.ho};
        const int64_t yoff = n % 4 == 0 ? xoff : test::pick(rng, 0, 15);
        ASSERT_NO_FATAL_FAILURE(check_range(isa, c, r, xoff, yoff, n % 3 != 2, uint32_t(700 + n)));
        r.oc_begin = test::pick(rng, 0, ch / 2) / (n % 2 ? 1 : 16) * (n % 2 ? 1 : 16);
        r.oc_end = std::max(r.oc_begin + 1, ch - test::pick(rng, 0, ch / 2) / (n % 3 ? 16 : 1) * (n % 3 ? 16 : 1));
        r.oh_begin = test::pick(rng, 0, g.ho - 1);
        r.oh_end = test::pick(rng, r.oh_begin + 1, g.ho);
        ASSERT_NO_FATAL_FAILURE(check_range(isa, c, r, xoff, yoff, n % 3 != 1, uint32_t(900 + n)));
        ++n;
      }
    EXPECT_GT(n, 100);
  });
}

// Partial work ranges (channel ranges starting and ending inside a vector, any rows: pairs
// that start on odd rows, bands that end on one row) with x and y offset independently by
// 0..15 floats: outputs outside the range keep their old values.
TEST(DwconvNhwcS2, WorkRangesAndOffsets) {
  std::mt19937 rng(53);
  test::for_each_simd_isa([&](const std::string& isa) {
    for (int n = 0; n < 200; ++n) {
      const int64_t k = 3;
      const int64_t ch = test::pick(rng, 1, n % 5 == 0 ? 600 : 49), w = test::pick(rng, 1, 120), h = test::pick(rng, 1, 30);
      const Padding pad = n % 3 == 0 ? Padding::symmetric(1, 1) : test::random_padding(rng, k, k);
      Case c;
      if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, k, k, 2, 2, 1, 1, pad, n, n % 2 == 0)) continue;
      const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
      const detail::WorkRange r = test::random_range(rng, n, ch, g.ho);
      ASSERT_NO_FATAL_FAILURE(check_range(isa, c, r, n % 16, (n * 7) % 16, n % 3 != 2, uint32_t(n)));
    }
  });
}
