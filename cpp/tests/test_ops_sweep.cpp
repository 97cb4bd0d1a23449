// Random geometries for every op, layout and activation, on every ISA against the reference;
// the C++ twin of the pytest sweep, so the cross builds (qemu) check every kernel too.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <random>

#include "core/geometry.hpp"
#include "core/threads.hpp"
#include "test_util.hpp"

using namespace dsconv;
using dsconv::test::Case;

namespace {

int64_t between(std::mt19937& rng, int64_t lo, int64_t hi) { return lo + int64_t(rng() % uint32_t(hi - lo + 1)); }

// A spatial geometry whose (dilated) kernel fits the padded input.
ConvParams random_params(std::mt19937& rng, int64_t h, int64_t w, int64_t kh, int64_t kw) {
  ConvParams p;
  p.stride_h = between(rng, 1, 3), p.stride_w = between(rng, 1, 3);
  p.dilation_h = between(rng, 1, 3), p.dilation_w = between(rng, 1, 3);
  if (rng() % 4 == 0) {
    p.same_padding = true;
  } else {
    p.padding = {between(rng, 0, kh), between(rng, 0, kh), between(rng, 0, kw), between(rng, 0, kw)};
    while ((kh - 1) * p.dilation_h + 1 > h + p.padding.top + p.padding.bottom) p.padding.bottom += 1;
    while ((kw - 1) * p.dilation_w + 1 > w + p.padding.left + p.padding.right) p.padding.right += 1;
  }
  p.activation = test::activation_of(int(rng() % 5));
  p.layout = rng() % 2 ? Layout::NHWC : Layout::NCHW;
  return p;
}

class OpsSweep : public ::testing::TestWithParam<int> {};

TEST_P(OpsSweep, Depthwise) {
  std::mt19937 rng(1000 + GetParam());
  const int64_t c = between(rng, 1, 50), m = between(rng, 1, 3), h = between(rng, 1, 20), w = between(rng, 1, 20);
  const int64_t kh = between(rng, 1, 7), kw = between(rng, 1, 7);
  Case cs{Op::Depthwise, {between(rng, 1, 2), c, h, w}, {c * m, 1, kh, kw}, random_params(rng, h, w, kh, kw),
          rng() % 2 == 0};
  test::expect_all_isas_match_reference(cs, GetParam());
}

TEST_P(OpsSweep, Pointwise) {
  std::mt19937 rng(2000 + GetParam());
  const int64_t cin = between(rng, 1, 80), cout = between(rng, 1, 80);
  Case cs{Op::Pointwise, {between(rng, 1, 2), cin, between(rng, 1, 17), between(rng, 1, 17)}, {cout, cin}, {},
          rng() % 2 == 0};
  cs.p.activation = test::activation_of(int(rng() % 5));
  cs.p.layout = rng() % 2 ? Layout::NHWC : Layout::NCHW;
  test::expect_all_isas_match_reference(cs, GetParam());
}

TEST_P(OpsSweep, Conv2d) {
  std::mt19937 rng(3000 + GetParam());
  const int64_t groups = between(rng, 1, 3), cin_g = between(rng, 1, 12), cout_g = between(rng, 1, 12);
  const int64_t h = between(rng, 1, 14), w = between(rng, 1, 14), kh = between(rng, 1, 5), kw = between(rng, 1, 5);
  Case cs{Op::Conv2d, {1, cin_g * groups, h, w}, {cout_g * groups, cin_g, kh, kw}, random_params(rng, h, w, kh, kw),
          rng() % 2 == 0};
  cs.p.groups = groups;
  test::expect_all_isas_match_reference(cs, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Random, OpsSweep, ::testing::Range(0, 60));

// Keeps the fork gate open, so calls meant to split do split on a loaded test machine.
class ForkAlways {
 public:
  ForkAlways() : was_enabled_(detail::fork_gate().enabled()) { detail::fork_gate().set_enabled(false); }
  ~ForkAlways() { detail::fork_gate().set_enabled(was_enabled_); }
  ForkAlways(const ForkAlways&) = delete;
  ForkAlways& operator=(const ForkAlways&) = delete;

 private:
  bool was_enabled_;
};

TEST(OpsSweep, ThreadCountNeverChangesTheBits) {
  ForkAlways fork;
  const TensorShape in{1, 40, 64, 64};  // large enough to be split (threads.cpp: 110k MACs per thread)
  const auto x = test::random_floats(test::count(in), 7);
  const auto dw = test::random_floats(40 * 9, 8), pw = test::random_floats(40 * 24, 9);
  const int threads = get_num_threads();
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
    ConvParams p;
    p.padding = Padding::symmetric(1, 1);
    p.layout = layout;
    std::vector<float> a(40 * 64 * 64), b(a.size()), c(24 * 64 * 64), d(c.size());
    set_num_threads(1);
    depthwise_conv2d(x.data(), in, dw.data(), {40, 1, 3, 3}, nullptr, a.data(), p);
    pointwise_conv2d(x.data(), in, pw.data(), {24, 40}, nullptr, c.data(), Activation::none(), layout);
    set_num_threads(3);
    depthwise_conv2d(x.data(), in, dw.data(), {40, 1, 3, 3}, nullptr, b.data(), p);
    pointwise_conv2d(x.data(), in, pw.data(), {24, 40}, nullptr, d.data(), Activation::none(), layout);
    EXPECT_EQ(a, b);
    EXPECT_EQ(c, d);
  }
  set_num_threads(threads);
}

// SplitChoice: the warm-up alternates (its first two calls unmeasured), then the faster way by
// a 10% margin in favour of forking, one call in kMeasureEvery measured, and from explore_at
// kExploreCalls calls the other way (all but the first measured; the first measured one drops
// the way's earlier times), with the gap doubling while the other way loses.
TEST(SplitChoice, Decisions) {
  using SC = detail::SplitChoice;
  const int64_t none[2] = {0, 0};
  const int64_t at = 1000;
  for (int64_t call = 0; call < 2 * SC::kWarmCalls; ++call) {
    const SC::Decision d = SC::decide(call, at, none);
    EXPECT_EQ(d.fork, call % 2 == 0) << call;
    EXPECT_EQ(d.measure, call >= 2) << call;
  }
  const int64_t caller_faster[2] = {80, 100}, close[2] = {91, 100}, fork_faster[2] = {100, 60};
  EXPECT_FALSE(SC::prefer_fork(caller_faster));
  EXPECT_TRUE(SC::prefer_fork(close));
  EXPECT_TRUE(SC::prefer_fork(fork_faster));
  EXPECT_TRUE(SC::prefer_fork(none));
  const int64_t steady = 2 * SC::kWarmCalls * SC::kMeasureEvery;  // a measured call
  EXPECT_FALSE(SC::decide(steady, at, caller_faster).fork);
  EXPECT_TRUE(SC::decide(steady, at, fork_faster).fork);
  EXPECT_TRUE(SC::decide(steady, at, caller_faster).measure);
  EXPECT_FALSE(SC::decide(steady + 1, at, caller_faster).measure);
  for (const int64_t(*estimates)[2] : {&caller_faster, &fork_faster}) {
    const int64_t(&est)[2] = *estimates;
    const bool chosen = SC::prefer_fork(est);
    for (int64_t k = 0; k < SC::kExploreCalls; ++k) {
      const SC::Decision d = SC::decide(at + k, at, est);
      EXPECT_NE(d.fork, chosen) << k;
      EXPECT_EQ(d.measure, k > 0) << k;
      EXPECT_EQ(d.restart, k == 1) << k;
      EXPECT_EQ(d.last, k == SC::kExploreCalls - 1) << k;
    }
    EXPECT_EQ(SC::decide(at + SC::kExploreCalls, at, est).fork, chosen);
    EXPECT_FALSE(SC::decide(at - 1, at, est).restart || SC::decide(at - 1, at, est).last);
  }
  EXPECT_EQ(SC::next_gap(SC::kExploreEvery, false), 2 * SC::kExploreEvery);
  EXPECT_EQ(SC::next_gap(SC::kMaxExploreEvery, false), SC::kMaxExploreEvery);
  EXPECT_EQ(SC::next_gap(8 * SC::kExploreEvery, true), SC::kExploreEvery);
}

// The estimate is the median of the times measured (zeros: none yet), so outliers do not move it.
TEST(SplitChoice, Estimates) {
  using SC = detail::SplitChoice;
  static_assert(SC::kWindow == 8, "the windows below have 8 times");
  EXPECT_EQ(SC::median({0, 0, 0, 0, 0, 0, 0, 0}), 0);
  EXPECT_EQ(SC::median({500, 0, 0, 0, 0, 0, 0, 0}), 500);
  EXPECT_EQ(SC::median({8'000'000, 120, 100, 110, 0, 0, 0, 0}), 120);
  EXPECT_EQ(SC::median({100, 101, 8'000'000, 99, 102, 7'000'000, 98, 100}), 101);
  EXPECT_EQ(SC::median({50, 50, 50, 50, 50, 100, 100, 100}), 50);
  EXPECT_EQ(SC::median({50, 50, 50, 100, 100, 100, 100, 100}), 100);
}

// Two shapes in one set, called in turn (two layers of a network, once per inference), keep
// their own choices; a third shape in the set takes the way of the one called least.
TEST(SplitChoice, ShapesSharingASetKeepTheirChoices) {
  using SC = detail::SplitChoice;
  const auto choice = std::make_unique<SC>();
  const uint64_t sets = SC::kEntries / SC::kWays;
  const uint64_t serial_faster = 5, fork_faster = 5 + sets, third = 5 + 2 * sets;
  auto call = [&](uint64_t key, int64_t caller_ns, int64_t forked_ns) {
    const SC::Decision d = choice->decide(key);
    if (d.measure) choice->record(key, d, d.fork ? forked_ns : caller_ns);
    return d.fork;
  };
  int serial_calls = 0, forked_calls = 0;
  for (int i = 0; i < 200; ++i) {
    const bool a = call(serial_faster, 1000, 2000), b = call(fork_faster, 2000, 1000);
    if (i >= 2 * SC::kWarmCalls) serial_calls += a ? 0 : 1, forked_calls += b ? 1 : 0;
  }
  const int steady = 200 - 2 * int(SC::kWarmCalls);
  EXPECT_GE(serial_calls, steady - int(SC::kExploreCalls));
  EXPECT_GE(forked_calls, steady - int(SC::kExploreCalls));
  for (int i = 0; i < 20; ++i) call(serial_faster, 1000, 2000);  // now called more than fork_faster
  for (int i = 0; i < 2 * SC::kWarmCalls; ++i) call(third, 1000, 2000);
  int still = 0;
  for (int i = 0; i < 20; ++i) still += call(serial_faster, 1000, 2000) ? 0 : 1;
  EXPECT_EQ(still, 20);  // kept: the third shape took fork_faster's way
}

// Calls that let SplitChoice run them either way (warm-up, exploration) give the same bits.
TEST(SplitChoice, EitherWayGivesTheSameBits) {
  const int threads = get_num_threads();
  const TensorShape in{1, 384, 14, 14};
  const auto x = test::random_floats(test::count(in), 21), w = test::random_floats(384 * 9, 22);
  ConvParams p;
  p.padding = Padding::symmetric(1, 1);
  p.layout = Layout::NHWC;
  std::vector<float> one(x.size()), many(x.size());
  set_num_threads(1);
  depthwise_conv2d(x.data(), in, w.data(), {384, 1, 3, 3}, nullptr, one.data(), p);
  set_num_threads(2);
  for (int call = 0; call < 2 * int(detail::SplitChoice::kExploreEvery); ++call) {
    depthwise_conv2d(x.data(), in, w.data(), {384, 1, 3, 3}, nullptr, many.data(), p);
    ASSERT_EQ(one, many) << call;
  }
  set_num_threads(threads);
}

// Forces every call to split (the real threshold keeps these small shapes on one thread).
class SplitEverything {
  ForkAlways fork_;

