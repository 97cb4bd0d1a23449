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

#include "core/geometry.hpp"
#include "dispatch/dispatch.hpp"
#include "reference/reference.hpp"
#include "test_util.hpp"

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
  for (const std::string& isa : test::isas()) {
    if (isa == "scalar") continue;
    detail::select_isa(detail::parse_isa(isa));
    for (int n = 0; n < 60; ++n) {
      const int64_t k = n % 2 ? 5 : 3;
      const int64_t ch = test::pick(rng, 1, 300), w = test::pick(rng, 1, 70), h = test::pick(rng, 1, 12);
      Case c;
      if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, k, k, 1, 1, 1, 1, test::random_padding(rng, k, k), n, n % 2 == 0)) continue;
      const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
      const auto& kt = detail::kernel_table().depthwise;
      const int64_t xoff = n % 16, yoff = (n * 7) % 16;
      auto xbuf = test::random_floats(size_t(ch * h * w + 32), uint32_t(n));
      const float* x = xbuf.data() + (16 - reinterpret_cast<uintptr_t>(xbuf.data()) / sizeof(float) % 16) % 16 + xoff;
      detail::WorkRange r;
      r.oc_begin = n % 4 == 0 ? 0 : test::pick(rng, 0, ch - 1);
      r.oc_end = n % 4 == 1 ? ch : test::pick(rng, r.oc_begin + 1, ch);
      r.oh_begin = test::pick(rng, 0, g.ho - 1);
      r.oh_end = test::pick(rng, r.oh_begin + 1, g.ho);
      const auto wt = test::random_floats(size_t(ch * k * k), uint32_t(n) + 1);
      const auto b = test::random_floats(size_t(ch), uint32_t(n) + 2);
      const detail::WeightDims d{ch, 1, k, k};
      std::vector<float> packed(kt.packed_size(d, Layout::NHWC));
      kt.pack(d, Layout::NHWC, wt.data(), packed.data());
      const size_t out = size_t(g.cout * g.ho * g.wo);
      std::vector<float> ybuf(out + 32, -7.0f), want(out, -7.0f);
      float* y = ybuf.data() + (16 - reinterpret_cast<uintptr_t>(ybuf.data()) / sizeof(float) % 16) % 16 + yoff;
      const float* bias = n % 3 != 2 ? b.data() : nullptr;
      kt.select(g).run(g, r, x, packed.data(), bias, c.p.activation, y);
      detail::reference::dwconv(g, r, x, wt.data(), bias, c.p.activation, want.data());
      for (size_t i = 0; i < out; ++i)
        ASSERT_NEAR(y[i], want[i], (1e-5f + 4e-7f * float(k * k)) * std::max(1.0f, std::fabs(want[i])))
            << isa << " " << kt.select(g).name << " " << test::describe(c) << " x+" << xoff << " y+" << yoff
            << " range oc [" << r.oc_begin << "," << r.oc_end << ") oh [" << r.oh_begin << "," << r.oh_end << ") at " << i;
    }
  }
  select_isa(test::isas().back());
}
