// A check shared by the NHWC depthwise kernel tests: one call of the active ISA's kernel on a
// work range, with the input and output offset from a 64-byte boundary, against the reference.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "core/geometry.hpp"
#include "dispatch/dispatch.hpp"
#include "reference/reference.hpp"
#include "test_util.hpp"

namespace dsconv::test {

// A random work range of ch channels x ho rows; case n picks it: n % 4 == 0 starts at channel 0,
// n % 4 == 1 ends at channel ch, the others start and end anywhere.
inline detail::WorkRange random_range(std::mt19937& rng, int n, int64_t ch, int64_t ho) {
  detail::WorkRange r;
  r.oc_begin = n % 4 == 0 ? 0 : pick(rng, 0, ch - 1);
  r.oc_end = n % 4 == 1 ? ch : pick(rng, r.oc_begin + 1, ch);
  r.oh_begin = pick(rng, 0, ho - 1);
  r.oh_end = pick(rng, r.oh_begin + 1, ho);
  return r;
}

// Runs the selected kernel on range r with x and y offset by xoff, yoff floats from a 64-byte
// boundary (x, weights and bias random from seed, seed + 1, seed + 2) and checks it against the
// reference: the range matches, the rest of y keeps its old values, and nothing in the 16
// floats before y or the floats after it is written.
inline void check_range(const std::string& isa, const Case& c, const detail::WorkRange& r, int64_t xoff,
                        int64_t yoff, bool with_bias, uint32_t seed) {
  const detail::ConvGeometry g = detail::depthwise_geometry(c.in, c.weight_shape, c.p);
  const auto& kt = detail::kernel_table().depthwise;
  const int64_t ch = g.cin, k = g.kh;
  auto aligned = [](float* p) { return p + (16 - reinterpret_cast<uintptr_t>(p) / sizeof(float) % 16) % 16; };
  auto xbuf = random_floats(size_t(ch * g.h * g.w + 32), seed);
  const float* x = aligned(xbuf.data()) + xoff;
  const auto wt = random_floats(size_t(ch * k * k), seed + 1);
  const auto b = random_floats(size_t(ch), seed + 2);
  const detail::WeightDims d{ch, 1, k, k};
  std::vector<float> packed(kt.packed_size(d, Layout::NHWC));
  kt.pack(d, Layout::NHWC, wt.data(), packed.data());
  const size_t out = size_t(g.cout * g.ho * g.wo);
  std::vector<float> ybuf(out + 48, -7.0f), want(out, -7.0f);
  float* y = aligned(ybuf.data()) + 16 + yoff;
  const float* bias = with_bias ? b.data() : nullptr;
  kt.select(g).run(g, r, x, packed.data(), bias, c.p.activation, y);
  detail::reference::dwconv(g, r, x, wt.data(), bias, c.p.activation, want.data());
  for (size_t i = 0; i < out; ++i)
    ASSERT_NEAR(y[i], want[i], (1e-5f + 4e-7f * float(k * k)) * std::max(1.0f, std::fabs(want[i])))
        << isa << " " << kt.select(g).name << " " << describe(c) << " x+" << xoff << " y+" << yoff << " range oc ["
        << r.oc_begin << "," << r.oc_end << ") oh [" << r.oh_begin << "," << r.oh_end << ") at " << i;
  for (float* p = ybuf.data(); p < y; ++p) ASSERT_EQ(*p, -7.0f) << isa << " before the output";
  for (float* p = y + out; p < ybuf.data() + ybuf.size(); ++p) ASSERT_EQ(*p, -7.0f) << isa << " after the output";
}

}  // namespace dsconv::test
