// The NHWC depthwise pixel-major strips (x86/dwconv_nhwc_simd.hpp, run_blocks: 3x3 and 5x5 at
// stride 1 walk groups of up to 16 channel blocks down strips of tiles) against the reference
// on every ISA this CPU has: channel counts that split into several groups (and leave tails),
// rows wide enough for several strips, heights 1..9, padding 0..k per side, every activation,
// bias and none; and, called directly, partial work ranges on inputs and outputs offset by
// 0..15 floats from a 64-byte boundary.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "dwconv_nhwc_range.hpp"

using namespace dsconv;
using test::Case;

TEST(DwconvNhwcStrips, GroupsStripsHeightsAndPadding) {
  std::mt19937 rng(41);
  int n = 0;
  for (int64_t k : {3, 5})
    for (int64_t ch : {1, 16, 23, 145, 150, 261, 300})
      for (int64_t w : {1, 3, 17, 40, 201})
        for (int64_t h : {int64_t(1), test::pick(rng, 2, 5), test::pick(rng, 6, 9)}) {
          if (ch * w > 4 * 4096 && h > 2) continue;  // keep the widest cases short
          Case c;
          const Padding pad = n % 4 == 0 ? Padding::symmetric(k / 2, k / 2) : n % 4 == 1 ? Padding{} : test::random_padding(rng, k, k);
          if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, k, k, 1, 1, 1, 1, pad, n, n % 3 != 0)) continue;
          test::expect_all_isas_match_reference(c, uint32_t(12000 + n));
          ++n;
        }
  EXPECT_GT(n, 100);
}

// Partial work ranges (channel ranges starting and ending inside a vector: the groups' first
// and last blocks are masked; any rows) with x and y offset independently by 0..15 floats:
// outputs outside the range keep their old values.
TEST(DwconvNhwcStrips, WorkRangesAndOffsets) {
  std::mt19937 rng(43);
  test::for_each_simd_isa([&](const std::string& isa) {
    for (int n = 0; n < 60; ++n) {
      const int64_t k = n % 2 ? 5 : 3;
      const int64_t ch = test::pick(rng, 1, 300), w = test::pick(rng, 1, 70), h = test::pick(rng, 1, 12);
      Case c;
      if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, k, k, 1, 1, 1, 1, test::random_padding(rng, k, k), n, n % 2 == 0)) continue;
      const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
      const detail::WorkRange r = test::random_range(rng, n, ch, g.ho);
      ASSERT_NO_FATAL_FAILURE(test::check_range(isa, c, r, n % 16, (n * 7) % 16, n % 3 != 2, uint32_t(n)));
    }
  });
}
