// The NEON kernels (aarch64, armv7) against the reference: every op, both layouts, the
// specialised and generic depthwise paths, GEMM tile edges, grouped convolution, every
// activation, work ranges (a kernel writes only its range) and NaN locality. On a CPU without
// NEON (x86) these tests skip. Under qemu (scripts/test-arm.sh) DSCONV_TEST_SCALE=small
// samples fewer cases from the same sweeps.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "core/geometry.hpp"
#include "dispatch/dispatch.hpp"
#include "test_util.hpp"

using namespace dsconv;
using dsconv::test::Case;
using dsconv::test::expect_all_isas_match_reference;

namespace {

bool has_neon() {
  for (const std::string& isa : cpu_info().available)
    if (isa == "neon") return true;
  return false;
}

#define REQUIRE_NEON() \
  if (!has_neon()) GTEST_SKIP() << "no NEON on this CPU/build"

// Keeps one case in `keep` of a sweep (always 1 unless DSCONV_TEST_SCALE=small).
struct Sampler {
  std::mt19937 rng{12345};
  int keep = 1;
  Sampler(int small_keep) {
    const char* s = std::getenv("DSCONV_TEST_SCALE");
    if (s && std::string(s) == "small") keep = small_keep;
  }
  bool take() { return keep == 1 || rng() % keep == 0; }
};

Case depthwise(Layout layout, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t s, int64_t d,
               Padding pad, int64_t m, int act, bool bias) {
  Case k;
  k.op = Op::Depthwise;
  k.in = {1, c, h, w};
  k.weight_shape = {c * m, 1, kh, kw};
  k.p.stride_h = k.p.stride_w = s;
  k.p.dilation_h = k.p.dilation_w = d;
  k.p.padding = pad;
  k.p.activation = test::activation_of(act);
  k.p.layout = layout;
  k.bias = bias;
  return k;
}

bool valid(int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t d, const Padding& p) {
  return (kh - 1) * d + 1 <= h + p.top + p.bottom && (kw - 1) * d + 1 <= w + p.left + p.right;
}

}  // namespace

TEST(Neon, CpuInfoNamesNeonKernels) {
  REQUIRE_NEON();
  const CpuInfo info = cpu_info();
  EXPECT_EQ(info.isa, "neon");
  for (const auto& [op, family] : info.kernels) EXPECT_EQ(family.rfind("neon/", 0), 0u) << op << ": " << family;
  bool neon_feature = false;
  for (const std::string& f : info.features) neon_feature |= f == "neon";
  EXPECT_TRUE(neon_feature);
}

TEST(Neon, KernelNames) {
  REQUIRE_NEON();
  select_isa("neon");
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
    const std::string suffix = layout == Layout::NHWC ? "_nhwc" : "_nchw";
    ConvParams p;
    p.layout = layout;
    p.padding = Padding::symmetric(1, 1);
    EXPECT_EQ(kernel_name(Op::Depthwise, {1, 8, 9, 9}, {8, 1, 3, 3}, p), "neon/dwconv_3x3s1" + suffix);
    p.stride_h = p.stride_w = 2;
    EXPECT_EQ(kernel_name(Op::Depthwise, {1, 8, 9, 9}, {8, 1, 3, 3}, p), "neon/dwconv_3x3s2" + suffix);
    EXPECT_EQ(kernel_name(Op::Depthwise, {1, 8, 9, 9}, {8, 1, 5, 5}, p), "neon/dwconv_5x5s2" + suffix);
    p.stride_h = p.stride_w = 1;
    EXPECT_EQ(kernel_name(Op::Depthwise, {1, 8, 9, 9}, {8, 1, 5, 5}, p), "neon/dwconv_5x5s1" + suffix);
    EXPECT_EQ(kernel_name(Op::Depthwise, {1, 8, 9, 9}, {16, 1, 1, 7}, p), "neon/dwconv_generic" + suffix);
    EXPECT_EQ(kernel_name(Op::Depthwise, {1, 8, 9, 9}, {8, 1, 7, 7}, p),
              layout == Layout::NCHW ? "neon/dwconv_7x7s1_nchw" : "neon/dwconv_generic_nhwc");
    p.dilation_h = p.dilation_w = 2;
    EXPECT_EQ(kernel_name(Op::Depthwise, {1, 8, 9, 9}, {8, 1, 3, 3}, p), "neon/dwconv_generic" + suffix);
    p.dilation_h = p.dilation_w = 1;
    EXPECT_EQ(kernel_name(Op::Pointwise, {1, 8, 9, 9}, {16, 8, 1, 1}, p).rfind("neon/pwconv_", 0), 0u);
    EXPECT_EQ(kernel_name(Op::Conv2d, {1, 8, 9, 9}, {16, 8, 3, 3}, p).rfind("neon/conv_", 0), 0u);
  }
}

