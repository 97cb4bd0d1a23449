// The x86 NCHW depthwise kernels (x86/dwconv_nchw_simd.hpp) against the reference on every ISA
// this CPU has: each specialised kernel over widths 1..2*16+3 and heights 1..9 with random
// channels, multipliers, padding, activations and bias; the generic kernel over kernel sizes,
// strides and dilations; sub-ranges of the work; NaN locality; and which kernel is chosen.
#include <cmath>
#include <random>

#include "core/geometry.hpp"
#include "dispatch/dispatch.hpp"
#include "reference/reference.hpp"
#include "test_util.hpp"

using namespace dsconv;
using test::Case;

// Every width 1..35 (two 16-lane vectors + 3) and height 1..9 for each specialised shape.
TEST(DwconvNchwX86, SpecialisedKernelsEveryWidthAndHeight) {
  std::mt19937 rng(7);
  int n = 0;
  const std::pair<int64_t, int64_t> shapes[] = {{3, 1}, {3, 2}, {5, 1}, {5, 2}, {7, 1}};  // kernel, stride
  for (const auto& [k, s] : shapes)
    for (int64_t w = 1; w <= 35; ++w)
      for (int64_t h = 1; h <= 9; ++h) {
        Case c;
        const int64_t ch = test::pick(rng, 1, 9), mult = n % 7 == 0 ? test::pick(rng, 2, 4) : 1;
        Padding pad = n % 3 == 0 ? Padding::symmetric(k / 2, k / 2) : test::random_padding(rng, k, k);
        if (!test::make_depthwise_case(c, Layout::NCHW, ch, mult, h, w, k, k, s, s, 1, 1, pad, n, n % 2 == 0)) continue;
        test::expect_all_isas_match_reference(c, uint32_t(n));
        ++n;
      }
}

// Any kernel size, stride and dilation (the generic kernel), asymmetric ones included.
TEST(DwconvNchwX86, GenericKernelSizesStridesDilations) {
  std::mt19937 rng(11);
  for (int n = 0; n < 400; ++n) {
    Case c;
    const int64_t kh = test::pick(rng, 1, 7), kw = n % 4 == 0 ? test::pick(rng, 1, 7) : kh;
    const int64_t sh = test::pick(rng, 1, 3), sw = n % 5 == 0 ? test::pick(rng, 1, 3) : sh;
    const int64_t dh = test::pick(rng, 1, 3), dw = n % 6 == 0 ? test::pick(rng, 1, 3) : dh;
    const int64_t w = n % 10 == 0 ? test::pick(rng, 36, 80) : test::pick(rng, 1, 35);
    if (!test::make_depthwise_case(c, Layout::NCHW, test::pick(rng, 1, 9), test::pick(rng, 1, 4), test::pick(rng, 1, 9), w, kh, kw, sh, sw, dh, dw,
                   test::random_padding(rng, kh, kw), n, n % 3 != 0))
      continue;
    test::expect_all_isas_match_reference(c, uint32_t(1000 + n));
  }
}

// More channels than one work split, wide and tall maps (threads split them into row bands).
TEST(DwconvNchwX86, LargerLayers) {
  int n = 0;
  for (int64_t k : {3, 5, 7})
    for (int64_t s : {1, 2})
      for (int64_t hw : {57, 112}) {
        Case c;
        test::make_depthwise_case(c, Layout::NCHW, n % 2 ? 17 : 33, n % 3 == 2 ? 2 : 1, hw, hw + 3, k, k, s, s, 1, 1,
                  Padding::symmetric(k / 2, k / 2), n, n % 2 == 0);
        test::expect_all_isas_match_reference(c, uint32_t(2000 + n));
        ++n;
      }
}

