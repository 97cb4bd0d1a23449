// Threads: how a call is split into independent tasks, and the OpenMP loop that runs them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "kernels/kernel_types.hpp"

namespace dsconv::detail {

bool openmp_enabled();

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
// can call concurrently), one when the layer is too small to pay for the fork/join.
WorkSplit plan_work(const ConvGeometry& g, int64_t batch, const SplitRule& rule);

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
// one.
class ForkGate {
 public:
  static constexpr int64_t kStallNs = 500'000;
  static constexpr int kStallsToClose = 2;
  static constexpr int64_t kMinBackoffNs = 50'000'000;
  static constexpr int64_t kMaxBackoffNs = 2'000'000'000;

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
};

ForkGate& fork_gate();

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
