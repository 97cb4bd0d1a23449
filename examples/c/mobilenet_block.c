/* A MobileNetV2-style block through dsconv's C API, in NCHW: 3x3 depthwise (stride 1, "same"
 * padding, bias, ReLU6) then 1x1 pointwise projection (bias, no activation), run once with raw
 * weights as two calls and once as one separable call with packed weights; both checked
 * against a plain loop written here. Exit status 0 when every output matches. */
#include <dsconv/dsconv.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { N = 1, C = 24, H = 19, W = 23, COUT = 40, K = 3 };

/* Prints the failure and leaves main when a dsconv call does not return DSCONV_OK. */
#define CHECK(call)                                                                          \
  do {                                                                                       \
    dsconv_status status_ = (call);                                                          \
    if (status_ != DSCONV_OK) {                                                              \
      fprintf(stderr, "%s failed: %s: %s\n", #call, dsconv_status_string(status_),           \
              dsconv_last_error());                                                          \
      return 1;                                                                              \
    }                                                                                        \
  } while (0)

static float uniform(unsigned* state) {
  *state = *state * 1664525u + 1013904223u;
  return (float)(*state >> 8) / 8388608.0f - 1.0f; /* [-1, 1) */
}

static double relu6(double v) { return v < 0.0 ? 0.0 : v > 6.0 ? 6.0 : v; }

/* The block with stride 1 and padding 1 (what "same" means for a 3x3 at stride 1), NCHW. */
static void naive_block(const float* x, const float* dw_w, const float* dw_b, const float* pw_w, const float* pw_b,
                        double* mid, double* y) {
  int n, c, o, h, w, kh, kw;
  for (n = 0; n < N; ++n) {
    for (c = 0; c < C; ++c)
      for (h = 0; h < H; ++h)
        for (w = 0; w < W; ++w) {
          double acc = dw_b[c];
          for (kh = 0; kh < K; ++kh)
            for (kw = 0; kw < K; ++kw) {
              const int ih = h - 1 + kh, iw = w - 1 + kw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              acc += (double)x[((n * C + c) * H + ih) * W + iw] * dw_w[(c * K + kh) * K + kw];
            }
          mid[((n * C + c) * H + h) * W + w] = relu6(acc);
        }
    for (o = 0; o < COUT; ++o)
      for (h = 0; h < H; ++h)
        for (w = 0; w < W; ++w) {
          double acc = pw_b[o];
          for (c = 0; c < C; ++c) acc += mid[((n * C + c) * H + h) * W + w] * pw_w[o * C + c];
          y[((n * COUT + o) * H + h) * W + w] = acc;
        }
  }
}

static size_t count_mismatches(const float* y, const double* ref, size_t count, double* worst) {
  size_t i, bad = 0;
  for (i = 0; i < count; ++i) {
    const double err = fabs((double)y[i] - ref[i]);
    if (err > *worst) *worst = err;
    if (!(err <= 1e-4 + 1e-4 * fabs(ref[i]))) ++bad;
  }
  return bad;
}

