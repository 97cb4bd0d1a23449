// The x86 NHWC depthwise kernels (x86/dwconv_nhwc_simd.hpp) against the reference on every ISA
// this CPU has: the shaped kernels over every width 1..2*8+3 and height 1..9 and every channel
// count 1..3*16+1 (tails of both vector widths); the generic kernel over kernel sizes, strides,
// dilations and depth multipliers; partial work ranges written directly and through two
// threads; NaN locality; and which kernel is chosen.
#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "core/geometry.hpp"
#include "dispatch/dispatch.hpp"
#include "reference/reference.hpp"
#include "test_util.hpp"

using namespace dsconv;
using test::Case;

// Every width 1..19 (two 8-pixel tiles + 3) and height 1..9 for each shaped kernel, with the
// channel count walking 1..49 and padding symmetric, asymmetric, zero or larger than needed.
TEST(DwconvNhwcX86, ShapedKernelsEveryWidthAndHeight) {
  std::mt19937 rng(7);
  int n = 0;
  for (int64_t k : {3, 5, 7})
    for (int64_t s : {1, 2})
      for (int64_t w = 1; w <= 19; ++w)
        for (int64_t h = 1; h <= 9; ++h) {
          Case c;
          const int64_t ch = n % 49 + 1;
          const Padding pad = n % 3 == 0 ? Padding::symmetric(k / 2, k / 2) : test::random_padding(rng, k, k);
          if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, k, k, s, s, 1, 1, pad, n, n % 2 == 0)) continue;
          test::expect_all_isas_match_reference(c, uint32_t(n));
          ++n;
        }
}

// The 7x7 stride-1 kernel over every width 1..35 (two 16-pixel AVX-512 tiles + 3) and height
// 1..9: padding 3 all round or 0..7 per side, channel tails, every activation.
TEST(DwconvNhwcX86, Shaped7x7EveryWidth) {
  std::mt19937 rng(17);
  int n = 0;
  for (int64_t w = 1; w <= 35; ++w)
    for (int64_t h = 1; h <= 9; ++h) {
      Case c;
      const int64_t ch = n % 3 == 0 ? 16 : n % 37 + 1;
      const Padding pad = n % 2 == 0 ? Padding::symmetric(3, 3) : test::random_padding(rng, 7, 7);
      if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, 7, 7, 1, 1, 1, 1, pad, n, n % 2 == 0)) continue;
      test::expect_all_isas_match_reference(c, uint32_t(7000 + n));
      ++n;
    }
  EXPECT_GT(n, 100);
}

// Narrow tall maps (the 3x3 AVX-512 kernel computes rows of at most 8 pixels two at a time):
// odd and even row counts, rows next to the borders, several channel blocks with a tail.
TEST(DwconvNhwcX86, NarrowTallMaps) {
  std::mt19937 rng(11);
  int n = 0;
  for (int64_t s : {1, 2})
    for (int64_t w = 1; w <= 9; ++w)
      for (int64_t h : {7, 12, 15, 16}) {
        Case c;
        const int64_t ch = n % 2 ? 37 : 64;
        const Padding pad = n % 3 == 0 ? Padding::symmetric(1, 1) : n % 3 == 1 ? Padding{} : test::random_padding(rng, 3, 3);
        if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, 3, 3, s, s, 1, 1, pad, n, n % 2 == 0)) continue;
        test::expect_all_isas_match_reference(c, uint32_t(3000 + n));
        ++n;
      }
}

// Every channel count 1..49 (1..3 full vectors + tails on AVX2 and AVX-512) on each shape.
TEST(DwconvNhwcX86, EveryChannelCount) {
  int n = 0;
  for (int64_t k : {3, 5, 7})
    for (int64_t s : {1, 2})
      for (int64_t ch = 1; ch <= 49; ++ch) {
        Case c;
        test::make_depthwise_case(c, Layout::NHWC, ch, 1, 6, 13, k, k, s, s, 1, 1, Padding::symmetric(k / 2, k / 2), n, n % 2 == 1);
        test::expect_all_isas_match_reference(c, uint32_t(500 + n));
        ++n;
      }
}

