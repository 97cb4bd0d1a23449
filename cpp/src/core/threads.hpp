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

  int64_t tasks() const { return slices ? batch * parts * 3 : batch * channel_blocks * row_bands; }
  Task task(int64_t i) const;

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