// The specialised 3x3/5x5 stride 1/2 (and NCHW 7x7 stride 1) kernels: channels around the 4- and 8-wide blocks,
// widths around the 4-pixel step and the 8-column NCHW tile, borders, rows around the row
// tiles, every activation.
TEST(Neon, DepthwiseSpecialised) {
  REQUIRE_NEON();
  Sampler keep(8);
  int i = 0;
  for (Layout layout : {Layout::NHWC, Layout::NCHW})
    for (int64_t k : {3, 5, 7})
      for (int64_t s : {1, 2})
        for (int64_t c : {1, 3, 4, 5, 8, 9, 13})
          for (int64_t w : {1, 2, 5, 8, 11, 17})
            for (int64_t h : {1, 4, 7}) {
              ++i;
              const Padding pad = i % 3 == 0 ? Padding{0, 0, 0, 0}
                                  : i % 3 == 1 ? Padding::symmetric(k / 2, k / 2)
                                               : Padding{k - 1, 1, 1, k};
              if (!valid(h, w, k, k, 1, pad) || !keep.take()) continue;
              expect_all_isas_match_reference(depthwise(layout, c, h, w, k, k, s, 1, pad, 1, i, i % 2 == 0), i);
            }
}

// The generic path: any kernel (non-square too), stride 1..3, dilation 1..3, padding up to
// and beyond the kernel, asymmetric, and depth multipliers 1..4.
TEST(Neon, DepthwiseGeneric) {
  REQUIRE_NEON();
  Sampler keep(5);
  std::mt19937 rng(7);
  auto pick = [&](int64_t lo, int64_t hi) { return lo + int64_t(rng() % uint32_t(hi - lo + 1)); };
  for (int i = 0; i < 500; ++i) {
    const Layout layout = i % 2 ? Layout::NHWC : Layout::NCHW;
    const int64_t kh = pick(1, 7), kw = pick(1, 7), s = pick(1, 3), d = pick(1, 3), m = pick(1, 4);
    const int64_t c = pick(1, 13), h = pick(1, 12), w = pick(1, 19);
    const Padding pad{pick(0, kh), pick(0, kh), pick(0, kw), pick(0, kw + 1)};
    if (!valid(h, w, kh, kw, d, pad) || !keep.take()) continue;
    Case k = depthwise(layout, c, h, w, kh, kw, s, d, pad, m, i, i % 3 != 0);
    k.p.stride_w = pick(1, 4);
    expect_all_isas_match_reference(k, uint32_t(i));
  }
}

// The specialised kernels with a depth multiplier (their slices store m floats apart), and a
// batch.
TEST(Neon, DepthwiseMultiplierAndBatch) {
  REQUIRE_NEON();
  for (Layout layout : {Layout::NHWC, Layout::NCHW})
    for (int64_t m : {2, 3})
      for (int64_t k : {3, 5})
        for (int64_t s : {1, 2}) {
          Case c = depthwise(layout, 5, 9, 10, k, k, s, 1, Padding::symmetric(k / 2, k / 2), m, int(m + k + s), true);
          c.in.n = 2;
          expect_all_isas_match_reference(c, uint32_t(m * 10 + k + s));
        }
}

