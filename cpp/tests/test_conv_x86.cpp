// The direct standard convolution (conv2d) kernels on every ISA against the reference: channel
// and pixel counts around the tiles (NHWC: L/4 pixels x 4 channels with vectors along cin;
// NCHW: 4-6 channels x 1-4 vectors along the output width), grouped convolution, kernel
// sizes, strides, dilation, padding, every activation, both layouts.
#include <cmath>
#include <cstring>
#include <limits>

#include "test_util.hpp"

namespace dsconv::test {
namespace {

const Layout kLayouts[] = {Layout::NCHW, Layout::NHWC};

Case conv(Layout layout, int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout, int64_t kh, int64_t kw,
          int64_t stride = 1, int64_t pad = 0, int64_t groups = 1) {
  Case c;
  c.op = Op::Conv2d;
  c.in = {n, cin, h, w};
  c.weight_shape = {cout, cin / groups, kh, kw};
  c.p.layout = layout;
  c.p.stride_h = c.p.stride_w = stride;
  c.p.padding = {pad, pad, pad, pad};
  c.p.groups = groups;
  return c;
}

TEST(ConvX86, ChannelCountsAroundTiles) {
  for (Layout l : kLayouts)
    for (int64_t cin : {1, 3, 7, 8, 9, 15, 16, 17, 33})
      for (int64_t cout : {1, 3, 4, 5, 6, 7, 12, 13, 17})
        expect_all_isas_match_reference(conv(l, 1, cin, 5, 6, cout, 3, 3, 1, 1));
}

TEST(ConvX86, PixelCountsAroundTiles) {
  for (Layout l : kLayouts)
    for (int64_t w : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 47, 63, 64, 65, 70})
      expect_all_isas_match_reference(conv(l, 1, 5, 3, w, 7, 3, 3, 1, 1));
}

TEST(ConvX86, LargeLayer) {
  for (Layout l : kLayouts) {
    expect_all_isas_match_reference(conv(l, 1, 48, 14, 14, 24, 3, 3, 1, 1));
    expect_all_isas_match_reference(conv(l, 2, 32, 9, 17, 40, 3, 3, 2, 1));
  }
}

TEST(ConvX86, Grouped) {
  for (Layout l : kLayouts) {
    for (int64_t groups : {2, 3, 4}) {
      expect_all_isas_match_reference(conv(l, 1, 12, 6, 7, 12, 3, 3, 1, 1, groups));
      expect_all_isas_match_reference(conv(l, 1, 24, 5, 9, 6 * groups, 3, 3, 2, 1, groups));
      expect_all_isas_match_reference(conv(l, 1, 6 * groups, 4, 5, 14 * groups, 1, 1, 1, 0, groups));
    }
    // Groups wide enough for the dot-product (vectors along cin) NHWC kernel.
    expect_all_isas_match_reference(conv(l, 1, 80, 5, 6, 12, 3, 3, 1, 1, 2));
    expect_all_isas_match_reference(conv(l, 1, 99, 4, 7, 9, 3, 3, 2, 1, 3));
    // groups == cin (depthwise through conv2d), with a depth multiplier.
    expect_all_isas_match_reference(conv(l, 1, 8, 6, 9, 8, 3, 3, 1, 1, 8));
    expect_all_isas_match_reference(conv(l, 1, 5, 6, 9, 15, 3, 3, 1, 1, 5));
    expect_all_isas_match_reference(conv(l, 1, 7, 7, 7, 7, 5, 5, 2, 2, 7));
  }
}

TEST(ConvX86, KernelSizesAndStrides) {
  for (Layout l : kLayouts)
    for (int64_t k : {1, 3, 5, 7})
      for (int64_t s : {1, 2, 3})
        expect_all_isas_match_reference(conv(l, 1, 6, 11, 13, 9, k, k, s, k / 2));
}

TEST(ConvX86, NonSquareAndDilation) {
  for (Layout l : kLayouts) {
    Case c = conv(l, 1, 5, 9, 12, 6, 2, 5, 1, 0);
    c.p.padding = {1, 0, 2, 3};
    expect_all_isas_match_reference(c);
    c = conv(l, 1, 7, 13, 19, 10, 3, 3, 1, 2);
    c.p.dilation_h = 2, c.p.dilation_w = 3;
    c.p.padding = {2, 2, 3, 3};
    expect_all_isas_match_reference(c);
    c = conv(l, 1, 4, 15, 21, 5, 3, 2, 2, 1);
    c.p.stride_w = 3, c.p.dilation_w = 2, c.p.dilation_h = 3;
    expect_all_isas_match_reference(c);
    c = conv(l, 1, 4, 12, 25, 5, 3, 3, 1, 1);
    c.p.stride_h = 2, c.p.stride_w = 1;
    expect_all_isas_match_reference(c);
    c = conv(l, 1, 4, 12, 25, 5, 3, 3, 1, 1);
    c.p.stride_h = 1, c.p.stride_w = 2, c.p.dilation_w = 2;
    expect_all_isas_match_reference(c);
  }
}

TEST(ConvX86, Padding) {
  for (Layout l : kLayouts) {
    for (int64_t pad = 0; pad <= 4; ++pad) {
      expect_all_isas_match_reference(conv(l, 1, 3, 6, 7, 5, 3, 3, 1, pad));
      expect_all_isas_match_reference(conv(l, 1, 3, 6, 7, 5, 3, 3, 2, pad));
    }
    Case c = conv(l, 1, 9, 10, 20, 7, 3, 3, 2, 0);
    c.p.padding = {0, 2, 1, 0};
    expect_all_isas_match_reference(c);
    c.p.padding = {3, 0, 0, 4};
    expect_all_isas_match_reference(c);
    c = conv(l, 1, 9, 10, 20, 7, 3, 3, 2, 0);
    c.p.same_padding = true;
    expect_all_isas_match_reference(c);
    // Output narrower than the input span: 1x1 image with a big kernel and padding.
    expect_all_isas_match_reference(conv(l, 1, 17, 1, 1, 5, 5, 5, 1, 2));
  }
}

TEST(ConvX86, EveryActivationWithAndWithoutBias) {
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::relu6(), Activation::hardswish(),
                             Activation::clamp(-0.25f, 0.5f)};
  for (Layout l : kLayouts)
    for (const Activation& a : acts)
      for (bool bias : {false, true}) {
        Case c = conv(l, 1, 19, 7, 18, 9, 3, 3, 1, 1);
        c.p.activation = a;
        c.bias = bias;
        expect_all_isas_match_reference(c);
      }
}