 public:
  SplitEverything() : macs_(detail::min_macs_per_thread()), threads_(get_num_threads()) {
    detail::set_min_macs_per_thread(1);
  }
  ~SplitEverything() {
    detail::set_min_macs_per_thread(macs_);
    set_num_threads(threads_);
  }

 private:
  int64_t macs_;
  int threads_;
};

// NHWC depthwise slices: every output (image, row, channel) in exactly one task, channel cuts
// on the quantum, and each part within one channel block of an equal share.
TEST(OpsSweep, NhwcDepthwiseSlicesCoverEachOutputOnce) {
  SplitEverything split;
  for (int64_t cout : {1, 16, 40, 576})
    for (int64_t h : {1, 2, 7, 14})
      for (int64_t batch : {1, 2, 3})
        for (int threads : {2, 3, 4, 7}) {
          set_num_threads(threads);
          ConvParams p;
          p.layout = Layout::NHWC;
          const detail::ConvGeometry g = detail::depthwise_geometry({batch, cout, h, 5}, {cout, 1, 1, 1}, p);
          const int64_t quantum = 16;
          const detail::WorkSplit s = detail::plan_work(g, batch, {quantum, false, true});
          std::vector<int> seen(size_t(batch * h * cout), 0);
          std::vector<int64_t> part_units;
          for (int64_t i = 0; i < s.tasks(); ++i) {
            const detail::WorkSplit::Task t = s.task(i);
            if (s.slices && i % 3 == 0) part_units.push_back(0);
            if (t.empty()) continue;
            ASSERT_TRUE(t.oc_begin % quantum == 0 && (t.oc_end % quantum == 0 || t.oc_end == cout));
            ASSERT_TRUE(t.oh_begin >= 0 && t.oh_end <= h && t.oc_begin >= 0 && t.oc_end <= cout);
            for (int64_t r = t.oh_begin; r < t.oh_end; ++r)
              for (int64_t c = t.oc_begin; c < t.oc_end; ++c) ++seen[size_t((t.image * h + r) * cout + c)];
            if (s.slices) part_units.back() += (t.oh_end - t.oh_begin) * ((t.oc_end - t.oc_begin + quantum - 1) / quantum);
          }
          EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), int64_t(seen.size()))
              << "cout " << cout << " h " << h << " batch " << batch << " threads " << threads;
          EXPECT_EQ(s.slices, batch < threads);
          if (!part_units.empty()) {
            const auto [lo, hi] = std::minmax_element(part_units.begin(), part_units.end());
            EXPECT_LE(*hi - *lo, 1) << "cout " << cout << " h " << h << " threads " << threads;
          }
        }
}

