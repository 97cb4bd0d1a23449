// Pointwise (1x1) kernels on every ISA against the reference: channel and pixel counts at
// 1, tile-1, tile, tile+1 and large for the AVX2 (6x16 NHWC, 6x16 NCHW) and AVX-512 (14x32
// and 4x96 NHWC, 8x48 NCHW) tiles and the NCHW few-pixel path, both layouts, every activation,
// bias and no bias, raw and packed (the same bits, any thread count), thread splits, work ranges
// called on the kernels directly, NaN containment; the NHWC paired path for Cout <= 24.
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "reference/reference.hpp"
#include "test_util.hpp"
#include "x86/x86_kernels.hpp"

using namespace dsconv;
using dsconv::test::Case;
using dsconv::test::expect_all_isas_match_reference;

namespace {

Case pw_case(int64_t n, int64_t cin, int64_t cout, int64_t h, int64_t w, Layout layout, Activation act, bool bias,
             bool four_d = true) {
  Case c;
  c.op = Op::Pointwise;
  c.in = {n, cin, h, w};
  c.weight_shape = four_d ? std::vector<int64_t>{cout, cin, 1, 1} : std::vector<int64_t>{cout, cin};
  c.p.layout = layout;
  c.p.activation = act;
  c.bias = bias;
  return c;
}

const Layout kLayouts[] = {Layout::NHWC, Layout::NCHW};

}  // namespace

// Output channels around the panel widths (8, 16, 32) and the NCHW channel tiles (6, 8).
TEST(PointwiseX86, OutputChannelEdges) {
  for (Layout layout : kLayouts)
    for (int64_t cout : {1, 5, 6, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 97})
      expect_all_isas_match_reference(pw_case(1, 13, cout, 3, 7, layout, Activation::none(), cout % 2 == 1));
}

// Input channels: the reduction length, including more than one chunk (KC = 256 NCHW, 1024 NHWC).
TEST(PointwiseX86, InputChannelEdges) {
  for (Layout layout : kLayouts)
    for (int64_t cin : {1, 2, 7, 8, 16, 17, 255, 256, 257, 600, 1100})
      expect_all_isas_match_reference(pw_case(1, cin, 20, 5, 5, layout, Activation::relu(), cin % 2 == 0));
}

// Pixel counts around the NHWC pixel tiles (6, 7), the NCHW pixel tiles (8, 16, 32, 48) and the
// pixel blocks (96, 112, 384).
TEST(PointwiseX86, PixelEdges) {
  for (Layout layout : kLayouts)
    for (int64_t hw : {1, 5, 6, 7, 8, 13, 14, 15, 16, 17, 28, 31, 32, 33, 47, 48, 49, 95, 96, 97, 111, 112, 113, 383,
                       384, 385, 1000})
      expect_all_isas_match_reference(pw_case(1, 9, 35, 1, hw, layout, Activation::none(), hw % 2 == 1));
}

// NCHW images of few pixels take the transposed path (vectors over output channels, the tile
// written transposed in 8 x 8 blocks): every pixel count up to two of its tiles (AVX2 6,
// AVX-512 14 pixels, near-equal tiles) and beyond, channels around its panels.
TEST(PointwiseX86, FewPixelsNchw) {
  std::vector<int64_t> sizes;
  for (int64_t hw = 1; hw <= 30; ++hw) sizes.push_back(hw);
  for (int64_t hw : {41, 42, 43, 49, 56, 100, 196}) sizes.push_back(hw);
  for (int64_t hw : sizes)
    for (int64_t cout : {16, 32, 48, 64, 96})
      expect_all_isas_match_reference(pw_case(1, 21, cout, 1, hw, Layout::NCHW, Activation::relu6(), hw % 2 == 0));
  expect_all_isas_match_reference(pw_case(2, 300, 160, 7, 7, Layout::NCHW, Activation::none(), true));
}