// Pointwise: Cin, Cout and pixel counts at 1, tile-1, tile, tile+1 and larger (tiles: 8x12
// on aarch64, 4x8 on armv7), both layouts, every activation.
TEST(Neon, Pointwise) {
  REQUIRE_NEON();
  Sampler keep(3);
  int i = 0;
  for (Layout layout : {Layout::NHWC, Layout::NCHW})
    for (int64_t cin : {1, 3, 8, 17})
      for (int64_t cout : {1, 4, 7, 8, 11, 12, 13, 25, 40})
        for (auto hw : {std::pair<int64_t, int64_t>{1, 1}, {1, 7}, {2, 4}, {3, 3}, {1, 12}, {13, 1}, {5, 13}, {9, 11}}) {
          ++i;
          if (!keep.take()) continue;
          Case c;
          c.op = Op::Pointwise;
          c.in = {1 + i % 2, cin, hw.first, hw.second};
          c.weight_shape = i % 3 ? std::vector<int64_t>{cout, cin, 1, 1} : std::vector<int64_t>{cout, cin};
          c.p.activation = test::activation_of(i);
          c.p.layout = layout;
          c.bias = i % 4 != 0;
          expect_all_isas_match_reference(c, uint32_t(i));
        }
}

// Direct convolution, groups 1..4, kernels 1..5 (non-square), stride 1..3, dilation, padding.
TEST(Neon, Conv2d) {
  REQUIRE_NEON();
  Sampler keep(4);
  std::mt19937 rng(11);
  auto pick = [&](int64_t lo, int64_t hi) { return lo + int64_t(rng() % uint32_t(hi - lo + 1)); };
  for (int i = 0; i < 240; ++i) {
    const int64_t groups = pick(1, 4), cin_g = pick(1, 5), cout_g = pick(1, 14);
    const int64_t kh = pick(1, 5), kw = pick(1, 5), d = pick(1, 2);
    const int64_t h = pick(1, 11), w = pick(1, 15);
    const Padding pad{pick(0, kh), pick(0, kh - 1), pick(0, kw - 1), pick(0, kw)};
    if (!valid(h, w, kh, kw, d, pad) || !keep.take()) continue;
    Case c;
    c.op = Op::Conv2d;
    c.in = {1 + i % 2, groups * cin_g, h, w};
    c.weight_shape = {groups * cout_g, cin_g, kh, kw};
    c.p.groups = groups;
    c.p.stride_h = pick(1, 3);
    c.p.stride_w = pick(1, 3);
    c.p.dilation_h = c.p.dilation_w = d;
    c.p.padding = pad;
    c.p.activation = test::activation_of(i);
    c.p.layout = i % 2 ? Layout::NHWC : Layout::NCHW;
    c.bias = i % 3 != 0;
    expect_all_isas_match_reference(c, uint32_t(i));
  }
}

TEST(Neon, SamePaddingAndLargerLayers) {
  REQUIRE_NEON();
  for (Layout layout : {Layout::NHWC, Layout::NCHW}) {
    Case d = depthwise(layout, 24, 19, 23, 3, 3, 2, 1, {}, 1, 2, true);
    d.p.same_padding = true;
    expect_all_isas_match_reference(d, 3);
    Case p;
    p.op = Op::Pointwise;
    p.in = {1, 37, 10, 11};
    p.weight_shape = {50, 37};
    p.p.layout = layout;
    p.p.activation = Activation::relu6();
    expect_all_isas_match_reference(p, 4);
    Case c;
    c.op = Op::Conv2d;
    c.in = {1, 6, 14, 15};
    c.weight_shape = {20, 6, 3, 3};
    c.p.padding = Padding::symmetric(1, 1);
    c.p.layout = layout;
    expect_all_isas_match_reference(c, 5);
  }
}

namespace {

// Runs op's NEON kernel on one work range over an output full of a sentinel; returns it.
std::vector<float> run_range(Op op, const detail::ConvGeometry& g, const std::vector<int64_t>& ws,
                             const detail::WorkRange& r, const std::vector<float>& x, const std::vector<float>& w,
                             const std::vector<float>& b, const Activation& act, float sentinel) {
  const detail::KernelTable& t = detail::kernel_table();
  const detail::OpKernels& k = op == Op::Depthwise ? t.depthwise : op == Op::Pointwise ? t.pointwise : t.conv2d;
  const detail::WeightDims d = detail::weight_dims(op, ws);
  std::vector<float> packed(k.packed_size(d, g.layout) + 16);
  k.pack(d, g.layout, w.data(), packed.data());
  std::vector<float> y(size_t(g.cout * g.ho * g.wo), sentinel);
  k.select(g).run(g, r, x.data(), packed.data(), b.data(), act, y.data());
  return y;
}

}  // namespace

