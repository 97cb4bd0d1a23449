// The cost model. Nominal MACs are the textbook formula over the output grid; effective
// MACs count only taps on real input, per axis in closed form (a tap's valid output indices
// form one interval), so huge shapes cost O(k) and overflow is detected, not wrapped.
#include "dsconv/cost.hpp"

#include <algorithm>

#include "core/checked.hpp"
#include "core/geometry.hpp"

namespace dsconv {
namespace {

using detail::checked_mul_u;
using detail::ConvGeometry;

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Sum over output indices of the taps that land inside [0, in).
uint64_t valid_taps(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t dilation, int64_t pad) {
  uint64_t total = 0;
  for (int64_t t = 0; t < k; ++t) {
    const int64_t offset = t * dilation - pad;  // input index = o*stride + offset
    const int64_t lo = std::max<int64_t>(0, -floor_div(offset, stride));
    const int64_t hi = std::min<int64_t>(out - 1, floor_div(in - 1 - offset, stride));
    if (hi >= lo) total += uint64_t(hi - lo + 1);
  }
  return total;
}

uint64_t u(int64_t v) { return uint64_t(v); }

Cost cost_of(const ConvGeometry& g, int64_t batch) {
  Cost c;
  const uint64_t per_output = checked_mul_u(u(g.cin_per_group()), checked_mul_u(u(g.kh), u(g.kw), "MACs"), "MACs");
  const uint64_t outputs = checked_mul_u(u(batch), checked_mul_u(u(g.cout), u(g.ho * g.wo), "MACs"), "MACs");
  c.macs = checked_mul_u(outputs, per_output, "MACs");
  const uint64_t taps = checked_mul_u(valid_taps(g.h, g.ho, g.kh, g.sh, g.dh, g.pad_top),
                                      valid_taps(g.w, g.wo, g.kw, g.sw, g.dw, g.pad_left), "effective MACs");
  c.effective_macs =
      checked_mul_u(checked_mul_u(u(batch), checked_mul_u(u(g.cout), u(g.cin_per_group()), "effective MACs"),
                                  "effective MACs"),
                    taps, "effective MACs");
  c.params = checked_mul_u(u(g.cout), per_output, "params");
  c.input_bytes = checked_mul_u(4, checked_mul_u(u(batch), u(detail::input_image_size(g)), "bytes"), "bytes");
  c.weight_bytes = checked_mul_u(4, c.params, "bytes");
  c.output_bytes = checked_mul_u(4, checked_mul_u(u(batch), u(detail::output_image_size(g)), "bytes"), "bytes");
  return c;
}

uint64_t sum(uint64_t a, uint64_t b) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw SizeOverflow("cost: size overflows 64 bits");
  return r;
}

// A two-stage cost: MACs and parameters add up; the bytes are the compulsory traffic of
// the pair (first input, both weights, last output), as a fused kernel would move them.
Cost combine(const Cost& first, const Cost& second, uint64_t output_bytes) {
  Cost c;
  c.macs = sum(first.macs, second.macs);
  c.effective_macs = sum(first.effective_macs, second.effective_macs);
  c.params = sum(first.params, second.params);
  c.input_bytes = first.input_bytes;
  c.weight_bytes = sum(first.weight_bytes, second.weight_bytes);
  c.output_bytes = output_bytes;
  c.parts = {first, second};
  return c;
}

TensorShape output_of(const TensorShape& in, const ConvGeometry& g) { return {in.n, g.cout, g.ho, g.wo}; }

}  // namespace

double Cost::roofline_seconds(double peak_flops, double bandwidth) const {
  if (!(peak_flops > 0) || !(bandwidth > 0)) throw Error("roofline_seconds needs positive peak and bandwidth");
  return std::max(double(flops()) / peak_flops, double(bytes()) / bandwidth);
}

Cost cost_standard(const TensorShape& in, int64_t out_channels, int64_t kh, int64_t kw, const ConvParams& p) {
  detail::check_input(in);
  if (p.groups < 1) throw Error("groups must be >= 1");
  if (in.c % p.groups != 0) throw Error("input channels must be divisible by groups");
  return cost_of(detail::conv2d_geometry(in, {out_channels, in.c / p.groups, kh, kw}, p), in.n);
}

Cost cost_depthwise(const TensorShape& in, int64_t kh, int64_t kw, const ConvParams& p, int64_t multiplier) {
  detail::check_input(in);
  if (multiplier < 1) throw Error("multiplier must be >= 1, got " + std::to_string(multiplier));
  const int64_t cout = detail::checked_mul(in.c, multiplier, "channels");
  return cost_of(detail::depthwise_geometry(in, {cout, 1, kh, kw}, p), in.n);
}

Cost cost_pointwise(const TensorShape& in, int64_t out_channels) {
  return cost_of(detail::pointwise_geometry(in, {out_channels, in.c}, Layout::NCHW), in.n);
}

Cost cost_separable(const TensorShape& in, int64_t out_channels, int64_t kh, int64_t kw, const ConvParams& p) {
  const ConvGeometry dg = detail::depthwise_geometry(in, {in.c, 1, kh, kw}, p);
  const Cost dw = cost_of(dg, in.n);
  const Cost pw = cost_pointwise(output_of(in, dg), out_channels);
  return combine(dw, pw, pw.output_bytes);
}

Cost cost_ghost(const TensorShape& in, int64_t out_channels, int64_t kh, int64_t kw, int64_t ratio,
                int64_t dw_kernel, int64_t stride) {
  if (ratio < 2) throw Error("ghost ratio must be >= 2, got " + std::to_string(ratio));
  if (out_channels < 1) throw Error("out_channels must be >= 1");
  ConvParams primary_p;
  primary_p.stride_h = primary_p.stride_w = stride;
  primary_p.padding = Padding::symmetric(kh / 2, kw / 2);
  const int64_t primary_channels = (out_channels + ratio - 1) / ratio;
  const ConvGeometry pg = detail::conv2d_geometry(in, {primary_channels, in.c, kh, kw}, primary_p);
  const Cost primary = cost_of(pg, in.n);
  ConvParams cheap_p;
  cheap_p.padding = Padding::symmetric(dw_kernel / 2, dw_kernel / 2);
  const Cost cheap = cost_depthwise(output_of(in, pg), dw_kernel, dw_kernel, cheap_p, ratio - 1);
  const uint64_t out_bytes =
      checked_mul_u(4, checked_mul_u(u(in.n), checked_mul_u(u(out_channels), u(pg.ho * pg.wo), "bytes"), "bytes"),
                    "bytes");
  return combine(primary, cheap, out_bytes);
}

double reduction_ratio(int64_t out_channels, int64_t kh, int64_t kw) {
  if (out_channels < 1 || kh < 1 || kw < 1) throw Error("reduction_ratio needs positive sizes");
  return 1.0 / double(out_channels) + 1.0 / (double(kh) * double(kw));
}

}  // namespace dsconv
