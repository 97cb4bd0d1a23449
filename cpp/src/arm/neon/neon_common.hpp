// Helpers shared by the NEON kernels: fused multiply-add in both ISAs, channel/pixel tails
// without over-reads (NEON has no masked loads: a tail of n < 4 floats is read with lane and
// half-vector loads), the activation epilogue, and compile-time loops so that the register
// arrays of the kernels are indexed by constants (and stay in registers).
//
// aarch64 has 32 q registers and fmla by element (vfmaq_laneq_f32); armv7 (built with
// -mfpu=neon-vfpv4) has 16 and vfmaq_f32 without a by-element form (see fma_lane).
#pragma once

#include <arm_neon.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/kernel_types.hpp"

#if !defined(__ARM_NEON) || !defined(__ARM_FEATURE_FMA)
#error "NEON kernels need NEON with FMA (armv7: -mfpu=neon-vfpv4 -mfloat-abi=hard)"
#endif

namespace dsconv::detail::neon {

#if defined(__aarch64__)
constexpr int kVectorRegisters = 32;
#else
constexpr int kVectorRegisters = 16;
#endif

// acc + a * b
inline float32x4_t fma(float32x4_t acc, float32x4_t a, float32x4_t b) { return vfmaq_f32(acc, a, b); }
// acc + a * s
inline float32x4_t fma_n(float32x4_t acc, float32x4_t a, float s) {
#if defined(__aarch64__)
  return vfmaq_n_f32(acc, a, s);
#else
  return vfmaq_f32(acc, a, vdupq_n_f32(s));
#endif
}
// acc + a * b[L]. armv7 has no fused multiply-add by element; a vdup + vfma per use would
// need every broadcast weight in its own register (spills with 16 q registers), so it uses
// the by-element multiply-accumulate vmla (two roundings instead of one).
template <int L>
inline float32x4_t fma_lane(float32x4_t acc, float32x4_t a, float32x4_t b) {
#if defined(__aarch64__)
  return vfmaq_laneq_f32(acc, a, b, L);
#else
  if constexpr (L < 2) return vmlaq_lane_f32(acc, a, vget_low_f32(b), L);
  else return vmlaq_lane_f32(acc, a, vget_high_f32(b), L - 2);
#endif
}

// The first n (1..4) floats at p, zeros above; reads nothing past p[n-1].
inline float32x4_t load_partial(const float* p, int n) {
  const float32x2_t z = vdup_n_f32(0.0f);
  switch (n) {
    case 1: return vcombine_f32(vld1_lane_f32(p, z, 0), z);
    case 2: return vcombine_f32(vld1_f32(p), z);
    case 3: return vcombine_f32(vld1_f32(p), vld1_lane_f32(p + 2, z, 0));
    default: return vld1q_f32(p);
  }
}
// Writes the first n (1..4) lanes of v to p.
inline void store_partial(float* p, float32x4_t v, int n) {
  switch (n) {
    case 1: vst1q_lane_f32(p, v, 0); break;
    case 2: vst1_f32(p, vget_low_f32(v)); break;
    case 3:
      vst1_f32(p, vget_low_f32(v));
      vst1q_lane_f32(p + 2, v, 2);
      break;
    default: vst1q_f32(p, v);
  }
}
// Lanes [lo, hi) of v to p[lo..hi) (a column range cut by a work range or a group boundary).
inline void store_range(float* p, float32x4_t v, int lo, int hi) {
  if (lo == 0 && hi >= 4) {
    vst1q_f32(p, v);
    return;
  }
  float t[4];
  vst1q_f32(t, v);
  for (int i = lo; i < hi && i < 4; ++i) p[i] = t[i];
}
// Lane i of v to p[i * stride] (outputs of one depth-multiplier slice, NHWC).
inline void store_strided(float* p, float32x4_t v, int n, int64_t stride) {
  p[0] = vgetq_lane_f32(v, 0);
  if (n > 1) p[stride] = vgetq_lane_f32(v, 1);
  if (n > 2) p[2 * stride] = vgetq_lane_f32(v, 2);
  if (n > 3) p[3 * stride] = vgetq_lane_f32(v, 3);
}

// Full vectors (Partial = false) or the first n lanes (channel/pixel tails).
template <bool Partial>
struct Lanes {
  int n = 4;
  float32x4_t load(const float* p) const {
    if constexpr (Partial) return load_partial(p, n);
    else return vld1q_f32(p);
  }
  void store(float* p, float32x4_t v) const {
    if constexpr (Partial) store_partial(p, v, n);
    else vst1q_f32(p, v);
  }
};

// The fused epilogue: apply_activation of kernel_types.hpp on four lanes, NaN included
// (vmaxq/vminq propagate NaN; Clamp uses compares, which are false for NaN, exactly like
// the scalar definition, also when lo > hi).
class Epilogue {
 public:
  explicit Epilogue(const Activation& a)
      : kind_(a.kind), lo_(vdupq_n_f32(a.kind == ActivationKind::Clamp ? a.lo : 0.0f)),
        hi_(vdupq_n_f32(a.kind == ActivationKind::Clamp ? a.hi : 6.0f)) {}
  float32x4_t operator()(float32x4_t v) const {
    switch (kind_) {
      case ActivationKind::None: return v;
      case ActivationKind::ReLU: return vmaxq_f32(v, vdupq_n_f32(0.0f));
      case ActivationKind::ReLU6: return vminq_f32(vmaxq_f32(v, lo_), hi_);
      case ActivationKind::HardSwish: {
        const float32x4_t t = vminq_f32(vmaxq_f32(vaddq_f32(v, vdupq_n_f32(3.0f)), vdupq_n_f32(0.0f)), vdupq_n_f32(6.0f));
        return vmulq_f32(vmulq_f32(v, t), vdupq_n_f32(1.0f / 6.0f));
      }
      case ActivationKind::Clamp: {
        const float32x4_t r = vbslq_f32(vcgtq_f32(v, hi_), hi_, v);
        return vbslq_f32(vcltq_f32(v, lo_), lo_, r);
      }
    }
    return v;
  }

 private:
  ActivationKind kind_;
  float32x4_t lo_, hi_;
};

// for_each_index<N>(f) calls f(std::integral_constant<int, i>{}) for i = 0..N-1. Forced
// inline, and so must the lambdas be (DSCONV_UNROLL after their parameter list): a call
// left out of line would put the accumulators in memory.
#define DSCONV_UNROLL __attribute__((always_inline))
template <class F, int... I>
DSCONV_UNROLL inline void for_each_index_impl(F&& f, std::integer_sequence<int, I...>) {
  (f(std::integral_constant<int, I>{}), ...);
}
template <int N, class F>
DSCONV_UNROLL inline void for_each_index(F&& f) {
  for_each_index_impl(f, std::make_integer_sequence<int, N>{});
}

// Per-thread scratch (padded planes, packed tiles); grows, never shrinks.
inline float* scratch(std::vector<float>& buf, size_t n) {
  if (buf.size() < n + 16) buf.resize(n + 16);
  return buf.data();
}

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace dsconv::detail::neon
