// Threads: how a call is split into independent tasks, and the OpenMP loop that runs them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "kernels/kernel_types.hpp"

namespace dsconv::detail {

bool openmp_enabled();

// A steady clock, for timing calls.
int64_t now_ns();

// A call's multiply-adds (batch x outputs x taps per output).
double call_macs(const ConvGeometry& g, int64_t batch);

// The smallest share of a call worth a thread of its own; settable for measuring it.
void set_min_macs_per_thread(int64_t macs);
int64_t min_macs_per_thread();

// A call's split into tasks, each a whole reduction: images x output-channel blocks x row
// bands; or, with `slices`, each image cut into `parts` runs of (row, channel block) units in
// output memory order (NHWC), each run made of up to three tasks: the end of a row, whole rows,
// the start of a row. Slices balance the threads to a channel block while sharing at most one
// row between two of them: threads that write the same pixels' channels side by side slow each
// other down (measured: a 2-thread dw3x3 C576 14x14 s2 split into channel halves takes 3.9 us,
// the same halves written to separate arrays 3.2 us, slices 3.4 us).
struct WorkSplit {
  struct Task {
    int64_t image, oc_begin, oc_end, oh_begin, oh_end;
    bool empty() const { return oc_begin >= oc_end || oh_begin >= oh_end; }
  };
  int64_t batch = 1, channel_blocks = 1, row_bands = 1;
  int64_t channels = 0, channel_block = 0, rows = 0, row_band = 0;
  bool slices = false;
  int64_t parts = 1;  // slices per image
  int threads = 1;

  int64_t tasks() const { return shares() * tasks_per_share(); }
  Task task(int64_t i) const;
  // The tasks in shares, one thread's portion each: share i is tasks [i*t, (i+1)*t), t =
  // tasks_per_share() (a slice's three pieces stay with one thread).
  int64_t shares() const { return slices ? batch * parts : batch * channel_blocks * row_bands; }
  int64_t tasks_per_share() const { return slices ? 3 : 1; }

 private:
  Task slice_task(int64_t i) const;
};

// How an image may be cut between threads: channel blocks are multiples of `quantum`; for
// `slices`, see WorkSplit; otherwise row bands or channel blocks, whichever leaves the busiest
// thread the least, channel blocks on a tie when `channels_on_tie`.
struct SplitRule {
  int64_t quantum;
  bool channels_on_tie;
  bool slices;
};

// Splits a call over the threads this call may use: all of get_num_threads() when it runs
// alone, fewer when other calls run at the same time (the GIL is released, so Python threads
// can call concurrently), one when the layer is too small to pay for the fork/join; never more
// than max_threads.
WorkSplit plan_work(const ConvGeometry& g, int64_t batch, const SplitRule& rule, int max_threads = 1 << 20);

// Runs body(0..n-1) on up to `threads` threads: each takes the next index in turn, so a thread
// that starts late leaves its share to the caller. When the fork gate is closed, the caller runs
// them all.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& body);

// Whether forking threads pays right now. Forking pays only while the other threads get a core
// promptly: with the other cores busy (another process, a spinning pool of another library), a
// woken OpenMP worker can wait for a scheduler slice, 4-12 ms measured on this 2-core VM with
// one busy process, and the join holds the caller with it (a 10 us layer took 8 ms). A join
// that held the caller longer than its own work and longer than `kStallNs` (far above a worker's
// wake-up from sleep, 20-100 us) is a stall; `kStallsToClose` stalls in a row (one can be a
// worker's slow first wake-up) close the gate: calls run on the caller's thread for a back-off
// that doubles while the stalls persist (up to `kMaxBackoffNs`) and resets after a call without
// one. A process's first forks start the worker threads and stall too, 1-8 ms each on this VM
// (0-4 of them, at most 38 ms in all, over about 25 fresh processes measured); counted, they would run
// the first 50 ms of every program on one thread, so stalls within `kStartupNs` of the first
// forked call do not count.
class ForkGate {
 public:
  static constexpr int64_t kStallNs = 500'000;
  static constexpr int kStallsToClose = 2;
  static constexpr int64_t kMinBackoffNs = 50'000'000;
  static constexpr int64_t kMaxBackoffNs = 2'000'000'000;
  static constexpr int64_t kStartupNs = 100'000'000;