// A kernel writes exactly its work range (other threads write the rest) and the values there
// are the full call's.
TEST(Neon, KernelsWriteOnlyTheirWorkRange) {
  REQUIRE_NEON();
  select_isa("neon");
  struct Op3 {
    Op op;
    std::vector<int64_t> ws;
    int64_t groups, multiplier;
  };
  const Op3 ops[] = {{Op::Depthwise, {14, 1, 3, 3}, 7, 2}, {Op::Depthwise, {7, 1, 5, 5}, 7, 1},
                     {Op::Depthwise, {21, 1, 3, 2}, 7, 3}, {Op::Pointwise, {30, 7, 1, 1}, 1, 1},
                     {Op::Conv2d, {30, 7, 3, 3}, 1, 1},    {Op::Conv2d, {21, 1, 3, 3}, 7, 1}};
  for (Layout layout : {Layout::NHWC, Layout::NCHW})
    for (const Op3& o : ops) {
      ConvParams p;
      p.layout = layout;
      p.groups = o.groups;
      p.padding = o.op == Op::Pointwise ? Padding{} : Padding::symmetric(1, 2);
      const TensorShape in{1, 7, 9, 13};
      const detail::ConvGeometry g = o.op == Op::Depthwise   ? detail::depthwise_geometry(in, o.ws, p)
                                     : o.op == Op::Pointwise ? detail::pointwise_geometry(in, o.ws, layout)
                                                             : detail::conv2d_geometry(in, o.ws, p);
      const auto x = test::random_floats(size_t(7 * 9 * 13), 1);
      const auto w = test::random_floats(test::count(o.ws), 2);
      const auto b = test::random_floats(size_t(g.cout), 3);
      const auto full = run_range(o.op, g, o.ws, {0, g.cout, 0, g.ho}, x, w, b, Activation::relu(), -7.0f);
      const int64_t q = o.multiplier;
      const detail::WorkRange ranges[] = {{q, g.cout - q, 1, g.ho - 1}, {0, q, 2, 3}, {g.cout - q, g.cout, 0, g.ho}};
      for (const detail::WorkRange& r : ranges) {
        const auto got = run_range(o.op, g, o.ws, r, x, w, b, Activation::relu(), -7.0f);
        for (int64_t oc = 0; oc < g.cout; ++oc)
          for (int64_t oh = 0; oh < g.ho; ++oh)
            for (int64_t ow = 0; ow < g.wo; ++ow) {
              const size_t i = size_t(layout == Layout::NCHW ? (oc * g.ho + oh) * g.wo + ow : (oh * g.wo + ow) * g.cout + oc);
              const bool inside = oc >= r.oc_begin && oc < r.oc_end && oh >= r.oh_begin && oh < r.oh_end;
              if (inside) ASSERT_EQ(got[i], full[i]) << "op " << int(o.op) << " oc " << oc << " oh " << oh << " ow " << ow;
              else ASSERT_EQ(got[i], -7.0f) << "wrote outside its range: op " << int(o.op) << " oc " << oc << " oh " << oh;
            }
      }
    }
}

