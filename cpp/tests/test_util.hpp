// Shared helpers of the C++ tests: random tensors, and the comparison of every ISA's kernels
// (forced through the dispatch) with the reference kernels, raw and packed weights.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "dsconv/dsconv.hpp"

namespace dsconv::test {

inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

inline size_t count(const TensorShape& s) { return size_t(s.n * s.c * s.h * s.w); }
inline size_t count(const std::vector<int64_t>& s) {
  size_t n = 1;
  for (int64_t d : s) n *= size_t(d);
  return n;
}

// The ISAs this CPU runs, reference ("scalar") first.
inline std::vector<std::string> isas() { return cpu_info().available; }

// Runs body(isa) with each SIMD ISA selected in turn (not "scalar"), then selects the best ISA
// again, also after a failed ASSERT in the body.
template <class Body>
void for_each_simd_isa(Body body) {
  for (const std::string& isa : isas()) {
    if (isa == "scalar") continue;
    select_isa(isa);
    body(isa);
  }
  select_isa(isas().back());
}

struct Case {
  Op op = Op::Depthwise;
  TensorShape in;
  std::vector<int64_t> weight_shape;
  ConvParams p;
  bool bias = true;
};

// The five activations, by index (i % 5).
inline Activation activation_of(int i) {
  switch (i % 5) {
    case 0: return Activation::none();
    case 1: return Activation::relu();
    case 2: return Activation::relu6();
    case 3: return Activation::hardswish();
    default: return Activation::clamp(-0.25f, 0.5f);
  }
}

inline int64_t pick(std::mt19937& rng, int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
}

// Padding up to the whole kernel on each side, independently.
inline Padding random_padding(std::mt19937& rng, int64_t kh, int64_t kw) {
  return {pick(rng, 0, kh), pick(rng, 0, kh), pick(rng, 0, kw), pick(rng, 0, kw)};
}

// A depthwise case; false when the padded input is smaller than the dilated kernel.
inline bool make_depthwise_case(Case& c, Layout layout, int64_t ch, int64_t mult, int64_t h, int64_t w, int64_t kh,
                                int64_t kw, int64_t sh, int64_t sw, int64_t dh, int64_t dw, Padding pad, int act,
                                bool bias) {
  if (h + pad.top + pad.bottom < (kh - 1) * dh + 1 || w + pad.left + pad.right < (kw - 1) * dw + 1) return false;
  c.op = Op::Depthwise;
  c.in = {1, ch, h, w};
  c.weight_shape = {ch * mult, 1, kh, kw};
  c.p = ConvParams{};
  c.p.stride_h = sh, c.p.stride_w = sw, c.p.dilation_h = dh, c.p.dilation_w = dw;
  c.p.padding = pad;
  c.p.activation = activation_of(act);
  c.p.layout = layout;
  c.bias = bias;
  return true;
}

inline std::string describe(const Case& c) {
  std::string s = c.op == Op::Depthwise ? "depthwise" : c.op == Op::Pointwise ? "pointwise" : "conv2d";
  s += std::string(c.p.layout == Layout::NHWC ? " NHWC" : " NCHW") + " in=(" + std::to_string(c.in.n) + "," +
       std::to_string(c.in.c) + "," + std::to_string(c.in.h) + "," + std::to_string(c.in.w) + ") w=(";
  for (size_t i = 0; i < c.weight_shape.size(); ++i) s += (i ? "," : "") + std::to_string(c.weight_shape[i]);
  s += ") stride=" + std::to_string(c.p.stride_h) + "x" + std::to_string(c.p.stride_w) +
       " dil=" + std::to_string(c.p.dilation_h) + "x" + std::to_string(c.p.dilation_w) +
       " pad=" + std::to_string(c.p.padding.top) + "," + std::to_string(c.p.padding.bottom) + "," +
       std::to_string(c.p.padding.left) + "," + std::to_string(c.p.padding.right) +
       (c.p.same_padding ? " same" : "") + " groups=" + std::to_string(c.p.groups) +
       " act=" + std::to_string(int(c.p.activation.kind)) + (c.bias ? " bias" : "");
  return s;
}

inline TensorShape output_shape(const Case& c) {
  switch (c.op) {
    case Op::Depthwise: return depthwise_output_shape(c.in, c.weight_shape, c.p);
    case Op::Pointwise: return pointwise_output_shape(c.in, c.weight_shape);
    case Op::Conv2d: return conv2d_output_shape(c.in, c.weight_shape, c.p);
  }
  return {};
}

// Runs the case on the active ISA; packed weights when `packed`.
inline std::vector<float> run(const Case& c, const std::vector<float>& x, const std::vector<float>& w,
                              const std::vector<float>& b, bool packed) {
  std::vector<float> y(count(output_shape(c)), std::nanf(""));
  const float* bias = c.bias ? b.data() : nullptr;
  if (packed) {
    const PackedWeights pw = pack_weights(w.data(), c.weight_shape, c.op, c.p.layout);
    switch (c.op) {
      case Op::Depthwise: depthwise_conv2d(x.data(), c.in, pw, bias, y.data(), c.p); break;
      case Op::Pointwise: pointwise_conv2d(x.data(), c.in, pw, bias, y.data(), c.p.activation, c.p.layout); break;
      case Op::Conv2d: conv2d(x.data(), c.in, pw, bias, y.data(), c.p); break;
    }
  } else {
    switch (c.op) {
      case Op::Depthwise: depthwise_conv2d(x.data(), c.in, w.data(), c.weight_shape, bias, y.data(), c.p); break;
      case Op::Pointwise:
        pointwise_conv2d(x.data(), c.in, w.data(), c.weight_shape, bias, y.data(), c.p.activation, c.p.layout);
        break;
      case Op::Conv2d: conv2d(x.data(), c.in, w.data(), c.weight_shape, bias, y.data(), c.p); break;
    }
  }
  return y;
}

// Checks the case on every ISA against the reference ("scalar"), raw and packed weights.
// Tolerance: fp32 accumulation over K taps in another order than the reference's.
inline void expect_all_isas_match_reference(const Case& c, uint32_t seed = 1) {
  const auto x = random_floats(count(c.in), seed);
  const auto w = random_floats(count(c.weight_shape), seed + 1);
  const int64_t cout = c.weight_shape[0];
  const auto b = random_floats(size_t(cout), seed + 2);
  select_isa("scalar");
  const auto expected = run(c, x, w, b, false);
  const int64_t taps = c.weight_shape.size() == 4 ? c.weight_shape[1] * c.weight_shape[2] * c.weight_shape[3]
                                                  : c.weight_shape[1];
  const float tol = 1e-5f + 4e-7f * float(taps);
  for (const std::string& isa : isas()) {
    select_isa(isa);
    for (bool packed : {false, true}) {
      const auto got = run(c, x, w, b, packed);
      size_t bad = 0, first_bad = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        const float e = expected[i], g = got[i];
        if (!(std::fabs(e - g) <= tol * std::max(1.0f, std::fabs(e)))) {
          if (!bad) first_bad = i;
          ++bad;
        }
      }
      EXPECT_EQ(bad, 0u) << isa << (packed ? " packed" : " raw") << " kernel "
                         << kernel_name(c.op, c.in, c.weight_shape, c.p) << ": " << describe(c) << "; first at "
                         << first_bad << " got " << got[first_bad] << " expected " << expected[first_bad];
    }
  }
  select_isa(isas().back());
}

}  // namespace dsconv::test