// The same calls split into slices match the reference on every ISA (odd rows, channel tails,
// a depth multiplier, stride 2).
TEST(OpsSweep, NhwcDepthwiseSlicesMatchReference) {
  SplitEverything split;
  for (int threads : {2, 3}) {
    set_num_threads(threads);
    for (auto [c, m, h, w, k, stride] : std::vector<std::array<int64_t, 6>>{
             {576, 1, 14, 14, 3, 2}, {40, 2, 7, 9, 3, 1}, {33, 1, 5, 5, 5, 1}, {16, 1, 1, 1, 3, 1}, {70, 1, 3, 8, 3, 1}}) {
      ConvParams p;
      p.stride_h = p.stride_w = stride;
      p.padding = Padding::symmetric(k / 2, k / 2);
      p.layout = Layout::NHWC;
      p.activation = Activation::relu6();
      test::expect_all_isas_match_reference(Case{Op::Depthwise, {1, c, h, w}, {c * m, 1, k, k}, p, true});
    }
  }
}

// Every index runs exactly once, whatever the thread count, and a task's exception reaches the
// caller.
TEST(Threads, ParallelForRunsEachIndexOnce) {
  ForkAlways fork;
  for (int threads : {1, 2, 3, 5})
    for (int64_t n : {0, 1, 2, 3, 7, 64}) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(n));
      detail::parallel_for(n, threads, [&](int64_t i) { runs[size_t(i)].fetch_add(1); });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(runs[size_t(i)].load(), 1) << "n " << n << " threads " << threads;
    }
  for (int threads : {1, 2})
    EXPECT_THROW(detail::parallel_for(8, threads,
                                      [](int64_t i) {
                                        if (i == 3) throw Error("task 3");
                                      }),
                 Error);
}