// NCHW pixel-vector tiles run in one call per run of whole tiles, then the tail: pixel counts
// around the tiles (AVX2 16, AVX-512 48) and the 384-pixel blocks, a reduction in two chunks
// (the second continues the partial sums), channel tiles of every size.
TEST(PointwiseX86, PixelTileRunsNchw) {
  for (int64_t hw : {257, 288, 289, 383, 384, 385, 431, 432, 433, 1000})
    for (int64_t cout : {5, 20})
      expect_all_isas_match_reference(pw_case(1, 300, cout, 1, hw, Layout::NCHW, Activation::relu(), hw % 2 == 1));
}

// NHWC panel tiles (AVX-512 14x32, rows read from two bases): every pixel count up to two
// tiles, near-equal tiles of the 112-pixel blocks, short and long reductions.
TEST(PointwiseX86, PanelTileRowsNhwc) {
  for (int64_t cin : {13, 300})
    for (int64_t cout : {25, 32})
      for (int64_t hw = 1; hw <= 30; ++hw)
        expect_all_isas_match_reference(pw_case(1, cin, cout, 1, hw, Layout::NHWC, Activation::relu6(), hw % 2 == 0));
  for (int64_t hw : {13, 14, 15, 28, 29, 49, 113})
    expect_all_isas_match_reference(pw_case(1, 600, 160, 1, hw, Layout::NHWC, Activation::none(), hw % 2 == 1));
  // Cin past the reduction chunk: the last chunk is short, so each pixel tile runs over every
  // (whole) panel, and runs of equal tiles go in one call continuing the partial sums.
  for (int64_t cout : {64, 96})
    for (int64_t hw : {1, 13, 14, 15, 27, 28, 29, 41, 112, 113, 125})
      expect_all_isas_match_reference(pw_case(1, 1030, cout, 1, hw, Layout::NHWC, Activation::hardswish(), hw % 2 == 0));
}

// NHWC with weights that fit in L2 over more than one panel takes the wide tile on AVX-512 (4
// pixels x up to 6 vectors across panels, groups of whole panels): Cout around the vector,
// panel and group widths, pixel counts around the 4-pixel tile and the 112-pixel block.
TEST(PointwiseX86, WideTileNhwc) {
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::relu6(), Activation::hardswish(),
                             Activation::clamp(-0.25f, 0.5f)};
  int n = 0;
  for (int64_t cin : {1, 16, 24, 64})
    for (int64_t cout : {33, 47, 48, 64, 80, 95, 96, 97, 128, 144, 200})
      for (int64_t hw : {1, 3, 4, 5, 111, 113}) {
        ++n;
        expect_all_isas_match_reference(pw_case(1, cin, cout, 1, hw, Layout::NHWC, acts[n % 5], n % 2 == 0));
      }
  // Longer reductions, whole MobileNet layers, and weights too large for the wide tile.
  for (int64_t cin : {255, 257, 384})
    expect_all_isas_match_reference(pw_case(1, cin, 97, 3, 5, Layout::NHWC, Activation::relu(), cin % 2 == 1));
  expect_all_isas_match_reference(pw_case(1, 16, 96, 56, 56, Layout::NHWC, Activation::relu6(), true));
  expect_all_isas_match_reference(pw_case(1, 24, 144, 28, 29, Layout::NHWC, Activation::none(), false));
  expect_all_isas_match_reference(pw_case(1, 384, 64, 14, 14, Layout::NHWC, Activation::none(), true));
  expect_all_isas_match_reference(pw_case(1, 600, 160, 5, 5, Layout::NHWC, Activation::relu(), true));
  expect_all_isas_match_reference(pw_case(1, 1100, 64, 3, 3, Layout::NHWC, Activation::relu(), false));
}

