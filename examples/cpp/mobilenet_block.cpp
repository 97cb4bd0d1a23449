// A MobileNetV1 block (3x3 depthwise stride 2 + bias + ReLU6, then 1x1 pointwise + bias +
// ReLU6) run through dsconv's C++ API in NHWC, with weights packed once, and checked against
// a plain loop written here. Exit status 0 when every output matches.
#include <dsconv/cost.hpp>
#include <dsconv/dsconv.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

constexpr int64_t N = 2, C = 32, H = 28, W = 28, COUT = 64, K = 3, STRIDE = 2, PAD = 1;

double relu6(double v) { return std::min(std::max(v, 0.0), 6.0); }

// The block, one output at a time, in double precision: x is NHWC, the weights are in
// PyTorch's layout (dw: C x 1 x K x K, pw: COUT x C), y is NHWC.
std::vector<double> naive_block(const std::vector<float>& x, const std::vector<float>& dw_w,
                                const std::vector<float>& dw_b, const std::vector<float>& pw_w,
                                const std::vector<float>& pw_b, int64_t ho, int64_t wo) {
  std::vector<double> mid(size_t(N * ho * wo * C)), y(size_t(N * ho * wo * COUT));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow) {
        for (int64_t c = 0; c < C; ++c) {
          double acc = dw_b[size_t(c)];
          for (int64_t kh = 0; kh < K; ++kh)
            for (int64_t kw = 0; kw < K; ++kw) {
              const int64_t ih = oh * STRIDE - PAD + kh, iw = ow * STRIDE - PAD + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              acc += double(x[size_t(((n * H + ih) * W + iw) * C + c)]) * dw_w[size_t((c * K + kh) * K + kw)];
            }
          mid[size_t(((n * ho + oh) * wo + ow) * C + c)] = relu6(acc);
        }
        for (int64_t o = 0; o < COUT; ++o) {
          double acc = pw_b[size_t(o)];
          for (int64_t c = 0; c < C; ++c) acc += mid[size_t(((n * ho + oh) * wo + ow) * C + c)] * pw_w[size_t(o * C + c)];
          y[size_t(((n * ho + oh) * wo + ow) * COUT + o)] = relu6(acc);
        }
      }
  return y;
}

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

}  // namespace

int main() {
  const dsconv::CpuInfo info = dsconv::cpu_info();
  std::printf("dsconv on %s: ISA %s, %d thread(s)\n", info.arch.c_str(), info.isa.c_str(), info.threads);

  const dsconv::TensorShape in{N, C, H, W};
  const std::vector<int64_t> dw_shape{C, 1, K, K}, pw_shape{COUT, C};
  const std::vector<float> x = random_floats(size_t(N * C * H * W), 1), dw_w = random_floats(size_t(C * K * K), 2),
                           dw_b = random_floats(size_t(C), 3), pw_w = random_floats(size_t(COUT * C), 4),
                           pw_b = random_floats(size_t(COUT), 5);

  dsconv::SeparableParams p;
  p.depthwise.layout = dsconv::Layout::NHWC;
  p.depthwise.stride_h = p.depthwise.stride_w = STRIDE;
  p.depthwise.padding = dsconv::Padding::symmetric(PAD, PAD);
  p.depthwise.activation = dsconv::Activation::relu6();
  p.activation = dsconv::Activation::relu6();

  const dsconv::TensorShape mid_shape = dsconv::depthwise_output_shape(in, dw_shape, p.depthwise);
  const dsconv::TensorShape out_shape = dsconv::pointwise_output_shape(mid_shape, pw_shape);
  std::printf("block: (%lld, %lld, %lld, %lld) -> (%lld, %lld, %lld, %lld), depthwise kernel %s\n", (long long)in.n,
              (long long)in.c, (long long)in.h, (long long)in.w, (long long)out_shape.n, (long long)out_shape.c,
              (long long)out_shape.h, (long long)out_shape.w,
              dsconv::kernel_name(dsconv::Op::Depthwise, in, dw_shape, p.depthwise).c_str());

  // Packed once, reused by every call.
  const dsconv::PackedWeights dw = dsconv::pack_weights(dw_w.data(), dw_shape, dsconv::Op::Depthwise, p.depthwise.layout);
  const dsconv::PackedWeights pw = dsconv::pack_weights(pw_w.data(), pw_shape, dsconv::Op::Pointwise, p.depthwise.layout);
  std::vector<float> y(size_t(out_shape.n * out_shape.c * out_shape.h * out_shape.w));
  const int reps = 20;
  const auto t0 = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) dsconv::separable_conv2d(x.data(), in, dw, pw, dw_b.data(), pw_b.data(), y.data(), p);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps;

  const std::vector<double> ref = naive_block(x, dw_w, dw_b, pw_w, pw_b, out_shape.h, out_shape.w);
  size_t bad = 0;
  double worst = 0.0;
  for (size_t i = 0; i < y.size(); ++i) {
    const double err = std::fabs(double(y[i]) - ref[i]);
    worst = std::max(worst, err);
    if (!(err <= 1e-4 + 1e-4 * std::fabs(ref[i]))) ++bad;
  }

  // The cost model: what the block saves against a standard 3x3 convolution.
  const dsconv::Cost sep = dsconv::cost_separable(in, COUT, K, K, p.depthwise);
  const dsconv::Cost std_conv = dsconv::cost_standard(in, COUT, K, K, p.depthwise);
  std::printf("cost: %llu MACs separable vs %llu standard (%.3fx, 1/N + 1/k^2 = %.3f); %.1f us per call\n",
              (unsigned long long)sep.macs, (unsigned long long)std_conv.macs, double(sep.macs) / double(std_conv.macs),
              dsconv::reduction_ratio(COUT, K, K), seconds * 1e6);
  std::printf("roofline bound at 100 GFLOP/s and 10 GB/s: %.1f us\n", sep.roofline_seconds(100e9, 10e9) * 1e6);

  // Bad arguments throw dsconv::Error, which names the disagreeing dimension.
  try {
    dsconv::pointwise_conv2d(x.data(), in, pw_w.data(), {COUT, C + 1}, nullptr, y.data(), dsconv::Activation::none(),
                             dsconv::Layout::NHWC);
    std::printf("FAIL: a wrong weight shape was accepted\n");
    return 1;
  } catch (const dsconv::Error& e) {
    std::printf("bad weight shape rejected: %s\n", e.what());
  }

  std::printf("%s: %zu of %zu outputs differ from the plain loop (largest error %.2e)\n", bad ? "FAIL" : "OK", bad,
              y.size(), worst);
  return bad ? 1 : 0;
}