// Any kernel size, stride (1..3), dilation (1..3) and depth multiplier (1..4): the generic
// kernel, and the shaped ones where the geometry allows.
TEST(DwconvNhwcX86, GenericKernelSizesStridesDilationsMultipliers) {
  std::mt19937 rng(11);
  for (int n = 0; n < 500; ++n) {
    Case c;
    const int64_t kh = test::pick(rng, 1, 7), kw = n % 4 == 0 ? test::pick(rng, 1, 7) : kh;
    const int64_t sh = test::pick(rng, 1, 3), sw = n % 5 == 0 ? test::pick(rng, 1, 3) : sh;
    const int64_t dh = test::pick(rng, 1, 3), dw = n % 6 == 0 ? test::pick(rng, 1, 3) : dh;
    const int64_t w = n % 10 == 0 ? test::pick(rng, 20, 60) : test::pick(rng, 1, 19);
    const int64_t mult = n % 2 == 0 ? 1 : test::pick(rng, 2, 4);
    const int64_t ch = test::pick(rng, 1, mult > 1 ? 20 : 49);
    if (!test::make_depthwise_case(c, Layout::NHWC, ch, mult, test::pick(rng, 1, 9), w, kh, kw, sh, sw, dh, dw, test::random_padding(rng, kh, kw), n,
                   n % 3 != 0))
      continue;
    test::expect_all_isas_match_reference(c, uint32_t(1000 + n));
  }
}

// Multipliers 1..4 with every channel count whose output crosses 1..3 vectors of 16.
TEST(DwconvNhwcX86, MultiplierChannelTails) {
  int n = 0;
  for (int64_t mult = 2; mult <= 4; ++mult)
    for (int64_t ch = 1; ch * mult <= 49; ++ch) {
      Case c;
      const int64_t k = n % 2 ? 5 : 3;
      test::make_depthwise_case(c, Layout::NHWC, ch, mult, 7, 11, k, k, 1 + n % 2, 1 + n % 2, 1, 1, Padding::symmetric(k / 2, k / 2), n, true);
      test::expect_all_isas_match_reference(c, uint32_t(3000 + n));
      ++n;
    }
}

// Layers larger than a row band and a few tiles, and with two threads (rows split between them).
TEST(DwconvNhwcX86, LargerLayersAndTwoThreads) {
  const int saved = get_num_threads();
  int n = 0;
  for (int threads : {1, 2})
    for (int64_t k : {3, 5, 7})
      for (int64_t s : {1, 2}) {
        set_num_threads(threads);
        Case c;
        const int64_t hw = n % 2 ? 57 : 112;
        test::make_depthwise_case(c, Layout::NHWC, n % 3 ? 33 : 24, n % 4 == 3 ? 2 : 1, hw, hw + 3, k, k, s, s, 1, 1,
                  Padding::symmetric(k / 2, k / 2), n, n % 2 == 0);
        test::expect_all_isas_match_reference(c, uint32_t(2000 + n));
        ++n;
      }
  set_num_threads(saved);
}

// The selected kernel and the reference on work range r of geometry g (k x k weights and bias
// from `seed`, packed for the kernel; no bias when !with_bias): both outputs start at -7, so
// whatever lies outside the range shows.
static std::pair<std::vector<float>, std::vector<float>> kernel_and_reference_on_range(
    const detail::ConvGeometry& g, const detail::WorkRange& r, const float* x, int64_t k, uint32_t seed,
    bool with_bias, const Activation& act) {
  const auto& kt = detail::kernel_table().depthwise;
  const auto wt = test::random_floats(size_t(g.cout * k * k), seed + 1);
  const auto b = test::random_floats(size_t(g.cout), seed + 2);
  const detail::WeightDims d{g.cout, 1, k, k};
  std::vector<float> packed(kt.packed_size(d, Layout::NHWC));
  kt.pack(d, Layout::NHWC, wt.data(), packed.data());
  const size_t out = size_t(g.cout * g.ho * g.wo);
  std::vector<float> got(out, -7.0f), want(out, -7.0f);
  const float* bias = with_bias ? b.data() : nullptr;
  kt.select(g).run(g, r, x, packed.data(), bias, act, got.data());
  detail::reference::dwconv(g, r, x, wt.data(), bias, act, want.data());
  return {got, want};
}