int main(void) {
  static float x[N * C * H * W], dw_w[C * K * K], dw_b[C], pw_w[COUT * C], pw_b[COUT];
  static float mid[N * C * H * W], y_raw[N * COUT * H * W], y_packed[N * COUT * H * W];
  static double ref_mid[N * C * H * W], ref[N * COUT * H * W];
  const int64_t dw_shape[4] = {C, 1, K, K}, pw_shape[2] = {COUT, C}, bad_pw_shape[2] = {COUT, C + 1};
  const dsconv_shape in = {N, C, H, W};
  const dsconv_activation none = {DSCONV_ACTIVATION_NONE, 0.0f, 0.0f};
  dsconv_separable_params p = dsconv_separable_params_default();
  dsconv_cpu_info info;
  dsconv_shape mid_shape, out_shape;
  dsconv_packed_weights *dw = NULL, *pw = NULL;
  dsconv_cost sep, standard, parts[2];
  dsconv_status status;
  double ratio, worst = 0.0;
  size_t i, bad;
  unsigned seed = 7;

  for (i = 0; i < sizeof x / sizeof *x; ++i) x[i] = uniform(&seed);
  for (i = 0; i < sizeof dw_w / sizeof *dw_w; ++i) dw_w[i] = uniform(&seed);
  for (i = 0; i < sizeof dw_b / sizeof *dw_b; ++i) dw_b[i] = uniform(&seed);
  for (i = 0; i < sizeof pw_w / sizeof *pw_w; ++i) pw_w[i] = uniform(&seed);
  for (i = 0; i < sizeof pw_b / sizeof *pw_b; ++i) pw_b[i] = uniform(&seed);

  CHECK(dsconv_get_cpu_info(&info));
  printf("dsconv %s on %s: ISA %s (available: %s), %d thread(s); depthwise kernels: %s\n", dsconv_version(),
         info.arch, info.isa, info.available, info.threads, info.depthwise_kernel);

  p.depthwise.same_padding = 1;
  p.depthwise.activation.kind = DSCONV_ACTIVATION_RELU6;
  p.depthwise.layout = DSCONV_NCHW;
  CHECK(dsconv_depthwise_output_shape(&in, dw_shape, 4, &p.depthwise, &mid_shape));
  CHECK(dsconv_pointwise_output_shape(&mid_shape, pw_shape, 2, &out_shape));
  printf("block: (%d, %d, %d, %d) -> (%lld, %lld, %lld, %lld)\n", N, C, H, W, (long long)out_shape.n,
         (long long)out_shape.c, (long long)out_shape.h, (long long)out_shape.w);

  /* Raw weights, two calls. */
  CHECK(dsconv_depthwise_conv2d(x, &in, dw_w, dw_shape, 4, dw_b, mid, &p.depthwise));
  CHECK(dsconv_pointwise_conv2d(mid, &mid_shape, pw_w, pw_shape, 2, pw_b, y_raw, none, DSCONV_NCHW));

  /* Packed weights, one separable call. */
  CHECK(dsconv_pack_weights(dw_w, dw_shape, 4, DSCONV_OP_DEPTHWISE, DSCONV_NCHW, &dw));
  CHECK(dsconv_pack_weights(pw_w, pw_shape, 2, DSCONV_OP_POINTWISE, DSCONV_NCHW, &pw));
  CHECK(dsconv_separable_conv2d_packed(x, &in, dw, pw, dw_b, pw_b, y_packed, &p));
  dsconv_packed_weights_free(dw);
  dsconv_packed_weights_free(pw);

  /* Errors come back as a status and a message, never as a crash. */
  status = dsconv_pointwise_conv2d(mid, &mid_shape, pw_w, bad_pw_shape, 2, NULL, y_raw, none, DSCONV_NCHW);
  if (status != DSCONV_ERROR_INVALID_ARGUMENT) {
    fprintf(stderr, "FAIL: a wrong weight shape gave %s\n", dsconv_status_string(status));
    return 1;
  }
  printf("bad weight shape rejected: %s\n", dsconv_last_error());

  CHECK(dsconv_cost_separable(&in, COUT, K, K, &p.depthwise, &sep, parts, 2));
  CHECK(dsconv_cost_standard(&in, COUT, K, K, &p.depthwise, &standard));
  CHECK(dsconv_reduction_ratio(COUT, K, K, &ratio));
  printf("cost: %llu MACs separable (depthwise %llu + pointwise %llu) vs %llu standard: %.3fx (1/N + 1/k^2 = %.3f)\n",
         (unsigned long long)sep.macs, (unsigned long long)parts[0].macs, (unsigned long long)parts[1].macs,
         (unsigned long long)standard.macs, (double)sep.macs / (double)standard.macs, ratio);

  naive_block(x, dw_w, dw_b, pw_w, pw_b, ref_mid, ref);
  bad = count_mismatches(y_raw, ref, sizeof ref / sizeof *ref, &worst) +
        count_mismatches(y_packed, ref, sizeof ref / sizeof *ref, &worst);
  printf("%s: %lu of %lu outputs differ from the plain loop (largest error %.2e)\n", bad ? "FAIL" : "OK",
         (unsigned long)bad, (unsigned long)(2 * (sizeof ref / sizeof *ref)), worst);
  return bad ? 1 : 0;
}