// NHWC with Cout <= 24 takes the paired path on AVX-512 (8 channels x 2 inputs per vector,
// 14 or 8-pixel tiles): odd and even Cin, pixel counts around both tiles.
TEST(PointwiseX86, FewChannelsNhwc) {
  for (int64_t cout : {1, 8, 9, 16, 17, 24})
    for (int64_t cin : {1, 2, 6, 7})
      for (int64_t hw : {1, 7, 8, 9, 13, 14, 15, 29})
        expect_all_isas_match_reference(pw_case(1, cin, cout, 1, hw, Layout::NHWC, Activation::relu(), hw % 2 == 1));
}

TEST(PointwiseX86, EveryActivation) {
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::relu6(), Activation::hardswish(),
                             Activation::clamp(-0.25f, 0.5f)};
  for (Layout layout : kLayouts)
    for (const Activation& a : acts)
      for (bool bias : {false, true}) {
        expect_all_isas_match_reference(pw_case(2, 19, 37, 7, 9, layout, a, bias));
        expect_all_isas_match_reference(pw_case(1, 19, 64, 3, 5, layout, a, bias));
      }
}

// MobileNet-like shapes, batch > 1, and the 2-D (Cout, Cin) weight shape.
TEST(PointwiseX86, LargeShapes) {
  for (Layout layout : kLayouts) {
    expect_all_isas_match_reference(pw_case(1, 144, 24, 28, 28, layout, Activation::relu6(), true));
    expect_all_isas_match_reference(pw_case(1, 24, 144, 20, 21, layout, Activation::none(), false));
    expect_all_isas_match_reference(pw_case(1, 576, 160, 7, 7, layout, Activation::hardswish(), true, false));
    expect_all_isas_match_reference(pw_case(3, 40, 50, 9, 11, layout, Activation::relu(), true));
  }
}

// Multi-threaded calls split the work into channel blocks and row bands; each must write
// exactly its own range.
TEST(PointwiseX86, ThreadSplits) {
  const int saved = get_num_threads();
  set_num_threads(3);
  for (Layout layout : kLayouts) {
    expect_all_isas_match_reference(pw_case(1, 64, 200, 2, 9, layout, Activation::relu(), true));
    expect_all_isas_match_reference(pw_case(1, 64, 40, 30, 9, layout, Activation::none(), false));
    expect_all_isas_match_reference(pw_case(1, 300, 96, 1, 7, layout, Activation::hardswish(), true));
    expect_all_isas_match_reference(pw_case(1, 2001, 24, 1, 5, layout, Activation::relu6(), true));
  }
  set_num_threads(saved);
}