// A NaN in the input reaches exactly the outputs whose receptive field holds it, in every
// kernel (width vectors at stride 1 and 2, broadcast, dot).
TEST(ConvX86, NanOnlyReachesItsReceptiveField) {
  struct Shape {
    int64_t cin, h, w, cout, stride;
  };
  const Shape shapes[] = {{20, 9, 41, 7, 1}, {20, 9, 41, 7, 2}, {20, 9, 7, 32, 1}, {70, 9, 21, 7, 1}, {70, 9, 21, 7, 2}};
  for (Layout l : kLayouts)
    for (const Shape& sh : shapes)
      for (const std::string& isa : isas()) {
        select_isa(isa);
        const Case c = conv(l, 1, sh.cin, sh.h, sh.w, sh.cout, 3, 3, sh.stride, 1);
        const TensorShape o = output_shape(c);
        std::vector<float> x(count(c.in), 0.5f), w(count(c.weight_shape), 0.25f), b(size_t(sh.cout), 0.0f);
        const int64_t ch = sh.cin - 3, hh = 4, ww = sh.w / 2 + 1;
        x[l == Layout::NCHW ? (ch * sh.h + hh) * sh.w + ww : (hh * sh.w + ww) * sh.cin + ch] =
            std::numeric_limits<float>::quiet_NaN();
        const auto y = run(c, x, w, b, true);
        for (int64_t oc = 0; oc < o.c; ++oc)
          for (int64_t oh = 0; oh < o.h; ++oh)
            for (int64_t ow = 0; ow < o.w; ++ow) {
              const float v = y[l == Layout::NCHW ? (oc * o.h + oh) * o.w + ow : (oh * o.w + ow) * o.c + oc];
              const int64_t di = hh - (oh * sh.stride - 1), dj = ww - (ow * sh.stride - 1);
              const bool reads = di >= 0 && di < 3 && dj >= 0 && dj < 3;
              EXPECT_EQ(std::isnan(v), reads) << isa << " " << describe(c) << " oc=" << oc << " oh=" << oh << " ow=" << ow;
            }
      }
  select_isa(isas().back());
}

