// The NHWC depthwise straddling block (x86/dwconv_nhwc_simd.hpp, row_straddle: at stride 1, with C a
// multiple of the vector width and x and y the same number of lanes past a vector boundary,
// one block over the vectors that straddle pixels replaces the two partial blocks) against
// the reference on every ISA this CPU has: 3x3, 5x5 and 7x7, channel counts of 1 to 10
// vectors, widths 1..29 (one position, and rows of several tiles), heights 1..9, padding 0..k
// per side, every activation, bias and none, x and y at every shared offset 1..15 floats and
// at different ones, whole and partial work ranges. Outputs outside the range and the floats
// around y keep their old values.
#include <cstdint>
#include <random>
#include <vector>

#include "dwconv_nhwc_range.hpp"

using namespace dsconv;
using test::Case;

TEST(DwconvNhwcStraddle, SharedOffsetsAgainstReference) {
  std::mt19937 rng(47);
  test::for_each_simd_isa([&](const std::string& isa) {
    int straddled = 0;  // cases with a whole range and x and y at one offset
    for (int n = 0; n < 240; ++n) {
      const int64_t k = 3 + 2 * (n % 3);
      const int64_t ch = 16 * int64_t(std::vector<int>{1, 2, 3, 6, 10}[size_t(n / 3 % 5)]);
      const int64_t w = std::vector<int64_t>{1, 2, 3, 7, 14, 29}[size_t(n / 15 % 6)], h = test::pick(rng, 1, 9);
      Case c;
      if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, k, k, 1, 1, 1, 1, test::random_padding(rng, k, k), n,
                                     n % 3 != 2))
        continue;
      const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
      const int64_t xoff = 1 + n % 15, yoff = n % 8 == 7 ? (xoff + 4) % 16 : xoff;
      detail::WorkRange r;
      const bool whole = n % 5 != 4;
      r.oc_begin = whole ? 0 : test::pick(rng, 0, ch - 1);
      r.oc_end = whole ? ch : test::pick(rng, r.oc_begin + 1, ch);
      r.oh_begin = n % 2 ? 0 : test::pick(rng, 0, g.ho - 1);
      r.oh_end = n % 2 ? g.ho : test::pick(rng, r.oh_begin + 1, g.ho);
      straddled += whole && xoff == yoff;
      ASSERT_NO_FATAL_FAILURE(test::check_range(isa, c, r, xoff, yoff, c.bias, uint32_t(n)));
    }
    EXPECT_GT(straddled, 100) << isa;
  });
}