// A NaN in the input changes only the outputs whose receptive field holds it (padding and
// tile edges never multiply it into other outputs), and activations keep it NaN.
TEST(Neon, NanStaysInItsReceptiveField) {
  REQUIRE_NEON();
  for (Layout layout : {Layout::NHWC, Layout::NCHW})
    for (Op op : {Op::Depthwise, Op::Pointwise, Op::Conv2d})
      for (int64_t k : {3, 5})
        for (int act = 0; act < 5; ++act) {
          const TensorShape in{1, 5, 8, 11};
          ConvParams p;
          p.layout = layout;
          p.activation = test::activation_of(act);
          std::vector<int64_t> ws;
          if (op == Op::Pointwise) ws = {6, 5};
          else {
            p.padding = Padding::symmetric(k / 2, k / 2);
            ws = op == Op::Depthwise ? std::vector<int64_t>{5, 1, k, k} : std::vector<int64_t>{6, 5, k, k};
          }
          auto x = test::random_floats(test::count(in), 9);
          const int64_t nc = 2, nh = 3, nw = 9;
          x[size_t(layout == Layout::NCHW ? (nc * 8 + nh) * 11 + nw : (nh * 11 + nw) * 5 + nc)] = std::nanf("");
          const auto w = test::random_floats(test::count(ws), 10);
          select_isa("neon");
          const TensorShape out = op == Op::Depthwise   ? depthwise_output_shape(in, ws, p)
                                  : op == Op::Pointwise ? pointwise_output_shape(in, ws)
                                                        : conv2d_output_shape(in, ws, p);
          std::vector<float> y(test::count(out));
          if (op == Op::Depthwise) depthwise_conv2d(x.data(), in, w.data(), ws, nullptr, y.data(), p);
          else if (op == Op::Pointwise) pointwise_conv2d(x.data(), in, w.data(), ws, nullptr, y.data(), p.activation, layout);
          else conv2d(x.data(), in, w.data(), ws, nullptr, y.data(), p);
          const int64_t r = op == Op::Pointwise ? 0 : k / 2;
          for (int64_t oc = 0; oc < out.c; ++oc)
            for (int64_t oh = 0; oh < out.h; ++oh)
              for (int64_t ow = 0; ow < out.w; ++ow) {
                const float v = y[size_t(layout == Layout::NCHW ? (oc * out.h + oh) * out.w + ow : (oh * out.w + ow) * out.c + oc)];
                const bool channel = op != Op::Depthwise || oc == nc;
                const bool field = channel && std::abs(oh - nh) <= r && std::abs(ow - nw) <= r;
                EXPECT_EQ(std::isnan(v), field) << "op " << int(op) << " k " << k << " act " << act << " at " << oc
                                                << "," << oh << "," << ow;
              }
        }
  select_isa(test::isas().back());
}

// Random shapes of every op, with up to 70 channels, batches and 3 threads (so calls are cut
// into channel blocks and row bands as the drivers do), against the reference.
TEST(Neon, RandomShapesEveryOpThreaded) {
  REQUIRE_NEON();
  Sampler keep(3);
  std::mt19937 rng(2024);
  auto pick = [&](int64_t lo, int64_t hi) { return lo + int64_t(rng() % uint32_t(hi - lo + 1)); };
  const int threads = get_num_threads();
  for (int i = 0; i < 90; ++i) {
    set_num_threads(1 + i % 3);
    const Op op = i % 3 == 0 ? Op::Depthwise : i % 3 == 1 ? Op::Pointwise : Op::Conv2d;
    const int64_t kh = pick(1, 5), kw = pick(1, 5), d = pick(1, 2);
    const int64_t h = pick(1, 20), w = pick(1, 20);
    const Padding pad{pick(0, kh), pick(0, kh), pick(0, kw), pick(0, kw)};
    if (op != Op::Pointwise && !valid(h, w, kh, kw, d, pad)) continue;
    if (!keep.take()) continue;
    Case c;
    c.op = op;
    c.p.layout = i % 2 ? Layout::NHWC : Layout::NCHW;
    c.p.activation = test::activation_of(i);
    c.bias = i % 4 != 1;
    if (op == Op::Pointwise) {
      c.in = {pick(1, 3), pick(1, 70), h, w};
      c.weight_shape = {pick(1, 70), c.in.c};
    } else {
      c.p.stride_h = pick(1, 3);
      c.p.stride_w = pick(1, 3);
      c.p.dilation_h = c.p.dilation_w = d;
      c.p.padding = pad;
      if (op == Op::Depthwise) {
        c.in = {pick(1, 3), pick(1, 70), h, w};
        c.weight_shape = {c.in.c * pick(1, 3), 1, kh, kw};
      } else {
        const int64_t groups = pick(1, 3);
        c.p.groups = groups;
        c.in = {pick(1, 2), groups * pick(1, 12), h, w};
        c.weight_shape = {groups * pick(1, 24), c.in.c / groups, kh, kw};
      }
    }
    expect_all_isas_match_reference(c, uint32_t(100 + i));
  }
  set_num_threads(threads);
}