// The gate closes after kStallsToClose joins in a row that held the caller longer than both the
// stall bound and its own work, for a back-off that doubles while stalls repeat (up to the cap),
// and resets after a call without one. Waits shorter than the caller's own work (two threads
// still beat one) and short waits (a worker waking from sleep) are no stalls.
TEST(Threads, ForkGateBacksOffAfterStalls) {
  using G = detail::ForkGate;
  G gate;
  const int64_t ms = 1'000'000;
  auto stalls = [&](int64_t now) {
    for (int i = 0; i < G::kStallsToClose; ++i) gate.record(now, 10'000, G::kStallNs + 1);
  };
  // Past the start-up window (ForkGateIgnoresStartupStalls): times from kStartupNs on.
  gate.record(0, 10'000, 20'000);
  const int64_t ms0 = G::kStartupNs;
  EXPECT_TRUE(gate.open(ms0));
  gate.record(ms0 + 1 * ms, 10'000, G::kStallNs - 1);
  gate.record(ms0 + 2 * ms, 5 * G::kStallNs, 2 * G::kStallNs);
  EXPECT_TRUE(gate.open(ms0 + 2 * ms));
  EXPECT_EQ(gate.backoff_ns(), G::kMinBackoffNs);

  for (int i = 0; i + 1 < G::kStallsToClose; ++i) gate.record(ms0 + 3 * ms, 10'000, 8 * ms);
  gate.record(ms0 + 4 * ms, 10'000, 20'000);
  gate.record(ms0 + 5 * ms, 10'000, 8 * ms);
  EXPECT_TRUE(gate.open(ms0 + 5 * ms)) << "stalls that are not in a row";

  stalls(ms0 + 10 * ms);
  EXPECT_FALSE(gate.open(ms0 + 10 * ms + G::kMinBackoffNs - 1));
  EXPECT_TRUE(gate.open(ms0 + 10 * ms + G::kMinBackoffNs));
  EXPECT_EQ(gate.backoff_ns(), 2 * G::kMinBackoffNs);

  int64_t now = ms0 + 10 * ms + G::kMinBackoffNs;
  for (int round = 0; round < 12; ++round) {
    const int64_t backoff = gate.backoff_ns();
    stalls(now);
    EXPECT_EQ(gate.closed_until_ns(), now + backoff);
    EXPECT_LE(gate.backoff_ns(), G::kMaxBackoffNs);
    now += backoff;
  }
  EXPECT_EQ(gate.backoff_ns(), G::kMaxBackoffNs);
  gate.record(now, 10'000, 20'000);
  EXPECT_TRUE(gate.open(now));
  EXPECT_EQ(gate.backoff_ns(), G::kMinBackoffNs);
}

// A process's first forks start the worker threads and may stall for milliseconds: stalls within
// kStartupNs of the first forked call leave the gate open; the same stalls later close it.
TEST(Threads, ForkGateIgnoresStartupStalls) {
  using G = detail::ForkGate;
  G gate;
  const int64_t t0 = 5'000'000'000;
  for (int i = 0; i < 4; ++i) gate.record(t0 + i * 8'000'000, 10'000, 8'000'000);
  EXPECT_TRUE(gate.open(t0 + 32'000'000));
  for (int i = 0; i < G::kStallsToClose; ++i) gate.record(t0 + G::kStartupNs - 1, 10'000, 8'000'000);
  EXPECT_TRUE(gate.open(t0 + G::kStartupNs));
  for (int i = 0; i < G::kStallsToClose; ++i) gate.record(t0 + G::kStartupNs, 10'000, 8'000'000);
  EXPECT_FALSE(gate.open(t0 + G::kStartupNs));
  EXPECT_TRUE(gate.open(t0 + G::kStartupNs + G::kMinBackoffNs));
}

}  // namespace
