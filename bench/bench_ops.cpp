// Google Benchmark microbenchmarks: every op x ISA x layout on the layers of a shapes file
// (bench/shapes.txt by default). Weights are packed once per benchmark for the ISA under test
// (forced with dsconv::select_isa); the timed loop is the op call alone.
//
// Own flags (after Google Benchmark's): --shapes=FILE --threads=N --isa=avx2,avx512 (default:
// every ISA this CPU has) --layouts=NCHW,NHWC. Counters: FLOP (per second), bytes (compulsory
// traffic: input + weights + output, per second), FLOP/B, and roofline% (Cost::roofline_seconds
// at this machine's measured peak for the ISA and the bandwidth of the cache level that holds
// the traffic, over the measured time: this thread's CPU time at one thread, wall time with more).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "dsconv/cost.hpp"
#include "dsconv/dsconv.hpp"
#include "roofline.hpp"

namespace {

struct Layer {
  std::string name, op;  // op: dw | pw | conv | sep (bench/shapes.txt)
  int64_t cin, cout, h, w, k, stride;
};

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "dsconv_bench: %s\n", msg.c_str());
  std::exit(2);
}

std::vector<Layer> read_shapes(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot open shapes file " + path + " (use --shapes=FILE)");
  std::vector<Layer> layers;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    line = line.substr(0, line.find('#'));
    std::istringstream ss(line);
    Layer l;
    if (!(ss >> l.name)) continue;
    int64_t repeat = 1;  // optional column: only the network totals of the Python tools use it
    if (!(ss >> l.op >> l.cin >> l.cout >> l.h >> l.w >> l.k >> l.stride) ||
        (!(ss >> repeat) && !ss.eof()) || (l.op != "dw" && l.op != "pw" && l.op != "conv" && l.op != "sep"))
      die(path + ":" + std::to_string(lineno) + ": expected 'name op(dw|pw|conv|sep) cin cout h w k stride [repeat]'");
    layers.push_back(l);
  }
  return layers;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Machine {
  std::map<std::string, double> peak;  // FLOP/s per ISA, one core
  std::vector<dsconv_bench::BandwidthLevel> levels;
  int threads = 1;
};

