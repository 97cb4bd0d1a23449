// The reference kernels against hand-computed results, and the cost model against the
// reference's counting mode (the Python tests add an independent NumPy oracle).
#include <gtest/gtest.h>

#include "dsconv/cost.hpp"
#include "core/geometry.hpp"
#include "reference/reference.hpp"
#include "test_util.hpp"

using namespace dsconv;

TEST(Reference, Depthwise3x3OnesIsBoxSum) {
  select_isa("scalar");
  const TensorShape in{1, 1, 3, 3};
  std::vector<float> x{1, 2, 3, 4, 5, 6, 7, 8, 9}, w(9, 1.0f), y(9);
  ConvParams p;
  p.padding = Padding::symmetric(1, 1);
  depthwise_conv2d(x.data(), in, w.data(), {1, 1, 3, 3}, nullptr, y.data(), p);
  const std::vector<float> expected{12, 21, 16, 27, 45, 33, 24, 39, 28};
  EXPECT_EQ(y, expected);
}

TEST(Reference, PointwiseMixesChannelsNhwc) {
  select_isa("scalar");
  const TensorShape in{1, 2, 1, 2};
  std::vector<float> x{1, 10, 2, 20};  // NHWC: pixel0 = (1, 10), pixel1 = (2, 20)
  std::vector<float> w{1, 1, 1, -1}, b{0.5f, 0.0f}, y(4);
  pointwise_conv2d(x.data(), in, w.data(), {2, 2}, b.data(), y.data(), Activation::relu(), Layout::NHWC);
  const std::vector<float> expected{11.5f, 0.0f, 22.5f, 0.0f};
  EXPECT_EQ(y, expected);
}

TEST(CostModel, CountsMatchReferenceCountingMode) {
  for (int64_t k : {1, 2, 3, 5})
    for (int64_t s : {1, 2, 3})
      for (int64_t d : {1, 2})
        for (int64_t pad : {0, 1, 3}) {
          ConvParams p;
          p.stride_h = s, p.stride_w = s, p.dilation_h = d, p.dilation_w = d;
          p.padding = {pad, pad + 1, pad, 0};
          const TensorShape in{2, 6, 9, 7};
          if ((k - 1) * d + 1 > 7 + pad) continue;
          const Cost c = cost_depthwise(in, k, k, p, 2);
          const auto n = detail::reference::count_macs(detail::depthwise_geometry(in, {12, 1, k, k}, p));
          EXPECT_EQ(c.macs, n.macs * 2);
          EXPECT_EQ(c.effective_macs, n.effective * 2);
          p.groups = 3;
          const Cost cs = cost_standard(in, 9, k, k, p);
          const auto ns = detail::reference::count_macs(detail::conv2d_geometry(in, {9, 2, k, k}, p));
          EXPECT_EQ(cs.macs, ns.macs * 2);
          EXPECT_EQ(cs.effective_macs, ns.effective * 2);
        }
}

TEST(CostModel, OverflowIsAnError) {
  const TensorShape huge{1 << 20, 1 << 20, 1 << 20, 1 << 20};
  EXPECT_THROW(cost_pointwise(huge, 4), SizeOverflow);
}

TEST(Validation, KernelLargerThanPaddedInput) {
  ConvParams p;
  EXPECT_THROW(depthwise_output_shape({1, 4, 2, 2}, {4, 1, 3, 3}, p), Error);
  p.stride_h = 0;
  EXPECT_THROW(depthwise_output_shape({1, 4, 5, 5}, {4, 1, 3, 3}, p), Error);
}