// NHWC dot tiles on inputs at every offset 0..15 floats from a 64-byte boundary: a misaligned
// input with cin a multiple of the vector width reads rotated vectors and weights. A NaN in
// the last channel of a pixel (the lane next to the following pixel's head) and one in the
// first channel must only reach their receptive fields, the rest must match the reference,
// and 2 and 3 threads must give the bits of 1 thread; groups 1 and 2.
TEST(ConvX86, NhwcDotAtEveryInputOffset) {
  struct Shape {
    int64_t cin, h, w, cout, stride, groups;
  };
  const Shape shapes[] = {{64, 17, 19, 9, 1, 1}, {96, 33, 35, 20, 2, 1}, {128, 18, 16, 6, 1, 2}};
  const int saved = get_num_threads();
  for (const std::string& isa : isas()) {
    if (isa == "scalar") continue;
    for (const Shape& sh : shapes)
      for (int64_t off = 0; off < 16; ++off) {
          const Case c = conv(Layout::NHWC, 1, sh.cin, sh.h, sh.w, sh.cout, 3, 3, sh.stride, 1, sh.groups);
          std::vector<float> x = random_floats(count(c.in), uint32_t(off + 7));
          const auto w = random_floats(count(c.weight_shape), 3), b = random_floats(size_t(sh.cout), 4);
          const float nan = std::numeric_limits<float>::quiet_NaN();
          x[(5 * sh.w + 6) * sh.cin + sh.cin - 1] = nan;
          x[(9 * sh.w + 3) * sh.cin] = nan;
          select_isa("scalar");
          const auto expected = run(c, x, w, b, false);
          select_isa(isa);
          std::vector<float> xbuf(x.size() + 32);
          float* xo = xbuf.data() + (16 - reinterpret_cast<uintptr_t>(xbuf.data()) / sizeof(float) % 16) % 16 + off;
          std::copy(x.begin(), x.end(), xo);
          const PackedWeights pw = pack_weights(w.data(), c.weight_shape, c.op, c.p.layout);
          std::vector<float> y[3];
          for (int t = 0; t < 3; ++t) {
            set_num_threads(t + 1);
            y[t].resize(expected.size());
            conv2d(xo, c.in, pw, b.data(), y[t].data(), c.p);
          }
          size_t bad = 0;
          for (size_t i = 0; i < expected.size(); ++i) {
            const float e = expected[i], g = y[0][i];
            bad += std::isnan(e) ? !std::isnan(g) : !(std::fabs(e - g) <= 1e-4f * std::max(1.0f, std::fabs(e)));
          }
          EXPECT_EQ(bad, 0u) << isa << " offset " << off << " " << describe(c);
          for (int t = 1; t < 3; ++t)
            EXPECT_EQ(std::memcmp(y[0].data(), y[t].data(), y[0].size() * sizeof(float)), 0)
                << isa << " offset " << off << ": " << t + 1 << " threads differ from 1 " << describe(c);
      }
  }
  set_num_threads(saved);
  select_isa(isas().back());
}

// Calls split across threads give work ranges that start inside a weight panel or a tile
// (channel blocks of 16 when there are too few rows, row bands otherwise).
TEST(ConvX86, WorkSplitAcrossThreads) {
  const int saved = get_num_threads();
  set_num_threads(3);
  for (Layout l : kLayouts) {
    expect_all_isas_match_reference(conv(l, 1, 40, 1, 30, 100, 3, 3, 1, 1));  // one output row
    expect_all_isas_match_reference(conv(l, 1, 70, 1, 9, 52, 3, 3, 1, 1));
    expect_all_isas_match_reference(conv(l, 1, 24, 13, 19, 40, 3, 3, 1, 1));  // row bands
    expect_all_isas_match_reference(conv(l, 1, 96, 9, 8, 36, 3, 3, 1, 1, 3));
  }
  set_num_threads(saved);
}

// Each kernel of each layout is reached by some case here, and each matches the reference.
TEST(ConvX86, EveryKernelMatchesReference) {
  const Case cases[] = {
      conv(Layout::NCHW, 1, 5, 8, 40, 7, 3, 3, 1, 1),    // width vectors, stride 1
      conv(Layout::NCHW, 1, 5, 8, 80, 7, 3, 3, 2, 1),    // width vectors, stride 2
      conv(Layout::NCHW, 1, 5, 8, 120, 7, 3, 3, 3, 1),   // width vectors, gather
      conv(Layout::NCHW, 1, 5, 8, 7, 32, 3, 3, 1, 1),    // broadcast
      conv(Layout::NHWC, 1, 5, 8, 7, 32, 3, 3, 1, 1),    // broadcast
      conv(Layout::NHWC, 1, 70, 5, 7, 9, 3, 3, 1, 1),    // dot
  };
  for (const std::string& isa : isas()) {
    if (isa != "avx2" && isa != "avx512") continue;
    select_isa(isa);
    std::vector<std::string> names;
    for (const Case& c : cases) names.push_back(kernel_name(c.op, c.in, c.weight_shape, c.p));
    const std::vector<std::string> want = {isa + "/conv_nchw_s1",    isa + "/conv_nchw_s2",    isa + "/conv_nchw_gather",
                                           isa + "/conv_nchw_bcast", isa + "/conv_nhwc_bcast", isa + "/conv_nhwc_dot"};
    EXPECT_EQ(names, want);
  }
  for (const Case& c : cases) expect_all_isas_match_reference(c);
}

TEST(ConvX86, KernelNamesAreSimd) {
  for (const std::string& isa : isas()) {
    if (isa != "avx2" && isa != "avx512") continue;
    select_isa(isa);
    for (Layout l : kLayouts)
      for (int64_t s : {1, 2, 3}) {
        const Case c = conv(l, 1, 8, 8, 8, 8, 3, 3, s, 1);
        const std::string name = kernel_name(c.op, c.in, c.weight_shape, c.p);
        EXPECT_EQ(name.rfind(isa + "/conv_", 0), 0u) << name;
      }
  }
  select_isa(isas().back());
}

}  // namespace
}  // namespace dsconv::test