// A kernel computes exactly its work range: outputs outside keep their old values.
TEST(DwconvNchwX86, WritesOnlyItsWorkRange) {
  std::mt19937 rng(3);
  test::for_each_simd_isa([&](const std::string& isa) {
    for (int n = 0; n < 60; ++n) {
      const int64_t k = n % 3 == 2 ? 4 : (n % 2 ? 5 : 3), s = test::pick(rng, 1, 2), mult = test::pick(rng, 1, 3);
      const int64_t ch = test::pick(rng, 1, 6), h = test::pick(rng, 1, 20), w = test::pick(rng, 1, 40);
      Case c;
      if (!test::make_depthwise_case(c, Layout::NCHW, ch, mult, h, w, k, k, s, s, 1, 1, test::random_padding(rng, k, k), n, n % 2 == 0)) continue;
      const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
      const auto& kt = detail::kernel_table().depthwise;
      const auto x = test::random_floats(size_t(ch * h * w), uint32_t(n));
      const auto wt = test::random_floats(size_t(g.cout * k * k), uint32_t(n + 1));
      const auto b = test::random_floats(size_t(g.cout), uint32_t(n + 2));
      const detail::WeightDims d{g.cout, 1, k, k};
      std::vector<float> packed(kt.packed_size(d, Layout::NCHW) + 16);
      kt.pack(d, Layout::NCHW, wt.data(), packed.data());
      detail::WorkRange r;
      r.oc_begin = test::pick(rng, 0, ch - 1) * mult;
      r.oc_end = test::pick(rng, r.oc_begin / mult + 1, ch) * mult;
      r.oh_begin = test::pick(rng, 0, g.ho - 1);
      r.oh_end = test::pick(rng, r.oh_begin + 1, g.ho);
      const size_t out = size_t(g.cout * g.ho * g.wo);
      std::vector<float> got(out, -7.0f), want(out, -7.0f);
      kt.select(g).run(g, r, x.data(), packed.data(), b.data(), c.p.activation, got.data());
      detail::reference::dwconv(g, r, x.data(), wt.data(), b.data(), c.p.activation, want.data());
      for (size_t i = 0; i < out; ++i)
        ASSERT_NEAR(got[i], want[i], 1e-5f * std::max(1.0f, std::fabs(want[i])))
            << isa << " " << kt.select(g).name << " " << test::describe(c) << " at " << i;
    }
  });
}

// A NaN in the input changes only the outputs whose receptive field holds it.
TEST(DwconvNchwX86, NanStaysInItsReceptiveField) {
  for (int64_t k : {3, 5, 4})
    for (int64_t s : {1, 2}) {
      Case c;
      test::make_depthwise_case(c, Layout::NCHW, 3, 2, 11, 37, k, k, s, s, 1, 1, Padding::symmetric(k / 2, k / 2), int(k + s), true);
      auto x = test::random_floats(test::count(c.in), 5);
      auto w = test::random_floats(test::count(c.weight_shape), 6);
      auto b = test::random_floats(size_t(c.weight_shape[0]), 7);
      x[size_t((1 * 11 + 5) * 37 + 17)] = std::nanf("");
      select_isa("scalar");
      const auto want = test::run(c, x, w, b, false);
      for (const std::string& isa : test::isas()) {
        select_isa(isa);
        const auto got = test::run(c, x, w, b, true);
        for (size_t i = 0; i < got.size(); ++i) {
          if (std::isnan(want[i]))
            EXPECT_TRUE(std::isnan(got[i])) << isa << " at " << i;
          else
            EXPECT_NEAR(got[i], want[i], 1e-5f * std::max(1.0f, std::fabs(want[i]))) << isa << " at " << i;
        }
      }
    }
  select_isa(test::isas().back());
}

// The anchors' shapes get the specialised kernels, stride 2 onto narrow maps the row-pair ones on
// AVX-512, and everything else the generic SIMD kernel: never the reference.
TEST(DwconvNchwX86, ChoosesTheSpecialisedKernels) {
  struct Want {
    int64_t c, hw, k, s;
    const char* kernel;
  };
  const Want wants[] = {{32, 112, 3, 1, "dwconv_3x3s1_nchw"}, {96, 112, 3, 2, "dwconv_3x3s2_nchw"},
                        {120, 28, 5, 1, "dwconv_5x5s1_nchw"}, {72, 56, 5, 2, "dwconv_5x5s2_nchw"},
                        {96, 56, 7, 1, "dwconv_7x7s1_nchw"}, {96, 56, 7, 2, "dwconv_generic_nchw"}, {16, 40, 3, 3, "dwconv_generic_nchw"}};
  for (const std::string& isa : test::isas()) {
    if (isa == "scalar") continue;
    select_isa(isa);
    for (const Want& wt : wants) {
      ConvParams p;
      p.stride_h = p.stride_w = wt.s;
      p.padding = Padding::symmetric(wt.k / 2, wt.k / 2);
      EXPECT_EQ(kernel_name(Op::Depthwise, {1, wt.c, wt.hw, wt.hw}, {wt.c, 1, wt.k, wt.k}, p),
                isa + "/" + wt.kernel);
    }
    ConvParams p;
    p.padding = Padding::symmetric(1, 1);
    p.stride_h = p.stride_w = 2;
    EXPECT_EQ(kernel_name(Op::Depthwise, {1, 576, 14, 14}, {576, 1, 3, 3}, p),
              isa + "/dwconv_3x3s2_nchw" + (isa == "avx512" ? "_pairs" : ""));
  }
  select_isa(test::isas().back());
}