// One thread: this thread's CPU time, as Google Benchmark reports by default, so that other
// processes on a shared machine do not inflate the figures; several threads: wall time.
double clock_seconds(bool cpu) {
  if (!cpu) return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

std::vector<float> random_vector(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

dsconv::ConvParams params(const Layer& l, dsconv::Layout layout) {
  dsconv::ConvParams p;
  p.stride_h = p.stride_w = l.stride;
  p.padding = dsconv::Padding::symmetric(l.k / 2, l.k / 2);
  p.layout = layout;
  return p;
}

int64_t elements(const dsconv::TensorShape& s) { return s.n * s.c * s.h * s.w; }

// One benchmark: op on `l` (a sep line's depthwise is k x k on cin, its pointwise cin -> cout on
// the depthwise output grid), weights packed for `isa`.
void run_op(benchmark::State& state, const Layer& l, const std::string& op, const std::string& isa,
            dsconv::Layout layout, const Machine& m) {
  dsconv::select_isa(isa);
  const dsconv::ConvParams p = params(l, layout);
  const dsconv::TensorShape in{1, l.cin, l.h, l.w};
  const int64_t k = l.k;
  dsconv::Cost cost;
  std::string kernel;
  std::function<void()> call;
  std::vector<float> x, y, w1, w2, b1, b2;
  std::shared_ptr<dsconv::PackedWeights> pk1, pk2;
  if (op == "depthwise") {
    const int64_t cout = l.op == "dw" ? l.cout : l.cin;
    const std::vector<int64_t> ws{cout, 1, k, k};
    x = random_vector(elements(in), 1);
    w1 = random_vector(cout * k * k, 2);
    b1 = random_vector(cout, 3);
    y.assign(elements(dsconv::depthwise_output_shape(in, ws, p)), 0.0f);
    pk1 = std::make_shared<dsconv::PackedWeights>(dsconv::pack_weights(w1.data(), ws, dsconv::Op::Depthwise, layout));
    cost = dsconv::cost_depthwise(in, k, k, p, cout / l.cin);
    kernel = dsconv::kernel_name(dsconv::Op::Depthwise, in, ws, p);
    call = [&] { dsconv::depthwise_conv2d(x.data(), in, *pk1, b1.data(), y.data(), p); };
  } else if (op == "pointwise") {
    dsconv::TensorShape pin = in;
    if (l.op != "pw") {
      const dsconv::TensorShape dwo = dsconv::depthwise_output_shape(in, {l.cin, 1, k, k}, p);
      pin.h = dwo.h;
      pin.w = dwo.w;
    }
    const std::vector<int64_t> ws{l.cout, l.cin};
    x = random_vector(elements(pin), 1);
    w1 = random_vector(l.cout * l.cin, 2);
    b1 = random_vector(l.cout, 3);
    y.assign(elements(dsconv::pointwise_output_shape(pin, ws)), 0.0f);
    pk1 = std::make_shared<dsconv::PackedWeights>(dsconv::pack_weights(w1.data(), ws, dsconv::Op::Pointwise, layout));
    cost = dsconv::cost_pointwise(pin, l.cout);
    kernel = dsconv::kernel_name(dsconv::Op::Pointwise, pin, ws, p);
    call = [&, pin] { dsconv::pointwise_conv2d(x.data(), pin, *pk1, b1.data(), y.data(), {}, layout); };
  } else if (op == "conv2d") {
    const std::vector<int64_t> ws{l.cout, l.cin, k, k};
    x = random_vector(elements(in), 1);
    w1 = random_vector(l.cout * l.cin * k * k, 2);
    b1 = random_vector(l.cout, 3);
    y.assign(elements(dsconv::conv2d_output_shape(in, ws, p)), 0.0f);
    pk1 = std::make_shared<dsconv::PackedWeights>(dsconv::pack_weights(w1.data(), ws, dsconv::Op::Conv2d, layout));
    cost = dsconv::cost_standard(in, l.cout, k, k, p);
    kernel = dsconv::kernel_name(dsconv::Op::Conv2d, in, ws, p);
    call = [&] { dsconv::conv2d(x.data(), in, *pk1, b1.data(), y.data(), p); };
  } else {  // separable
    const std::vector<int64_t> wd{l.cin, 1, k, k}, wp{l.cout, l.cin};
    x = random_vector(elements(in), 1);
    w1 = random_vector(l.cin * k * k, 2);
    w2 = random_vector(l.cout * l.cin, 4);
    b1 = random_vector(l.cin, 3);
    b2 = random_vector(l.cout, 5);
    dsconv::TensorShape out = dsconv::depthwise_output_shape(in, wd, p);
    out.c = l.cout;
    y.assign(elements(out), 0.0f);
    pk1 = std::make_shared<dsconv::PackedWeights>(dsconv::pack_weights(w1.data(), wd, dsconv::Op::Depthwise, layout));
    pk2 = std::make_shared<dsconv::PackedWeights>(dsconv::pack_weights(w2.data(), wp, dsconv::Op::Pointwise, layout));
    cost = dsconv::cost_separable(in, l.cout, k, k, p);
    dsconv::TensorShape mid = out;
    mid.c = l.cin;
    kernel = dsconv::kernel_name(dsconv::Op::Depthwise, in, wd, p) + " + " +
             dsconv::kernel_name(dsconv::Op::Pointwise, mid, wp, p);
    dsconv::SeparableParams sp;
    sp.depthwise = p;
    call = [&, sp] { dsconv::separable_conv2d(x.data(), in, *pk1, *pk2, b1.data(), b2.data(), y.data(), sp); };
  }
  // Our own clock (the one Google Benchmark uses here) around the loop: a rate counter would
  // print roofline% as "%/s".
  const bool cpu = m.threads == 1;
  const double t0 = clock_seconds(cpu);
  for (auto _ : state) {
    call();
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double elapsed = clock_seconds(cpu) - t0;
  const double bw = dsconv_bench::level_for(m.levels, double(cost.bytes())).bytes_per_s;
  const double bound = cost.roofline_seconds(m.peak.at(isa), bw);
  using C = benchmark::Counter;
  state.counters["FLOP"] = C(double(cost.flops()), C::kIsIterationInvariantRate, C::kIs1000);    // shown as FLOP/s
  state.counters["bytes"] = C(double(cost.bytes()), C::kIsIterationInvariantRate, C::kIs1000);   // bytes/s
  state.counters["roofline%"] = elapsed > 0 ? 100.0 * bound * double(state.iterations()) / elapsed : 0.0;
  state.counters["FLOP/B"] = cost.intensity();
  state.SetLabel(kernel);
}

double iqr(const std::vector<double>& v) {
  std::vector<double> s(v);
  std::sort(s.begin(), s.end());
  auto q = [&](double f) {
    const double pos = f * double(s.size() - 1);
    const size_t i = size_t(pos);
    return i + 1 < s.size() ? s[i] + (pos - double(i)) * (s[i + 1] - s[i]) : s[i];
  };
  return s.empty() ? 0.0 : q(0.75) - q(0.25);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string shapes = DSCONV_BENCH_SHAPES;
  int threads = 1;
  std::vector<std::string> isas = dsconv::cpu_info().available;
  std::vector<std::string> layouts{"NCHW", "NHWC"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* flag) -> const char* {
      const std::string f = std::string(flag) + "=";
      return a.rfind(f, 0) == 0 ? argv[i] + f.size() : nullptr;
    };
    if (const char* v = value("--shapes")) shapes = v;
    else if (const char* v = value("--threads")) threads = std::atoi(v);
    else if (const char* v = value("--isa")) isas = split(v);
    else if (const char* v = value("--layouts")) layouts = split(v);
    else die("unknown argument " + a + " (own flags: --shapes=FILE --threads=N --isa=LIST --layouts=LIST)");
  }
  if (threads < 1) die("--threads must be >= 1");
  const std::vector<std::string> available = dsconv::cpu_info().available;
  for (const auto& isa : isas)
    if (std::find(available.begin(), available.end(), isa) == available.end()) die("ISA " + isa + " not available here");
  for (const auto& lay : layouts)
    if (lay != "NCHW" && lay != "NHWC") die("layout must be NCHW or NHWC, got " + lay);
  dsconv::set_num_threads(threads);
  static std::vector<Layer> layers;  // outlives the registered benchmarks, which refer to its elements
  layers = read_shapes(shapes);

  static Machine machine;  // outlives the registered benchmarks
  machine.threads = threads;
  for (const auto& isa : isas) {
    machine.peak[isa] = dsconv_bench::peak_flops(isa, 0.2);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f GFLOP/s (1 thread)", machine.peak[isa] / 1e9);
    benchmark::AddCustomContext("roofline.peak." + isa, buf);
  }
  machine.levels = dsconv_bench::measure_bandwidth(0.1);
  for (const auto& lv : machine.levels) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "%.1f GB/s (copy, %zu KiB working set, 1 thread)", lv.bytes_per_s / 1e9,
                  lv.working_set >> 10);
    benchmark::AddCustomContext("roofline.bandwidth." + lv.name, buf);
  }
  benchmark::AddCustomContext("dsconv.shapes", shapes);
  benchmark::AddCustomContext("dsconv.threads", std::to_string(threads));

  for (const auto& isa : isas)
    for (const Layer& l : layers) {
      std::vector<std::string> ops = l.op == "dw"   ? std::vector<std::string>{"depthwise"}
                                     : l.op == "pw" ? std::vector<std::string>{"pointwise"}
                                     : l.op == "conv" ? std::vector<std::string>{"conv2d"}
                                                      : std::vector<std::string>{"depthwise", "pointwise", "separable"};
      for (const auto& op : ops)
        for (const auto& lay : layouts) {
          const dsconv::Layout layout = lay == "NCHW" ? dsconv::Layout::NCHW : dsconv::Layout::NHWC;
          const std::string name = op + "/" + isa + "/" + lay + "/" + l.name;
          auto* b = benchmark::RegisterBenchmark(name.c_str(), [&l, op, isa, layout](benchmark::State& st) {
            run_op(st, l, op, isa, layout, machine);
          });
          b->Unit(benchmark::kMicrosecond)->ComputeStatistics("iqr", iqr);
          if (threads > 1) b->UseRealTime();
        }
    }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
