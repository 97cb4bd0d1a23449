#include "roofline.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DSCONV_BENCH_X86 1
#elif defined(__aarch64__)
#include <arm_neon.h>
#endif

namespace dsconv_bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Each probe runs `iters` rounds over independent accumulators (more than FMA latency x FMA
// ports, so the units never wait) and returns a value that depends on every chain, so the
// compiler keeps them all. Returns FLOPs done.
#if DSCONV_BENCH_X86
__attribute__((target("avx2,fma"), noinline)) double fma_avx2(long iters, float* sink) {
  constexpr int kAcc = 12;
  __m256 acc[kAcc];
  const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-6f);
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm256_set1_ps(float(j));
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  }
  for (int j = 1; j < kAcc; ++j) acc[0] = _mm256_add_ps(acc[0], acc[j]);
  *sink += _mm256_cvtss_f32(acc[0]);
  return double(iters) * kAcc * 8 * 2;
}

__attribute__((target("avx512f"), noinline)) double fma_avx512(long iters, float* sink) {
  constexpr int kAcc = 20;
  __m512 acc[kAcc];
  const __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(1e-6f);
  for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_set1_ps(float(j));
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 20
    for (int j = 0; j < kAcc; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
  for (int j = 1; j < kAcc; ++j) acc[0] = _mm512_add_ps(acc[0], acc[j]);
  *sink += _mm512_reduce_add_ps(acc[0]);
  return double(iters) * kAcc * 16 * 2;
}
#endif

#if defined(__aarch64__)
__attribute__((noinline)) double fma_neon(long iters, float* sink) {
  constexpr int kAcc = 16;
  float32x4_t acc[kAcc];
  const float32x4_t a = vdupq_n_f32(0.9999f), b = vdupq_n_f32(1e-6f);
  for (int j = 0; j < kAcc; ++j) acc[j] = vdupq_n_f32(float(j));
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < kAcc; ++j) acc[j] = vfmaq_f32(b, acc[j], a);
  }
  for (int j = 1; j < kAcc; ++j) acc[0] = vaddq_f32(acc[0], acc[j]);
  *sink += vgetq_lane_f32(acc[0], 0);
  return double(iters) * kAcc * 4 * 2;
}
#endif

__attribute__((noinline)) double madd_baseline(long iters, float* sink) {
  constexpr int kAcc = 16;
  float acc[kAcc];
  for (int j = 0; j < kAcc; ++j) acc[j] = float(j);
  const float a = 0.9999f, b = 1e-6f;
  for (long i = 0; i < iters; ++i) {
    for (int j = 0; j < kAcc; ++j) acc[j] = acc[j] * a + b;
  }
  float s = 0;
  for (int j = 0; j < kAcc; ++j) s += acc[j];
  *sink += s;
  return double(iters) * kAcc * 2;
}

using Probe = double (*)(long, float*);

Probe probe_for(const std::string& isa) {
#if DSCONV_BENCH_X86
  if (isa == "avx2") return fma_avx2;
  if (isa == "avx512") return fma_avx512;
#endif
#if defined(__aarch64__)
  if (isa == "neon") return fma_neon;
#endif
  return madd_baseline;
}

std::size_t cache_size(int level) {
  // sysfs: per-core data/unified caches; the defaults are typical when it cannot be read.
  for (int index = 0; index < 8; ++index) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
    std::ifstream lv(dir + "level"), type(dir + "type"), size(dir + "size");
    int l = 0;
    std::string t, s;
    if (!(lv >> l) || !(type >> t) || !(size >> s)) break;
    if (l != level || t == "Instruction" || s.empty()) continue;
    std::size_t v = std::stoul(s);
    const char unit = s.back();
    return unit == 'K' ? v << 10 : unit == 'M' ? v << 20 : unit == 'G' ? v << 30 : v;
  }
  return level == 1 ? 32u << 10 : level == 2 ? 1u << 20 : 8u << 20;
}

double copy_bandwidth(std::size_t working_set, double seconds) {
  const std::size_t n = std::max<std::size_t>(1024, working_set / 8);
  std::unique_ptr<float[]> src(new float[n]), dst(new float[n]);
  std::fill_n(src.get(), n, 1.0f);
  std::fill_n(dst.get(), n, 0.0f);
  const long reps = std::max<long>(1, long(64e6 / (8.0 * double(n))));  // ~64 MB per sample
  double best = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  do {
    const auto t0 = Clock::now();
    for (long r = 0; r < reps; ++r) {
      std::memcpy(dst.get(), src.get(), n * sizeof(float));
      asm volatile("" : : "r"(dst.get()) : "memory");  // every copy happens
    }
    best = std::max(best, 8.0 * double(n) * double(reps) / seconds_since(t0));
  } while (Clock::now() < end);
  return best;
}

}  // namespace

double peak_flops(const std::string& isa, double seconds) {
  const Probe probe = probe_for(isa);
  float sink = 0;
  long iters = 1 << 16;
  double best = 0;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  do {
    const auto t0 = Clock::now();
    const double flops = probe(iters, &sink);
    const double t = seconds_since(t0);
    best = std::max(best, flops / t);
    if (t < 2e-3) iters *= 2;  // samples long enough for the clock, short enough for many
  } while (Clock::now() < end);
  volatile float keep = sink;
  (void)keep;
  return best;
}

std::vector<BandwidthLevel> measure_bandwidth(double seconds) {
  std::vector<BandwidthLevel> levels;
  for (int level = 1; level <= 3; ++level) {
    const std::size_t cap = cache_size(level);
    levels.push_back({"L" + std::to_string(level), cap, cap / 2, 0.0});
  }
  const std::size_t dram = std::clamp<std::size_t>(4 * levels.back().capacity, 64u << 20, 512u << 20);
  levels.push_back({"DRAM", 0, dram, 0.0});
  for (auto& lv : levels) lv.bytes_per_s = copy_bandwidth(lv.working_set, seconds);
  return levels;
}

const BandwidthLevel& level_for(const std::vector<BandwidthLevel>& levels, double bytes) {
  for (const auto& lv : levels)
    if (lv.capacity == 0 || bytes <= double(lv.capacity)) return lv;
  return levels.back();
}

}  // namespace dsconv_bench
