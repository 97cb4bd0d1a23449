// dsconv cost model: MACs, FLOPs, parameters, compulsory bytes, arithmetic intensity and
// the roofline bound of each op. All counts are exact 64-bit integers; a product that would
// overflow throws dsconv::SizeOverflow. Checked against the reference kernels' counting mode.
#pragma once

#include <cstdint>
#include <vector>

#include "dsconv/dsconv.hpp"

namespace dsconv {

struct DSCONV_API Cost {  // exported: roofline_seconds is defined in the library
  uint64_t macs = 0;            // nominal: output elements x taps per output (textbook formula)
  uint64_t effective_macs = 0;  // taps that land on real input, not on padding
  uint64_t params = 0;          // weights (bias not included)
  uint64_t input_bytes = 0;
  uint64_t weight_bytes = 0;
  uint64_t output_bytes = 0;
  std::vector<Cost> parts;      // separable / ghost: their stages, in order

  uint64_t flops() const { return 2 * macs; }
  uint64_t bytes() const { return input_bytes + weight_bytes + output_bytes; }
  double intensity() const { return bytes() ? double(flops()) / double(bytes()) : 0.0; }
  // max(compute time at peak_flops FLOP/s, traffic time at bandwidth bytes/s).
  double roofline_seconds(double peak_flops, double bandwidth) const;
};

DSCONV_API Cost cost_standard(const TensorShape& in, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                              const ConvParams& p);
DSCONV_API Cost cost_depthwise(const TensorShape& in, int64_t kernel_h, int64_t kernel_w, const ConvParams& p,
                               int64_t multiplier = 1);
DSCONV_API Cost cost_pointwise(const TensorShape& in, int64_t out_channels);
DSCONV_API Cost cost_separable(const TensorShape& in, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                               const ConvParams& p);
// GhostNet's module: a primary standard conv to ceil(out/ratio) channels, then a cheap
// depthwise dw_kernel conv (multiplier ratio-1) making the rest; padding k//2 for both.
DSCONV_API Cost cost_ghost(const TensorShape& in, int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                           int64_t ratio, int64_t dw_kernel, int64_t stride);
// Cost of depthwise-separable relative to standard: 1/N + 1/(kH*kW).
DSCONV_API double reduction_ratio(int64_t out_channels, int64_t kernel_h, int64_t kernel_w);

}  // namespace dsconv