  bool open(int64_t now_ns) const {
    return !enabled_.load(std::memory_order_relaxed) || now_ns >= closed_until_ns_.load(std::memory_order_relaxed);
  }
  // Tests that must run threads whatever the machine's load turn the gate off.
  void set_enabled(bool enabled) { enabled_.store(enabled, std::memory_order_relaxed); }
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // A forked call: the caller worked `caller_busy_ns` and waited `join_wait_ns` for the others
  // (at the fork and at the join).
  void record(int64_t now_ns, int64_t caller_busy_ns, int64_t join_wait_ns);
  int64_t closed_until_ns() const { return closed_until_ns_.load(std::memory_order_relaxed); }
  int64_t backoff_ns() const { return backoff_ns_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> enabled_{true};
  std::atomic<int64_t> closed_until_ns_{0};
  std::atomic<int64_t> backoff_ns_{kMinBackoffNs};
  std::atomic<int> stalls_in_a_row_{0};
  std::atomic<int64_t> first_fork_ns_{-1};
};

ForkGate& fork_gate();

// Whether a split call of a given shape is faster run forked or on the caller alone, measured
// on the calls themselves. The MAC threshold above is right on an idle machine, but the same
// VM sometimes places its two vCPUs far apart (a cache line then takes 300-470 ns to cross,
// against 90-190), and then two threads lose to one on small layers (dw3x3 C384 14x14 NHWC:
// 11-16 us against 8 on one thread) while larger ones still gain; minutes later the same call
// is 1.4x faster on two threads again. Each shape (a hash of the op, geometry, batch and
// kernel) keeps its recent wall times either way:
//   - its first 2 * kWarmCalls calls alternate between the two (the first two not measured);
//   - then it runs the faster way, measuring one call in kMeasureEvery;
//   - after kExploreEvery calls it tries the other way for kExploreCalls calls, measuring all
//     but the first (which pays for a worker woken from sleep, milliseconds on this VM at
//     times, or for moving the data between the cores' caches); the other way's estimate is
//     then this try's alone. While the other way keeps losing, the gap to the next try
//     doubles, up to kMaxExploreEvery calls.
// Only calls of up to kMaxTasksPerThread times the per-thread threshold ask: larger layers
// gained from two threads in every mode measured (dw3x3 C32 112x112, 3.6M MACs: 31 us against
// 52 on one thread in the slow mode), and their first calls (page faults, cold caches: up to
// milliseconds) could mislead the warm-up. Any thread count gives the same bits, so the choice
// changes only the time. Turning the fork gate off (tests) makes every split call fork.
class SplitChoice {
 public:
  static constexpr int64_t kWarmCalls = 6;
  static constexpr int64_t kMeasureEvery = 8;
  static constexpr int64_t kExploreEvery = 256;
  static constexpr int64_t kMaxExploreEvery = 2048;
  static constexpr int64_t kExploreCalls = 4;
  static constexpr int64_t kMaxTasksPerThread = 16;
  // Two-way set-associative: shapes that share a set keep their estimates (a direct-mapped
  // table made two layers of one network evict each other on every inference, so both stayed
  // in the warm-up for good).
  static constexpr int kEntries = 4096, kWays = 2;

  // Whether a call of `macs` multiply-adds split over `threads` threads asks at all.
  static bool asks(double macs, int threads);

  struct Decision {
    bool fork;
    bool measure;
    bool restart;  // the first measured call of a try: the times so far of its way are dropped
    bool last;     // the last call of a try: the gap to the next one is set
  };
  // Whether forking is the faster way by these estimates (ns; 0 = none yet; [0] on the
  // caller, [1] forked): forking is the default, the caller alone must be 10% faster.
  static bool prefer_fork(const int64_t (&estimate_ns)[2]);
  // How to run call number `call` of a shape whose next try of the other way starts at call
  // `explore_at`.
  static Decision decide(int64_t call, int64_t explore_at, const int64_t (&estimate_ns)[2]);
  // The gap to the next try: reset when the try changed the choice, else doubled.
  static int64_t next_gap(int64_t gap, bool changed);
  // A way's estimate: the median of its last kWindow times (0 = no time): outliers (the first
  // calls of a shape pay for page faults and cold caches, a call can be preempted) do not move
  // it, a lasting change of the machine does within kWindow / 2 measurements of the way run.
  static constexpr int kWindow = 8;
  static int64_t median(const int64_t (&times_ns)[kWindow]);

  Decision decide(uint64_t key);
  void record(uint64_t key, const Decision& d, int64_t ns);

 private:
  struct Entry {
    std::atomic<uint64_t> key{0};
    std::atomic<int64_t> calls{0};
    std::atomic<int64_t> estimate_ns[2] = {0, 0};
    std::atomic<int64_t> times_ns[2][kWindow] = {};
    std::atomic<int64_t> measured[2] = {0, 0};
    std::atomic<int64_t> explore_at{2 * kWarmCalls + kExploreEvery};
    std::atomic<int64_t> explore_gap{kExploreEvery};
  };
  Entry& entry(uint64_t key);
  static void reset(Entry& e, uint64_t key);
  Entry entries_[kEntries];
};

SplitChoice& split_choice();

// Counts the calls in flight, so concurrent callers share the cores instead of each taking
// them all.
class ScopedCall {
 public:
  ScopedCall();
  ~ScopedCall();
  ScopedCall(const ScopedCall&) = delete;
  ScopedCall& operator=(const ScopedCall&) = delete;
};

}  // namespace dsconv::detail
