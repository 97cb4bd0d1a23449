// The NHWC depthwise straddling block (x86/dwconv_nhwc_simd.hpp, row_straddle: at stride 1, with C a
// multiple of the vector width and x and y the same number of lanes past a vector boundary,
// one block over the vectors that straddle pixels replaces the two partial blocks) against
// the reference on every ISA this CPU has: 3x3, 5x5 and 7x7, channel counts of 1 to 10
// vectors, widths 1..29 (one position, and rows of several tiles), heights 1..9, padding 0..k
// per side, every activation, bias and none, x and y at every shared offset 1..15 floats and
// at different ones, whole and partial work ranges. Outputs outside the range and the floats
// around y keep their old values.
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

TEST(DwconvNhwcStraddle, SharedOffsetsAgainstReference) {
  std::mt19937 rng(47);
  for (const std::string& isa : test::isas()) {
    if (isa == "scalar") continue;
    detail::select_isa(detail::parse_isa(isa));
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
      const auto& kt = detail::kernel_table().depthwise;
      const int64_t xoff = 1 + n % 15, yoff = n % 8 == 7 ? (xoff + 4) % 16 : xoff;
      auto xbuf = test::random_floats(size_t(ch * h * w + 32), uint32_t(n));
      const float* x = xbuf.data() + (16 - reinterpret_cast<uintptr_t>(xbuf.data()) / sizeof(float) % 16) % 16 + xoff;
      detail::WorkRange r;
      const bool whole = n % 5 != 4;
      r.oc_begin = whole ? 0 : test::pick(rng, 0, ch - 1);
      r.oc_end = whole ? ch : test::pick(rng, r.oc_begin + 1, ch);
      r.oh_begin = n % 2 ? 0 : test::pick(rng, 0, g.ho - 1);
      r.oh_end = n % 2 ? g.ho : test::pick(rng, r.oh_begin + 1, g.ho);
      straddled += whole && xoff == yoff;
      const auto wt = test::random_floats(size_t(ch * k * k), uint32_t(n) + 1);
      const auto b = test::random_floats(size_t(ch), uint32_t(n) + 2);
      const detail::WeightDims d{ch, 1, k, k};
      std::vector<float> packed(kt.packed_size(d, Layout::NHWC));
      kt.pack(d, Layout::NHWC, wt.data(), packed.data());
      const size_t out = size_t(g.cout * g.ho * g.wo);
      std::vector<float> ybuf(out + 48, -7.0f), want(out, -7.0f);
      const int64_t ystart = (16 - reinterpret_cast<uintptr_t>(ybuf.data()) / sizeof(float) % 16) % 16 + 16 + yoff;
      float* y = ybuf.data() + ystart;
      const float* bias = c.bias ? b.data() : nullptr;
      kt.select(g).run(g, r, x, packed.data(), bias, c.p.activation, y);
      detail::reference::dwconv(g, r, x, wt.data(), bias, c.p.activation, want.data());
      const std::string what = isa + " " + kt.select(g).name + " " + test::describe(c) + " x+" + std::to_string(xoff) +
                               " y+" + std::to_string(yoff) + " oc [" + std::to_string(r.oc_begin) + "," +
                               std::to_string(r.oc_end) + ") oh [" + std::to_string(r.oh_begin) + "," +
                               std::to_string(r.oh_end) + ")";
      for (size_t i = 0; i < out; ++i)
        ASSERT_NEAR(y[i], want[i], (1e-5f + 4e-7f * float(k * k)) * std::max(1.0f, std::fabs(want[i])))
            << what << " at " << i;
      for (int64_t i = 0; i < ystart; ++i) ASSERT_EQ(ybuf[size_t(i)], -7.0f) << what << ": written before y";
      for (size_t i = size_t(ystart) + out; i < ybuf.size(); ++i) ASSERT_EQ(ybuf[i], -7.0f) << what << ": written after y";
    }
    EXPECT_GT(straddled, 100) << isa;
  }
  select_isa(test::isas().back());
}
