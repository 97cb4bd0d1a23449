#include "core/threads.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif
#if defined(DSCONV_HAVE_OPENMP)
#include <omp.h>
#endif

namespace dsconv::detail {
namespace {

// Below this many multiply-adds per thread a second thread costs more (fork/join, cache
// traffic) than it saves. scripts/measure_thread_threshold.py measures it: on an idle 2-core
// AVX-512 machine two threads break even near 200k MACs per call (a ~3 us call) and pay from
// 230k (1.25x), so a call needs 110k per thread. (On a loaded machine the measured break-even
// moves up 4x: a thread waiting for a busy core costs more than the split saves.)
std::atomic<int64_t> g_min_macs_per_thread{110000};

std::atomic<int> g_calls_in_flight{0};

int usable_cores() {
#if defined(__linux__)
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
#endif
#if defined(DSCONV_HAVE_OPENMP)
  return std::max(1, omp_get_num_procs());
#else
  return 1;
#endif
}

int default_threads() {
  if (const char* env = std::getenv("DSCONV_NUM_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1) return int(std::min<long>(n, 1024));
    throw Error(std::string("DSCONV_NUM_THREADS must be a positive integer, got '") + env + "'");
  }
  return usable_cores();
}

std::atomic<int>& thread_setting() {
  static std::atomic<int> n{default_threads()};
  return n;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double call_macs(const ConvGeometry& g, int64_t batch) {
  return double(batch) * double(g.cout) * double(g.ho * g.wo) * double(g.cin_per_group() * g.kh * g.kw);
}

void set_min_macs_per_thread(int64_t macs) { g_min_macs_per_thread.store(macs); }
int64_t min_macs_per_thread() { return g_min_macs_per_thread.load(); }

bool openmp_enabled() {
#if defined(DSCONV_HAVE_OPENMP)
  return true;
#else
  return false;
#endif
}

WorkSplit::Task WorkSplit::task(int64_t i) const {
  if (slices) return slice_task(i);
  const int64_t band = i % row_bands;
  const int64_t block = (i / row_bands) % channel_blocks;
  const int64_t image = i / (row_bands * channel_blocks);
  Task t;
  t.image = image;
  t.oc_begin = block * channel_block;
  t.oc_end = std::min(channels, t.oc_begin + channel_block);
  t.oh_begin = band * row_band;
  t.oh_end = std::min(rows, t.oh_begin + row_band);
  return t;
}

// Part p of an image covers units [p*U/parts, (p+1)*U/parts) of the U = rows x blocks units in
// row-major order; piece 0 is its first row's tail, piece 1 its whole rows, piece 2 its last
// row's head (any of them may be empty).
WorkSplit::Task WorkSplit::slice_task(int64_t i) const {
  const int64_t piece = i % 3, part = (i / 3) % parts;
  const int64_t units = rows * channel_blocks;
  const int64_t u0 = part * units / parts, u1 = (part + 1) * units / parts;
  const int64_t r0 = u0 / channel_blocks, b0 = u0 % channel_blocks;
  const int64_t r1 = u1 / channel_blocks, b1 = u1 % channel_blocks;
  auto channel = [&](int64_t block) { return std::min(channels, block * channel_block); };
  Task t{i / (3 * parts), 0, 0, 0, 0};
  if (r0 == r1) {
    if (piece == 0) t = {t.image, channel(b0), channel(b1), r0, r0 + 1};
  } else if (piece == 0) {
    if (b0 > 0) t = {t.image, channel(b0), channels, r0, r0 + 1};
  } else if (piece == 1) {
    t = {t.image, 0, channels, b0 > 0 ? r0 + 1 : r0, r1};
  } else if (b1 > 0) {
    t = {t.image, 0, channel(b1), r1, r1 + 1};
  }
  return t;
}

WorkSplit plan_work(const ConvGeometry& g, int64_t batch, const SplitRule& rule, int max_threads) {
  WorkSplit s;
  s.batch = batch;
  s.channels = g.cout, s.channel_block = g.cout;
  s.rows = g.ho, s.row_band = g.ho;
  const double macs = call_macs(g, batch);
  const int in_flight = std::max(1, g_calls_in_flight.load(std::memory_order_relaxed));
  int64_t threads = std::max(1, std::min(max_threads, get_num_threads() / in_flight));
  const double worth = macs / double(std::max<int64_t>(1, g_min_macs_per_thread.load()));
  threads = std::min<int64_t>(threads, int64_t(std::max(1.0, std::min(1024.0, worth))));
  s.threads = int(threads);
  if (threads <= 1 || batch >= threads) return s;
  const int64_t parts = ceil_div(threads, batch);
  if (rule.slices) {
    s.slices = true;
    s.parts = parts;
    s.channel_block = rule.quantum;
    s.channel_blocks = ceil_div(g.cout, rule.quantum);
    return s;
  }
  // Fewer images than threads: cut each image into row bands (they share no output) or into
  // channel blocks, whichever gives the busiest thread the least work (7 rows in 2 bands
  // leave one thread 4/7 of the work; 320 channels split evenly).
  const int64_t row_band = ceil_div(g.ho, parts);
  const int64_t channel_block =
      std::max(rule.quantum, ceil_div(ceil_div(g.cout, parts), rule.quantum) * rule.quantum);
  const double row_share = double(row_band) / double(g.ho);
  const double channel_share = double(std::min(channel_block, g.cout)) / double(g.cout);
  if (rule.channels_on_tie ? row_share < channel_share : row_share <= channel_share) {
    s.row_band = row_band;
    s.row_bands = ceil_div(g.ho, row_band);
  } else {
    s.channel_block = channel_block;
    s.channel_blocks = ceil_div(g.cout, channel_block);
  }
  return s;
}

void ForkGate::record(int64_t now_ns, int64_t caller_busy_ns, int64_t join_wait_ns) {
  int64_t first = first_fork_ns_.load(std::memory_order_relaxed);
  if (first < 0 && first_fork_ns_.compare_exchange_strong(first, now_ns, std::memory_order_relaxed)) first = now_ns;
  if (join_wait_ns <= std::max(kStallNs, caller_busy_ns)) {
    stalls_in_a_row_.store(0, std::memory_order_relaxed);
    backoff_ns_.store(kMinBackoffNs, std::memory_order_relaxed);
    return;
  }
  if (now_ns - first < kStartupNs) return;
  if (stalls_in_a_row_.fetch_add(1, std::memory_order_relaxed) + 1 < kStallsToClose) return;
  stalls_in_a_row_.store(0, std::memory_order_relaxed);
  const int64_t backoff = backoff_ns_.load(std::memory_order_relaxed);
  closed_until_ns_.store(now_ns + backoff, std::memory_order_relaxed);
  backoff_ns_.store(std::min(kMaxBackoffNs, 2 * backoff), std::memory_order_relaxed);
}

ForkGate& fork_gate() {
  static ForkGate gate;
  return gate;
}

bool SplitChoice::asks(double macs, int threads) {
  return threads > 1 && openmp_enabled() &&
         macs <= double(kMaxTasksPerThread) * double(min_macs_per_thread()) * double(threads);
}

bool SplitChoice::prefer_fork(const int64_t (&estimate_ns)[2]) {
  return !(estimate_ns[0] > 0 && estimate_ns[1] > 0 && estimate_ns[0] * 10 < estimate_ns[1] * 9);
}

SplitChoice::Decision SplitChoice::decide(int64_t call, int64_t explore_at, const int64_t (&estimate_ns)[2]) {
  // Warm-up: the two ways alternate, so that both see the caches as warm as the other.
  if (call < 2 * kWarmCalls) return {call % 2 == 0, call >= 2, false, false};
  const bool fork = prefer_fork(estimate_ns);
  const int64_t k = call - explore_at;
  if (k >= 0 && k < kExploreCalls) return {!fork, k > 0, k == 1, k == kExploreCalls - 1};
  return {fork, call % kMeasureEvery == 0, false, false};
}

int64_t SplitChoice::next_gap(int64_t gap, bool changed) {
  return changed ? kExploreEvery : std::min(kMaxExploreEvery, 2 * gap);
}

int64_t SplitChoice::median(const int64_t (&times_ns)[kWindow]) {
  int64_t t[kWindow];
  int n = 0;
  for (int64_t v : times_ns)
    if (v > 0) t[n++] = v;
  if (n == 0) return 0;
  std::nth_element(t, t + n / 2, t + n);
  return t[n / 2];
}

SplitChoice::Entry& SplitChoice::entry(uint64_t key) {
  Entry* set = &entries_[key % (kEntries / kWays) * kWays];
  for (int w = 0; w < kWays; ++w)
    if (set[w].key.load(std::memory_order_relaxed) == key) return set[w];
  // A new shape takes the way of the shape called least, and restarts its estimates. Racing
  // callers can mix one call's time into another shape's estimate, which only costs time,
  // never a result.
  Entry* e = set;
  for (int w = 1; w < kWays; ++w)
    if (set[w].calls.load(std::memory_order_relaxed) < e->calls.load(std::memory_order_relaxed)) e = set + w;
  reset(*e, key);
  return *e;
}

void SplitChoice::reset(Entry& e, uint64_t key) {
  e.key.store(key, std::memory_order_relaxed);
  e.calls.store(0, std::memory_order_relaxed);
  for (int i = 0; i < 2; ++i) {
    e.estimate_ns[i].store(0, std::memory_order_relaxed);
    e.measured[i].store(0, std::memory_order_relaxed);
    for (auto& t : e.times_ns[i]) t.store(0, std::memory_order_relaxed);
  }
  e.explore_at.store(2 * kWarmCalls + kExploreEvery, std::memory_order_relaxed);
  e.explore_gap.store(kExploreEvery, std::memory_order_relaxed);
}

SplitChoice::Decision SplitChoice::decide(uint64_t key) {
  if (!fork_gate().enabled()) return {true, false, false, false};
  Entry& e = entry(key);
  const int64_t est[2] = {e.estimate_ns[0].load(std::memory_order_relaxed),
                          e.estimate_ns[1].load(std::memory_order_relaxed)};
  return decide(e.calls.fetch_add(1, std::memory_order_relaxed), e.explore_at.load(std::memory_order_relaxed), est);
}

void SplitChoice::record(uint64_t key, const Decision& d, int64_t ns) {
  Entry& e = entry(key);
  const int i = d.fork ? 1 : 0;
  if (d.restart)
    for (auto& t : e.times_ns[i]) t.store(0, std::memory_order_relaxed);
  e.times_ns[i][e.measured[i].fetch_add(1, std::memory_order_relaxed) % kWindow].store(ns, std::memory_order_relaxed);
  int64_t times[kWindow];
  for (int k = 0; k < kWindow; ++k) times[k] = e.times_ns[i][k].load(std::memory_order_relaxed);
  e.estimate_ns[i].store(median(times), std::memory_order_relaxed);
  if (!d.last) return;
  const int64_t est[2] = {e.estimate_ns[0].load(std::memory_order_relaxed),
                          e.estimate_ns[1].load(std::memory_order_relaxed)};
  const int64_t gap = next_gap(e.explore_gap.load(std::memory_order_relaxed), prefer_fork(est) == d.fork);
  e.explore_gap.store(gap, std::memory_order_relaxed);
  e.explore_at.store(e.calls.load(std::memory_order_relaxed) + gap, std::memory_order_relaxed);
}

SplitChoice& split_choice() {
  static SplitChoice choice;
  return choice;
}

namespace {

void run_serial(int64_t n, const std::function<void(int64_t)>& body) {
  for (int64_t i = 0; i < n; ++i) body(i);
}

#if defined(DSCONV_HAVE_OPENMP)
void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}

// Waits for the other threads to reach the end of the work, yielding the core: a worker woken
// onto the caller's core (the scheduler's choice when the others are busy) runs only once the
// caller lets it, and OpenMP's own join barrier spins for milliseconds first.
void wait_for(const std::atomic<int>& arrived, int threads) {
  for (int spin = 0; arrived.load(std::memory_order_acquire) < threads; ++spin) {
    if (spin < 2000) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
  }
}

void run_forked(int64_t n, int threads, const std::function<void(int64_t)>& body) {
  std::exception_ptr error;
  std::mutex error_mutex;
  std::atomic<int64_t> next{0};
  std::atomic<int> finished{0};
  const int64_t start = now_ns();
  int64_t caller_in = start, caller_done = start;
#pragma omp parallel num_threads(threads)
  {
    if (omp_get_thread_num() == 0) caller_in = now_ns();
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n;
         i = next.fetch_add(1, std::memory_order_relaxed)) {
      try {
        body(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
    finished.fetch_add(1, std::memory_order_acq_rel);
    if (omp_get_thread_num() == 0) {
      caller_done = now_ns();
      wait_for(finished, omp_get_num_threads());
    }
  }
  // OpenMP's fork can hold the caller too: it waits for the workers to be back from the last
  // call before it starts them.
  const int64_t end = now_ns();
  fork_gate().record(end, caller_done - caller_in, (caller_in - start) + (end - caller_done));
  if (error) std::rethrow_exception(error);
}
#endif

}  // namespace

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& body) {
#if defined(DSCONV_HAVE_OPENMP)
  if (threads > 1 && n > 1 && fork_gate().open(now_ns())) return run_forked(n, threads, body);
#else
  (void)threads;
#endif
  run_serial(n, body);
}

ScopedCall::ScopedCall() { g_calls_in_flight.fetch_add(1, std::memory_order_relaxed); }
ScopedCall::~ScopedCall() { g_calls_in_flight.fetch_sub(1, std::memory_order_relaxed); }

}  // namespace dsconv::detail

namespace dsconv {

void set_num_threads(int n) {
  if (n < 1) throw Error("number of threads must be >= 1, got " + std::to_string(n));
  detail::thread_setting().store(n);
}

int get_num_threads() { return detail::thread_setting().load(); }

}  // namespace dsconv