// A kernel computes exactly its work range (any channel range that is a multiple of the
// multiplier, any rows): outputs outside keep their old values.
TEST(DwconvNhwcX86, WritesOnlyItsWorkRange) {
  std::mt19937 rng(3);
  test::for_each_simd_isa([&](const std::string& isa) {
    for (int n = 0; n < 120; ++n) {
      const int64_t k = n % 3 == 2 ? 4 : (n % 2 ? 5 : 3), s = test::pick(rng, 1, 2), mult = n % 4 ? 1 : test::pick(rng, 2, 3);
      const int64_t ch = test::pick(rng, 1, 40), h = test::pick(rng, 1, 20), w = test::pick(rng, 1, 40);
      Case c;
      if (!test::make_depthwise_case(c, Layout::NHWC, ch, mult, h, w, k, k, s, s, 1, 1, test::random_padding(rng, k, k), n, n % 2 == 0)) continue;
      const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
      const auto& kt = detail::kernel_table().depthwise;
      const auto x = test::random_floats(size_t(ch * h * w), uint32_t(n));
      detail::WorkRange r;
      r.oc_begin = test::pick(rng, 0, ch - 1) * mult;
      r.oc_end = test::pick(rng, r.oc_begin / mult + 1, ch) * mult;
      r.oh_begin = test::pick(rng, 0, g.ho - 1);
      r.oh_end = test::pick(rng, r.oh_begin + 1, g.ho);
      const auto [got, want] = kernel_and_reference_on_range(g, r, x.data(), k, uint32_t(n), true, c.p.activation);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], 1e-5f * std::max(1.0f, std::fabs(want[i])))
            << isa << " " << kt.select(g).name << " " << test::describe(c) << " range oc [" << r.oc_begin << ","
            << r.oc_end << ") oh [" << r.oh_begin << "," << r.oh_end << ") at " << i;
    }
  });
}

// Channel counts whose pixel stride is a multiple of 1..4 KiB (256, 512, 1024 channels) on maps
// wide enough that the shaped kernels stage their input rows (staged_width below, from
// x86/dwconv_nhwc_simd.hpp staged_group; the widest rows fall back to the direct tiles):
// every shape, odd widths, heights 1..9 (rows entirely in the padding too), padding 0..k per
// side, every activation, bias and none; run with two threads (split rows or channels).
// The narrowest input width whose k x k rows are staged: k * width > 23 lines per L1 set times
// the pixel offsets modulo 4 KiB (4 for 256 channels, 2 for 512, 1 for 1024).
static int64_t staged_width(int64_t ch, int64_t k) { return 23 * (4096 / (ch * 4)) / k + 1; }

TEST(DwconvNhwcX86, StagedRowsPowerOfTwoStrides) {
  const int saved = get_num_threads();
  set_num_threads(2);
  std::mt19937 rng(29);
  int n = 0;
  for (int64_t ch : {256, 512, 1024})
    for (int64_t k : {3, 5, 7})
      for (int64_t s : {1, 2}) {
        if (k == 7 && s == 2) continue;
        const int64_t w0 = staged_width(ch, k);
        for (int64_t w : {w0, w0 + 1, w0 + 4, 2 * w0 + 3})
          for (int64_t h : {int64_t(1), test::pick(rng, 2, 5), test::pick(rng, 6, 9)}) {
            Case c;
            const Padding pad = n % 4 == 0 ? Padding::symmetric(k / 2, k / 2) : n % 4 == 1 ? Padding{} : test::random_padding(rng, k, k);
            if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, k, k, s, s, 1, 1, pad, n, n % 3 != 0)) continue;
            test::expect_all_isas_match_reference(c, uint32_t(9000 + n));
            ++n;
          }
      }
  set_num_threads(saved);
  EXPECT_GT(n, 120);
}

// The staged path called directly on partial work ranges (channel ranges that start and end
// inside a vector, so the group's first and last blocks are masked; row ranges that start
// and end anywhere) and on inputs offset by 0..15 floats from a 64-byte boundary (the blocks
// realign to the input): outputs outside the range keep their old values.
TEST(DwconvNhwcX86, StagedRowsWorkRangesAndOffsets) {
  std::mt19937 rng(31);
  test::for_each_simd_isa([&](const std::string& isa) {
    for (int n = 0; n < 60; ++n) {
      const int64_t ch = n % 3 == 0 ? 256 : n % 3 == 1 ? 512 : 1024;
      const int64_t k = n % 4 == 3 ? 7 : n % 2 ? 5 : 3, s = k == 7 || n % 5 == 0 ? 1 : test::pick(rng, 1, 2);
      const int64_t w = staged_width(ch, k) + test::pick(rng, 0, 9), h = test::pick(rng, 1, 12);
      Case c;
      if (!test::make_depthwise_case(c, Layout::NHWC, ch, 1, h, w, k, k, s, s, 1, 1, test::random_padding(rng, k, k), n, n % 2 == 0)) continue;
      const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
      const auto& kt = detail::kernel_table().depthwise;
      const int64_t offset = n % 16;
      auto xbuf = test::random_floats(size_t(ch * h * w + 16 + 64), uint32_t(n));
      const float* x = xbuf.data() + (16 - reinterpret_cast<uintptr_t>(xbuf.data()) / sizeof(float) % 16) + offset;
      detail::WorkRange r;
      r.oc_begin = n % 4 == 0 ? 0 : test::pick(rng, 0, ch / 2);
      r.oc_end = n % 4 == 1 ? ch : test::pick(rng, r.oc_begin + 1, ch);
      r.oh_begin = test::pick(rng, 0, g.ho - 1);
      r.oh_end = test::pick(rng, r.oh_begin + 1, g.ho);
      const auto [got, want] = kernel_and_reference_on_range(g, r, x, k, uint32_t(n), n % 3 != 2, c.p.activation);
      for (size_t i = 0; i < got.size(); ++i)
        ASSERT_NEAR(got[i], want[i], (1e-5f + 4e-7f * float(k * k)) * std::max(1.0f, std::fabs(want[i])))
            << isa << " " << kt.select(g).name << " " << test::describe(c) << " offset " << offset << " range oc ["
            << r.oc_begin << "," << r.oc_end << ") oh [" << r.oh_begin << "," << r.oh_end << ") at " << i;
    }
  });
}