#if defined(__x86_64__) || defined(__i386__)
// Each kernel called directly on a work range: channel ranges that start and end anywhere in a
// panel (e.g. in its second half, as the 2-thread split of 160 channels at 80 does) and row
// bands; the outputs inside the range match the reference, nothing outside is written. The
// raw-weight kernel (packing its range's panels itself, in chunks when Cin is large) writes the
// same bits as the packed one. (The x86 tables exist only in x86 builds; the ARM builds run the
// rest of this file on NEON.)
TEST(PointwiseX86, KernelWorkRanges) {
  using namespace dsconv::detail;
  struct IsaKernels {
    const char* isa;
    LayoutKernels (*nhwc)();
    LayoutKernels (*nchw)();
  };
  const IsaKernels table[] = {{"avx2", pwconv_nhwc_avx2, pwconv_nchw_avx2},
                              {"avx512", pwconv_nhwc_avx512, pwconv_nchw_avx512}};
  const std::vector<std::string> have = test::isas();
  const float sentinel = 12345.0f;
  for (const IsaKernels& k : table) {
    if (std::find(have.begin(), have.end(), k.isa) == have.end()) continue;
    for (Layout layout : kLayouts)
      for (const auto& [cin, hw] : {std::pair<int64_t, int64_t>{19, 3}, {19, 7}, {19, 20}, {1100, 3}, {700, 7}}) {
        const int64_t cout = 97, h = hw, w = 5;
        ConvGeometry g;
        g.layout = layout;
        g.cin = cin, g.h = h, g.w = w, g.cout = cout, g.ho = h, g.wo = w;
        const WeightDims d{cout, cin, 1, 1};
        const LayoutKernels lk = layout == Layout::NHWC ? k.nhwc() : k.nchw();
        const std::vector<float> x = test::random_floats(size_t(cin * h * w), 5);
        const std::vector<float> wt = test::random_floats(size_t(cout * cin), 6);
        const std::vector<float> bias = test::random_floats(size_t(cout), 7);
        std::vector<float> packed(lk.packed_size(d, layout) + 16);
        float* wp = packed.data() + (16 - (reinterpret_cast<uintptr_t>(packed.data()) / sizeof(float)) % 16) % 16;
        lk.pack(d, layout, wt.data(), wp);
        const KernelChoice kc = lk.select(g), raw = lk.select_raw(g);
        ASSERT_NE(raw.run, nullptr);
        ASSERT_STREQ(raw.name, kc.name);
        const int64_t bounds[][2] = {{0, 97}, {8, 20}, {16, 32}, {17, 40}, {40, 48}, {48, 64}, {80, 97}, {90, 91}};
        for (const auto& b : bounds)
          for (const auto& rows : {std::pair<int64_t, int64_t>{0, h}, {1, h - 1}}) {
            const WorkRange r{b[0], b[1], rows.first, rows.second};
            const Activation act = Activation::relu6();
            std::vector<float> y(size_t(cout * h * w), sentinel), ref(size_t(cout * h * w), sentinel);
            std::vector<float> yr(size_t(cout * h * w), sentinel);
            kc.run(g, r, x.data(), wp, bias.data(), act, y.data());
            raw.run(g, r, x.data(), wt.data(), bias.data(), act, yr.data());
            ASSERT_EQ(std::memcmp(y.data(), yr.data(), y.size() * sizeof(float)), 0)
                << kc.name << " raw weights, range " << b[0] << ".." << b[1] << " cin " << cin;
            reference::pwconv(g, r, x.data(), wt.data(), bias.data(), act, ref.data());
            for (int64_t o = 0; o < cout; ++o)
              for (int64_t p = 0; p < h * w; ++p) {
                const size_t at = layout == Layout::NHWC ? size_t(p * cout + o) : size_t(o * h * w + p);
                const bool inside = o >= r.oc_begin && o < r.oc_end && p / w >= r.oh_begin && p / w < r.oh_end;
                if (inside)
                  ASSERT_NEAR(y[at], ref[at], 1e-4f) << kc.name << " range " << b[0] << ".." << b[1] << " o " << o;
                else
                  ASSERT_EQ(y[at], sentinel) << kc.name << " wrote outside " << b[0] << ".." << b[1] << " o " << o;
              }
          }
      }
  }
}
#endif

