// Threads: how a call is split into independent tasks, and the OpenMP loop that runs them.
#pragma once

#include <cstdint>
#include <functional>

#include "kernels/kernel_types.hpp"

namespace dsconv::detail {

bool openmp_enabled();

// The smallest share of a call worth a thread of its own; settable for measuring it.
void set_min_macs_per_thread(int64_t macs);
int64_t min_macs_per_thread();

// A call's split: images x output-channel blocks x row bands, each task a whole reduction.
struct WorkSplit {
  struct Task {
    int64_t image, oc_begin, oc_end, oh_begin, oh_end;
  };
  int64_t batch = 1, channel_blocks = 1, row_bands = 1;
  int64_t channels = 0, channel_block = 0, rows = 0, row_band = 0;
  int threads = 1;

  int64_t tasks() const { return batch * channel_blocks * row_bands; }
  Task task(int64_t i) const;
};

// Splits a call over the threads this call may use: all of get_num_threads() when it runs
// alone, fewer when other calls run at the same time (the GIL is released, so Python threads
// can call concurrently), one when the layer is too small to pay for the fork/join. Channel
// blocks are multiples of `channel_quantum`; an image goes to whichever of row bands and
// channel blocks leaves the busiest thread the least, channel blocks on a tie when
// `channels_on_tie`.
WorkSplit plan_work(const ConvGeometry& g, int64_t batch, int64_t channel_quantum, bool channels_on_tie);

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& body);

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
