// Validation of a call's arguments and resolution of its geometry (output size, padding).
// Every error names the dimension that disagrees and with what.
#pragma once

#include <vector>

#include "kernels/kernel_types.hpp"

namespace dsconv::detail {

// Per-axis output size and padding, TensorFlow "same" included.
struct AxisPlan {
  int64_t out = 0, pad_before = 0, pad_after = 0;
};
AxisPlan plan_axis(const char* axis, int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_before,
                   int64_t pad_after, bool same);

void check_input(const TensorShape& in);
WeightDims weight_dims(Op op, const std::vector<int64_t>& weight_shape);

ConvGeometry depthwise_geometry(const TensorShape& in, const std::vector<int64_t>& weight_shape, const ConvParams& p);
ConvGeometry pointwise_geometry(const TensorShape& in, const std::vector<int64_t>& weight_shape, Layout layout);
ConvGeometry conv2d_geometry(const TensorShape& in, const std::vector<int64_t>& weight_shape, const ConvParams& p);

// Element counts of one image's input and output, overflow-checked.
int64_t input_image_size(const ConvGeometry& g);
int64_t output_image_size(const ConvGeometry& g);

}  // namespace dsconv::detail