// A call with raw weights gives the same bits as one with packed weights, for any thread count
// (threads split channels, mid-panel too, or rows; raw calls pack their own range's panels):
// every path (panel, wide, paired NHWC; pixel-vector and few-pixel NCHW), reductions packed in
// one or several chunks, with and without bias.
TEST(PointwiseX86, RawWeightsSameBitsAsPacked) {
  struct Shape {
    int64_t n, cin, cout, h, w;
  };
  const Shape shapes[] = {{1, 600, 160, 7, 7}, {1, 1100, 97, 3, 5}, {1, 960, 320, 2, 7}, {1, 64, 128, 9, 9},
                          {1, 144, 24, 6, 7},  {1, 32, 16, 20, 20}, {2, 300, 96, 7, 7},  {1, 19, 33, 1, 1},
                          {1, 577, 65, 5, 3},  {1, 1030, 64, 5, 6}, {1, 300, 40, 20, 21}};
  const int saved = get_num_threads();
  int i = 0;
  for (const std::string& isa : test::isas()) {
    select_isa(isa);
    for (const Shape& s : shapes)
      for (Layout layout : kLayouts) {
        ++i;
        const std::vector<float> x = test::random_floats(size_t(s.n * s.cin * s.h * s.w), 11);
        const std::vector<float> w = test::random_floats(size_t(s.cout * s.cin), 12);
        const std::vector<float> b = test::random_floats(size_t(s.cout), 13);
        const float* bias = i % 2 ? b.data() : nullptr;
        const Activation act = test::activation_of(i);
        const TensorShape in{s.n, s.cin, s.h, s.w};
        const std::vector<int64_t> ws{s.cout, s.cin, 1, 1};
        const PackedWeights packed = pack_weights(w.data(), ws, Op::Pointwise, layout);
        const size_t out = size_t(s.n * s.cout * s.h * s.w);
        std::vector<float> first(out);
        for (int threads : {1, 2, 3}) {
          set_num_threads(threads);
          std::vector<float> yp(out), yr(out);
          pointwise_conv2d(x.data(), in, packed, bias, yp.data(), act, layout);
          pointwise_conv2d(x.data(), in, w.data(), ws, bias, yr.data(), act, layout);
          EXPECT_EQ(std::memcmp(yp.data(), yr.data(), out * sizeof(float)), 0)
              << isa << " " << s.cin << "->" << s.cout << " " << s.h << "x" << s.w << " threads " << threads;
          if (threads == 1) first = yr;
          EXPECT_EQ(std::memcmp(first.data(), yr.data(), out * sizeof(float)), 0)
              << isa << " " << s.cin << "->" << s.cout << " raw, threads " << threads << " vs 1";
        }
      }
  }
  set_num_threads(saved);
  select_isa(test::isas().back());
}

// NaN/Inf propagate only to the outputs whose pixel holds them, through every activation.
TEST(PointwiseX86, NanStaysInItsPixel) {
  const Activation acts[] = {Activation::none(), Activation::relu(), Activation::relu6(), Activation::hardswish(),
                             Activation::clamp(-1.0f, 1.0f)};
  const int64_t cin = 21;
  // NCHW: the few-pixel path, then vectors over pixels; NHWC: panels, then the paired path.
  for (int64_t cout : {37, 16})
  for (int64_t hw : {23, 300}) {
    for (Layout layout : kLayouts)
      for (const Activation& a : acts)
        for (const std::string& isa : test::isas()) {
          select_isa(isa);
          std::vector<float> x = test::random_floats(size_t(cin * hw), 3);
          const std::vector<float> w = test::random_floats(size_t(cin * cout), 4);
          const int64_t bad_pixel = 11;
          const size_t at = layout == Layout::NHWC ? size_t(bad_pixel * cin + 5) : size_t(5 * hw + bad_pixel);
          x[at] = std::numeric_limits<float>::quiet_NaN();
          std::vector<float> y(size_t(cout * hw));
          pointwise_conv2d(x.data(), {1, cin, 1, hw}, w.data(), {cout, cin}, nullptr, y.data(), a, layout);
          for (int64_t p = 0; p < hw; ++p)
            for (int64_t o = 0; o < cout; ++o) {
              const float v = layout == Layout::NHWC ? y[size_t(p * cout + o)] : y[size_t(o * hw + p)];
              EXPECT_EQ(std::isnan(v), p == bad_pixel) << isa << " pixel " << p << " channel " << o;
            }
        }
  }
  select_isa(test::isas().back());
}

// The kernels are SIMD on the x86 ISAs (the name must tell the truth).
TEST(PointwiseX86, KernelNames) {
  for (const std::string& isa : test::isas()) {
    if (isa != "avx2" && isa != "avx512") continue;
    select_isa(isa);
    for (Layout layout : kLayouts) {
      ConvParams p;
      p.layout = layout;
      const std::string name = kernel_name(Op::Pointwise, {1, 8, 4, 4}, {8, 8, 1, 1}, p);
      EXPECT_EQ(name.rfind(isa + "/pwconv_" + (layout == Layout::NHWC ? "nhwc" : "nchw"), 0), 0u) << name;
    }
  }
  select_isa(test::isas().back());
}