// A NaN in the input changes only the outputs whose receptive field holds it, on the border
// and inside; an infinite input likewise.
TEST(DwconvNhwcX86, NanAndInfStayInTheirReceptiveField) {
  for (int64_t k : {3, 5, 4})
    for (int64_t s : {1, 2})
      for (int64_t mult : {1, 2}) {
        Case c;
        test::make_depthwise_case(c, Layout::NHWC, 19, mult, 11, 23, k, k, s, s, 1, 1, Padding::symmetric(k / 2, k / 2), int(k + s), true);
        auto x = test::random_floats(test::count(c.in), 5);
        auto w = test::random_floats(test::count(c.weight_shape), 6);
        auto b = test::random_floats(size_t(c.weight_shape[0]), 7);
        x[size_t((5 * 23 + 17) * 19 + 3)] = std::nanf("");
        x[size_t((0 * 23 + 0) * 19 + 18)] = std::nanf("");
        x[size_t((10 * 23 + 22) * 19 + 7)] = INFINITY;
        select_isa("scalar");
        const auto want = test::run(c, x, w, b, false);
        for (const std::string& isa : test::isas()) {
          select_isa(isa);
          const auto got = test::run(c, x, w, b, true);
          for (size_t i = 0; i < got.size(); ++i) {
            if (std::isnan(want[i]) || std::isinf(want[i]))
              EXPECT_TRUE(std::isnan(got[i]) || got[i] == want[i]) << isa << " at " << i;
            else
              EXPECT_NEAR(got[i], want[i], 1e-5f * std::max(1.0f, std::fabs(want[i]))) << isa << " at " << i;
          }
        }
      }
  select_isa(test::isas().back());
}

// The anchors' shapes (and 7x7 stride 1 on x86) get the shaped kernels, everything else the
// generic SIMD kernel: never the reference.
TEST(DwconvNhwcX86, ChoosesTheShapedKernels) {
  struct Want {
    int64_t c, hw, k, s, mult;
    const char* kernel;
    bool x86_only;  // NEON has no shaped kernel for it: the generic one runs there
  };
  const Want wants[] = {{32, 112, 3, 1, 1, "dwconv_3x3s1_nhwc", false}, {96, 112, 3, 2, 1, "dwconv_3x3s2_nhwc", false},
                        {960, 7, 3, 1, 1, "dwconv_3x3s1_nhwc", false},  {120, 28, 5, 1, 1, "dwconv_5x5s1_nhwc", false},
                        {72, 56, 5, 2, 1, "dwconv_5x5s2_nhwc", false},  {96, 56, 7, 1, 1, "dwconv_7x7s1_nhwc", true},
                        {96, 56, 7, 2, 1, "dwconv_generic_nhwc", false}, {16, 9, 3, 3, 1, "dwconv_generic_nhwc", false},
                        {16, 9, 3, 1, 2, "dwconv_generic_nhwc", false}};
  for (const std::string& isa : test::isas()) {
    if (isa == "scalar") continue;
    select_isa(isa);
    for (const Want& wt : wants) {
      ConvParams p;
      p.stride_h = p.stride_w = wt.s;
      p.padding = Padding::symmetric(wt.k / 2, wt.k / 2);
      p.layout = Layout::NHWC;
      const std::string kernel = wt.x86_only && isa == "neon" ? "dwconv_generic_nhwc" : wt.kernel;
      EXPECT_EQ(kernel_name(Op::Depthwise, {1, wt.c, wt.hw, wt.hw}, {wt.c * wt.mult, 1, wt.k, wt.k}, p),
                isa + "/" + kernel);
    }
  }
  select_isa(test::isas().back());
}
