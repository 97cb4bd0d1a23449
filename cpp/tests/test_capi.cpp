// The C API (dsconv.h) against the C++ API it wraps: every op, raw and packed, gives the same
// bits; shapes, cpu_info, kernel names and the cost model agree field by field; every failure
// is a status plus a thread-local message, never an exception.
#include "dsconv/dsconv.h"

#include <gtest/gtest.h>

#include <cstring>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "dsconv/cost.hpp"
#include "dsconv/dsconv.hpp"
#include "test_util.hpp"

using namespace dsconv;
using test::count;
using test::random_floats;

namespace {

dsconv_shape c_shape(const TensorShape& s) { return {s.n, s.c, s.h, s.w}; }

dsconv_activation c_activation(const Activation& a) {
  dsconv_activation r{DSCONV_ACTIVATION_NONE, a.lo, a.hi};
  switch (a.kind) {
    case ActivationKind::None: r.kind = DSCONV_ACTIVATION_NONE; break;
    case ActivationKind::ReLU: r.kind = DSCONV_ACTIVATION_RELU; break;
    case ActivationKind::ReLU6: r.kind = DSCONV_ACTIVATION_RELU6; break;
    case ActivationKind::HardSwish: r.kind = DSCONV_ACTIVATION_HARDSWISH; break;
    case ActivationKind::Clamp: r.kind = DSCONV_ACTIVATION_CLAMP; break;
  }
  return r;
}

dsconv_layout c_layout(Layout l) { return l == Layout::NHWC ? DSCONV_NHWC : DSCONV_NCHW; }

dsconv_conv_params c_params(const ConvParams& p) {
  dsconv_conv_params r = dsconv_conv_params_default();
  r.stride_h = p.stride_h;
  r.stride_w = p.stride_w;
  r.dilation_h = p.dilation_h;
  r.dilation_w = p.dilation_w;
  r.pad_top = p.padding.top;
  r.pad_bottom = p.padding.bottom;
  r.pad_left = p.padding.left;
  r.pad_right = p.padding.right;
  r.same_padding = p.same_padding ? 1 : 0;
  r.groups = p.groups;
  r.activation = c_activation(p.activation);
  r.layout = c_layout(p.layout);
  return r;
}

// Bitwise equality, NaN-safe.
void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float)));
}

struct Packed {
  dsconv_packed_weights* h = nullptr;
  ~Packed() { dsconv_packed_weights_free(h); }
};

std::vector<ConvParams> param_sweep() {
  std::vector<ConvParams> out;
  for (Layout layout : {Layout::NCHW, Layout::NHWC}) {
    ConvParams p;
    p.layout = layout;
    out.push_back(p);
    p.stride_h = 2;
    p.stride_w = 3;
    p.padding = {1, 2, 0, 3};
    p.activation = Activation::relu6();
    out.push_back(p);
    p = ConvParams{};
    p.layout = layout;
    p.dilation_h = 2;
    p.dilation_w = 3;
    p.same_padding = true;
    p.stride_h = p.stride_w = 2;
    p.activation = Activation::clamp(-0.25f, 0.5f);
    out.push_back(p);
    p.same_padding = false;
    p.padding = Padding::symmetric(4, 4);
    p.activation = Activation::hardswish();
    out.push_back(p);
  }
  return out;
}

}  // namespace

TEST(CApi, DepthwiseMatchesCppRawAndPacked) {
  for (int64_t m : {1, 2})
    for (const ConvParams& p : param_sweep())
      for (bool with_bias : {false, true}) {
        const TensorShape in{2, 5, 9, 11};
        const std::vector<int64_t> ws{5 * m, 1, 3, 3};
        const auto x = random_floats(count(in), 1), w = random_floats(count(ws), 2), b = random_floats(5 * m, 3);
        const float* bias = with_bias ? b.data() : nullptr;
        const TensorShape os = depthwise_output_shape(in, ws, p);
        std::vector<float> expected(count(os)), raw(count(os)), packed(count(os));
        depthwise_conv2d(x.data(), in, w.data(), ws, bias, expected.data(), p);

        const dsconv_shape cin = c_shape(in);
        const dsconv_conv_params cp = c_params(p);
        dsconv_shape cos{};
        ASSERT_EQ(DSCONV_OK, dsconv_depthwise_output_shape(&cin, ws.data(), ws.size(), &cp, &cos));
        EXPECT_EQ(os, (TensorShape{cos.n, cos.c, cos.h, cos.w}));
        ASSERT_EQ(DSCONV_OK, dsconv_depthwise_conv2d(x.data(), &cin, w.data(), ws.data(), ws.size(), bias, raw.data(), &cp))
            << dsconv_last_error();
        Packed pw;
        ASSERT_EQ(DSCONV_OK, dsconv_pack_weights(w.data(), ws.data(), ws.size(), DSCONV_OP_DEPTHWISE, cp.layout, &pw.h));
        ASSERT_EQ(DSCONV_OK, dsconv_depthwise_conv2d_packed(x.data(), &cin, pw.h, bias, packed.data(), &cp));
        expect_same_bits(expected, raw);
        expect_same_bits(expected, packed);
      }
}

TEST(CApi, PointwiseMatchesCppRawAndPacked) {
  for (Layout layout : {Layout::NCHW, Layout::NHWC})
    for (const Activation& act : {Activation::none(), Activation::relu(), Activation::clamp(-0.1f, 0.2f)})
      for (const std::vector<int64_t>& ws : {std::vector<int64_t>{13, 7}, std::vector<int64_t>{13, 7, 1, 1}}) {
        const TensorShape in{2, 7, 5, 6};
        const auto x = random_floats(count(in), 4), w = random_floats(count(ws), 5), b = random_floats(13, 6);
        const TensorShape os = pointwise_output_shape(in, ws);
        std::vector<float> expected(count(os)), raw(count(os)), packed(count(os));
        pointwise_conv2d(x.data(), in, w.data(), ws, b.data(), expected.data(), act, layout);

        const dsconv_shape cin = c_shape(in);
        dsconv_shape cos{};
        ASSERT_EQ(DSCONV_OK, dsconv_pointwise_output_shape(&cin, ws.data(), ws.size(), &cos));
        EXPECT_EQ(os, (TensorShape{cos.n, cos.c, cos.h, cos.w}));
        ASSERT_EQ(DSCONV_OK, dsconv_pointwise_conv2d(x.data(), &cin, w.data(), ws.data(), ws.size(), b.data(), raw.data(),
                                                     c_activation(act), c_layout(layout)));
        Packed pw;
        ASSERT_EQ(DSCONV_OK,
                  dsconv_pack_weights(w.data(), ws.data(), ws.size(), DSCONV_OP_POINTWISE, c_layout(layout), &pw.h));
        ASSERT_EQ(DSCONV_OK, dsconv_pointwise_conv2d_packed(x.data(), &cin, pw.h, b.data(), packed.data(),
                                                            c_activation(act), c_layout(layout)));
        expect_same_bits(expected, raw);
        expect_same_bits(expected, packed);
      }
}

TEST(CApi, Conv2dMatchesCppRawAndPacked) {
  for (int64_t groups : {1, 2})
    for (ConvParams p : param_sweep()) {
      p.groups = groups;
      const TensorShape in{1, 6, 8, 7};
      const std::vector<int64_t> ws{4, 6 / groups, 3, 2};
      const auto x = random_floats(count(in), 7), w = random_floats(count(ws), 8), b = random_floats(4, 9);
      const TensorShape os = conv2d_output_shape(in, ws, p);
      std::vector<float> expected(count(os)), raw(count(os)), packed(count(os));
      conv2d(x.data(), in, w.data(), ws, b.data(), expected.data(), p);

      const dsconv_shape cin = c_shape(in);
      const dsconv_conv_params cp = c_params(p);
      dsconv_shape cos{};
      ASSERT_EQ(DSCONV_OK, dsconv_conv2d_output_shape(&cin, ws.data(), ws.size(), &cp, &cos));
      EXPECT_EQ(os, (TensorShape{cos.n, cos.c, cos.h, cos.w}));
      ASSERT_EQ(DSCONV_OK, dsconv_conv2d(x.data(), &cin, w.data(), ws.data(), ws.size(), b.data(), raw.data(), &cp));
      Packed pw;
      ASSERT_EQ(DSCONV_OK, dsconv_pack_weights(w.data(), ws.data(), ws.size(), DSCONV_OP_CONV2D, cp.layout, &pw.h));
      ASSERT_EQ(DSCONV_OK, dsconv_conv2d_packed(x.data(), &cin, pw.h, b.data(), packed.data(), &cp));
      expect_same_bits(expected, raw);
      expect_same_bits(expected, packed);
    }
}

TEST(CApi, SeparableMatchesCppRawAndPacked) {
  for (const ConvParams& dp : param_sweep()) {
    SeparableParams p;
    p.depthwise = dp;
    p.activation = Activation::relu();
    const TensorShape in{2, 8, 10, 9};
    const std::vector<int64_t> dws{8, 1, 3, 3}, pws{12, 8};
    const auto x = random_floats(count(in), 10), dw = random_floats(count(dws), 11), pw = random_floats(count(pws), 12),
               db = random_floats(8, 13), pb = random_floats(12, 14);
    const TensorShape os = pointwise_output_shape(depthwise_output_shape(in, dws, dp), pws);
    std::vector<float> expected(count(os)), raw(count(os)), packed(count(os));
    separable_conv2d(x.data(), in, dw.data(), dws, pw.data(), pws, db.data(), pb.data(), expected.data(), p);

    const dsconv_shape cin = c_shape(in);
    dsconv_separable_params cp = dsconv_separable_params_default();
    cp.depthwise = c_params(dp);
    cp.activation = c_activation(p.activation);
    ASSERT_EQ(DSCONV_OK, dsconv_separable_conv2d(x.data(), &cin, dw.data(), dws.data(), dws.size(), pw.data(),
                                                 pws.data(), pws.size(), db.data(), pb.data(), raw.data(), &cp));
    Packed dh, ph;
    ASSERT_EQ(DSCONV_OK, dsconv_pack_weights(dw.data(), dws.data(), dws.size(), DSCONV_OP_DEPTHWISE, cp.depthwise.layout,
                                             &dh.h));
    ASSERT_EQ(DSCONV_OK, dsconv_pack_weights(pw.data(), pws.data(), pws.size(), DSCONV_OP_POINTWISE, cp.depthwise.layout,
                                             &ph.h));
    ASSERT_EQ(DSCONV_OK,
              dsconv_separable_conv2d_packed(x.data(), &cin, dh.h, ph.h, db.data(), pb.data(), packed.data(), &cp));
    expect_same_bits(expected, raw);
    expect_same_bits(expected, packed);
  }
}

TEST(CApi, DefaultsMatchCpp) {
  const dsconv_conv_params c = dsconv_conv_params_default();
  const ConvParams p;
  EXPECT_EQ(c.stride_h, p.stride_h);
  EXPECT_EQ(c.stride_w, p.stride_w);
  EXPECT_EQ(c.dilation_h, p.dilation_h);
  EXPECT_EQ(c.dilation_w, p.dilation_w);
  EXPECT_EQ(c.pad_top + c.pad_bottom + c.pad_left + c.pad_right, 0);
  EXPECT_EQ(c.same_padding, 0);
  EXPECT_EQ(c.groups, p.groups);
  EXPECT_EQ(c.activation.kind, DSCONV_ACTIVATION_NONE);
  EXPECT_EQ(c.layout, DSCONV_NCHW);
  const dsconv_separable_params s = dsconv_separable_params_default();
  EXPECT_EQ(s.depthwise.stride_h, 1);
  EXPECT_EQ(s.activation.kind, DSCONV_ACTIVATION_NONE);
}

TEST(CApi, PackedWeightsInfo) {
  const std::vector<int64_t> ws{6, 1, 5, 5};
  const auto w = random_floats(count(ws), 15);
  Packed h;
  ASSERT_EQ(DSCONV_OK, dsconv_pack_weights(w.data(), ws.data(), ws.size(), DSCONV_OP_DEPTHWISE, DSCONV_NHWC, &h.h));
  dsconv_op op = DSCONV_OP_CONV2D;
  dsconv_layout layout = DSCONV_NCHW;
  const int64_t* shape = nullptr;
  size_t ndim = 0;
  const char* isa = nullptr;
  ASSERT_EQ(DSCONV_OK, dsconv_packed_weights_info(h.h, &op, &layout, &shape, &ndim, &isa));
  EXPECT_EQ(op, DSCONV_OP_DEPTHWISE);
  EXPECT_EQ(layout, DSCONV_NHWC);
  EXPECT_EQ(std::vector<int64_t>(shape, shape + ndim), ws);
  EXPECT_EQ(std::string(isa), cpu_info().isa);
  // Every output is optional.
  EXPECT_EQ(DSCONV_OK, dsconv_packed_weights_info(h.h, nullptr, nullptr, nullptr, nullptr, nullptr));
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_packed_weights_info(nullptr, &op, nullptr, nullptr, nullptr, nullptr));
  dsconv_packed_weights_free(nullptr);
}

TEST(CApi, PackedWeightsForAnotherOpOrLayoutAreRejected) {
  const TensorShape in{1, 4, 6, 6};
  const std::vector<int64_t> ws{4, 1, 3, 3};
  const auto x = random_floats(count(in), 16), w = random_floats(count(ws), 17);
  std::vector<float> y(count(in) * 4);
  Packed h;
  ASSERT_EQ(DSCONV_OK, dsconv_pack_weights(w.data(), ws.data(), ws.size(), DSCONV_OP_DEPTHWISE, DSCONV_NCHW, &h.h));
  const dsconv_shape cin = c_shape(in);
  dsconv_conv_params p = dsconv_conv_params_default();
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_conv2d_packed(x.data(), &cin, h.h, nullptr, y.data(), &p));
  EXPECT_NE(std::string(dsconv_last_error()).find("packed for depthwise"), std::string::npos) << dsconv_last_error();
  p.layout = DSCONV_NHWC;
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_depthwise_conv2d_packed(x.data(), &cin, h.h, nullptr, y.data(), &p));
  EXPECT_NE(std::string(dsconv_last_error()).find("layout"), std::string::npos) << dsconv_last_error();
}

TEST(CApi, BadArgumentsGiveStatusAndMessage) {
  const TensorShape in{1, 4, 6, 6};
  const std::vector<int64_t> ws{4, 1, 3, 3};
  const auto x = random_floats(count(in), 18), w = random_floats(count(ws), 19);
  std::vector<float> y(count(in));
  const dsconv_shape cin = c_shape(in);
  const dsconv_conv_params good = dsconv_conv_params_default();
  const auto expect_invalid = [](dsconv_status s, const char* needle) {
    EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, s) << needle;
    EXPECT_NE(std::string(dsconv_last_error()).find(needle), std::string::npos)
        << "message '" << dsconv_last_error() << "' lacks '" << needle << "'";
  };
  expect_invalid(dsconv_depthwise_conv2d(nullptr, &cin, w.data(), ws.data(), 4, nullptr, y.data(), &good), "null");
  expect_invalid(dsconv_depthwise_conv2d(x.data(), &cin, w.data(), ws.data(), 4, nullptr, nullptr, &good), "null");
  expect_invalid(dsconv_depthwise_conv2d(x.data(), nullptr, w.data(), ws.data(), 4, nullptr, y.data(), &good),
                 "input shape is null");
  expect_invalid(dsconv_depthwise_conv2d(x.data(), &cin, w.data(), nullptr, 4, nullptr, y.data(), &good),
                 "weight_shape is null");
  expect_invalid(dsconv_depthwise_conv2d(x.data(), &cin, w.data(), ws.data(), 4, nullptr, y.data(), nullptr),
                 "params is null");
  expect_invalid(dsconv_depthwise_conv2d(x.data(), &cin, nullptr, ws.data(), 4, nullptr, y.data(), &good), "null");

  dsconv_conv_params bad = good;
  bad.stride_h = 0;
  expect_invalid(dsconv_depthwise_conv2d(x.data(), &cin, w.data(), ws.data(), 4, nullptr, y.data(), &bad), "stride");
  bad = good;
  bad.layout = static_cast<dsconv_layout>(7);
  expect_invalid(dsconv_depthwise_conv2d(x.data(), &cin, w.data(), ws.data(), 4, nullptr, y.data(), &bad),
                 "unknown layout 7");
  bad = good;
  bad.activation.kind = static_cast<dsconv_activation_kind>(42);
  expect_invalid(dsconv_depthwise_conv2d(x.data(), &cin, w.data(), ws.data(), 4, nullptr, y.data(), &bad),
                 "unknown activation kind 42");
  dsconv_packed_weights* h = reinterpret_cast<dsconv_packed_weights*>(&bad);
  expect_invalid(dsconv_pack_weights(w.data(), ws.data(), 4, static_cast<dsconv_op>(9), DSCONV_NCHW, &h),
                 "unknown op 9");
  EXPECT_EQ(h, nullptr);  // cleared on failure
  expect_invalid(dsconv_pack_weights(w.data(), ws.data(), 4, DSCONV_OP_DEPTHWISE, DSCONV_NCHW, nullptr),
                 "output pointer out is null");
  const std::vector<int64_t> wrong{4, 2, 3, 3};
  expect_invalid(dsconv_depthwise_conv2d(x.data(), &cin, w.data(), wrong.data(), 4, nullptr, y.data(), &good), "");
  EXPECT_STRNE(dsconv_last_error(), "");
  dsconv_shape out{};
  expect_invalid(dsconv_depthwise_output_shape(&cin, ws.data(), 4, &good, nullptr), "output pointer out is null");

  // A success clears the message.
  ASSERT_EQ(DSCONV_OK, dsconv_depthwise_output_shape(&cin, ws.data(), 4, &good, &out));
  EXPECT_STREQ(dsconv_last_error(), "");
}

TEST(CApi, OverflowIsItsOwnStatus) {
  const dsconv_shape huge{int64_t(1) << 40, int64_t(1) << 40, 1 << 20, 1 << 20};
  const dsconv_conv_params p = dsconv_conv_params_default();
  dsconv_cost c;
  EXPECT_EQ(DSCONV_ERROR_SIZE_OVERFLOW, dsconv_cost_standard(&huge, 1 << 20, 3, 3, &p, &c));
  EXPECT_STRNE(dsconv_last_error(), "");
}

TEST(CApi, ErrorMessagesAreThreadLocal) {
  const dsconv_conv_params p = dsconv_conv_params_default();
  dsconv_shape out;
  ASSERT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_depthwise_output_shape(nullptr, nullptr, 0, &p, &out));
  const std::string mine = dsconv_last_error();
  std::string theirs_before, theirs_after;
  std::thread other([&] {
    theirs_before = dsconv_last_error();
    const dsconv_shape in{1, 1, 3, 3};
    const int64_t ws[4] = {1, 1, 5, 5};
    dsconv_depthwise_output_shape(&in, ws, 4, &p, &out);  // kernel larger than the input
    theirs_after = dsconv_last_error();
  });
  other.join();
  EXPECT_EQ(theirs_before, "");
  EXPECT_NE(theirs_after, "");
  EXPECT_NE(theirs_after, mine);
  EXPECT_EQ(mine, dsconv_last_error());
}

TEST(CApi, StatusStringsAndVersion) {
  EXPECT_STREQ(dsconv_status_string(DSCONV_OK), "DSCONV_OK");
  EXPECT_STREQ(dsconv_status_string(DSCONV_ERROR_INVALID_ARGUMENT), "DSCONV_ERROR_INVALID_ARGUMENT");
  EXPECT_STREQ(dsconv_status_string(DSCONV_ERROR_SIZE_OVERFLOW), "DSCONV_ERROR_SIZE_OVERFLOW");
  EXPECT_STREQ(dsconv_status_string(DSCONV_ERROR_OUT_OF_MEMORY), "DSCONV_ERROR_OUT_OF_MEMORY");
  EXPECT_STREQ(dsconv_status_string(DSCONV_ERROR_INTERNAL), "DSCONV_ERROR_INTERNAL");
  EXPECT_STREQ(dsconv_status_string(static_cast<dsconv_status>(99)), "unknown dsconv_status");
  EXPECT_TRUE(std::regex_match(dsconv_version(), std::regex(R"(\d+\.\d+\.\d+)"))) << dsconv_version();
}

TEST(CApi, CpuInfoAndKernelNamesMatchCpp) {
  const CpuInfo info = cpu_info();
  dsconv_cpu_info c;
  ASSERT_EQ(DSCONV_OK, dsconv_get_cpu_info(&c));
  EXPECT_EQ(info.isa, c.isa);
  EXPECT_EQ(info.arch, c.arch);
  EXPECT_EQ(info.threads, c.threads);
  EXPECT_EQ(info.openmp ? 1 : 0, c.openmp);
  std::string available;
  for (const auto& a : info.available) available += (available.empty() ? "" : " ") + a;
  EXPECT_EQ(available, c.available);
  std::string features;
  for (const auto& f : info.features) features += (features.empty() ? "" : " ") + f;
  EXPECT_EQ(features, c.features);
  for (const auto& [op, family] : info.kernels) {
    const char* got = op == "depthwise" ? c.depthwise_kernel : op == "pointwise" ? c.pointwise_kernel : c.conv2d_kernel;
    EXPECT_EQ(family, got) << op;
  }
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_get_cpu_info(nullptr));

  const TensorShape in{1, 16, 14, 14};
  const dsconv_shape cin = c_shape(in);
  for (const ConvParams& p : param_sweep()) {
    const dsconv_conv_params cp = c_params(p);
    const char* name = nullptr;
    const std::vector<int64_t> dws{16, 1, 3, 3}, pws{8, 16}, cws{8, 16, 3, 3};
    ASSERT_EQ(DSCONV_OK, dsconv_kernel_name(DSCONV_OP_DEPTHWISE, &cin, dws.data(), 4, &cp, &name));
    EXPECT_EQ(kernel_name(Op::Depthwise, in, dws, p), name);
    ASSERT_EQ(DSCONV_OK, dsconv_kernel_name(DSCONV_OP_CONV2D, &cin, cws.data(), 4, &cp, &name));
    EXPECT_EQ(kernel_name(Op::Conv2d, in, cws, p), name);
    ASSERT_EQ(DSCONV_OK, dsconv_kernel_name(DSCONV_OP_POINTWISE, &cin, pws.data(), 2, &cp, &name));
    EXPECT_EQ(kernel_name(Op::Pointwise, in, pws, p), name);
  }
  const char* name = nullptr;
  const int64_t pws[2] = {8, 16};
  ASSERT_EQ(DSCONV_OK, dsconv_kernel_name(DSCONV_OP_POINTWISE, &cin, pws, 2, nullptr, &name));
  EXPECT_EQ(kernel_name(Op::Pointwise, in, {8, 16}, ConvParams{}), name);
  const int64_t dws[4] = {16, 1, 3, 3};
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_kernel_name(DSCONV_OP_DEPTHWISE, &cin, dws, 4, nullptr, &name));
}

TEST(CApi, Threads) {
  int before = 0;
  ASSERT_EQ(DSCONV_OK, dsconv_get_num_threads(&before));
  EXPECT_EQ(before, get_num_threads());
  ASSERT_EQ(DSCONV_OK, dsconv_set_num_threads(3));
  int now = 0;
  ASSERT_EQ(DSCONV_OK, dsconv_get_num_threads(&now));
  EXPECT_EQ(now, 3);
  EXPECT_EQ(get_num_threads(), 3);
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_set_num_threads(0));
  EXPECT_NE(std::string(dsconv_last_error()).find(">= 1"), std::string::npos) << dsconv_last_error();
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_get_num_threads(nullptr));
  ASSERT_EQ(DSCONV_OK, dsconv_set_num_threads(before));
}

TEST(CApi, SelectIsa) {
  const std::vector<std::string> isas = test::isas();
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_select_isa("no-such-isa"));
  EXPECT_STRNE(dsconv_last_error(), "");
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_select_isa(nullptr));
  for (const std::string& isa : isas) {
    ASSERT_EQ(DSCONV_OK, dsconv_select_isa(isa.c_str())) << dsconv_last_error();
    dsconv_cpu_info c;
    ASSERT_EQ(DSCONV_OK, dsconv_get_cpu_info(&c));
    EXPECT_EQ(isa, c.isa);
  }
  // Weights packed for one ISA are refused, with a message, once another is active.
  if (isas.size() > 1) {
    const std::vector<int64_t> ws{4, 1, 3, 3};
    const auto w = random_floats(count(ws), 20), x = random_floats(4 * 5 * 5, 21);
    std::vector<float> y(4 * 3 * 3);
    Packed h;
    ASSERT_EQ(DSCONV_OK, dsconv_pack_weights(w.data(), ws.data(), 4, DSCONV_OP_DEPTHWISE, DSCONV_NCHW, &h.h));
    ASSERT_EQ(DSCONV_OK, dsconv_select_isa(isas.front().c_str()));
    const dsconv_shape in{1, 4, 5, 5};
    const dsconv_conv_params p = dsconv_conv_params_default();
    EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_depthwise_conv2d_packed(x.data(), &in, h.h, nullptr, y.data(), &p));
    EXPECT_NE(std::string(dsconv_last_error()).find("ISA"), std::string::npos) << dsconv_last_error();
  }
  ASSERT_EQ(DSCONV_OK, dsconv_select_isa(isas.back().c_str()));
}

namespace {
void expect_same_cost(const Cost& cpp, const dsconv_cost& c) {
  EXPECT_EQ(cpp.macs, c.macs);
  EXPECT_EQ(cpp.effective_macs, c.effective_macs);
  EXPECT_EQ(cpp.flops(), c.flops);
  EXPECT_EQ(cpp.params, c.params);
  EXPECT_EQ(cpp.input_bytes, c.input_bytes);
  EXPECT_EQ(cpp.weight_bytes, c.weight_bytes);
  EXPECT_EQ(cpp.output_bytes, c.output_bytes);
  EXPECT_EQ(cpp.bytes(), c.bytes);
  EXPECT_EQ(cpp.intensity(), c.intensity);
  EXPECT_EQ(cpp.parts.size(), c.num_parts);
}
}  // namespace

TEST(CApi, CostModelMatchesCpp) {
  const TensorShape in{2, 32, 17, 15};
  const dsconv_shape cin = c_shape(in);
  for (ConvParams p : param_sweep()) {
    const dsconv_conv_params cp = c_params(p);
    dsconv_cost c;
    ASSERT_EQ(DSCONV_OK, dsconv_cost_depthwise(&cin, 3, 5, &cp, 2, &c));
    expect_same_cost(cost_depthwise(in, 3, 5, p, 2), c);
    ASSERT_EQ(DSCONV_OK, dsconv_cost_standard(&cin, 48, 3, 3, &cp, &c));
    expect_same_cost(cost_standard(in, 48, 3, 3, p), c);
    p.groups = 4;
    const dsconv_conv_params grouped = c_params(p);
    ASSERT_EQ(DSCONV_OK, dsconv_cost_standard(&cin, 48, 3, 3, &grouped, &c));
    expect_same_cost(cost_standard(in, 48, 3, 3, p), c);
    p.groups = 1;

    const Cost sep = cost_separable(in, 64, 3, 3, p);
    dsconv_cost parts[3];
    ASSERT_EQ(DSCONV_OK, dsconv_cost_separable(&cin, 64, 3, 3, &cp, &c, parts, 3));
    expect_same_cost(sep, c);
    ASSERT_EQ(c.num_parts, 2u);
    expect_same_cost(sep.parts[0], parts[0]);
    expect_same_cost(sep.parts[1], parts[1]);
  }
  dsconv_cost c;
  ASSERT_EQ(DSCONV_OK, dsconv_cost_pointwise(&cin, 24, &c));
  expect_same_cost(cost_pointwise(in, 24), c);

  const Cost ghost = cost_ghost(in, 40, 1, 1, 2, 3, 1);
  dsconv_cost part{};
  part.macs = 12345;
  ASSERT_EQ(DSCONV_OK, dsconv_cost_ghost(&cin, 40, 1, 1, 2, 3, 1, &c, &part, 1));  // room for one part only
  expect_same_cost(ghost, c);
  expect_same_cost(ghost.parts[0], part);
  ASSERT_EQ(DSCONV_OK, dsconv_cost_ghost(&cin, 40, 1, 1, 2, 3, 1, &c, nullptr, 0));
  EXPECT_EQ(c.num_parts, 2u);
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_cost_ghost(&cin, 40, 1, 1, 2, 3, 1, &c, nullptr, 2));
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_cost_ghost(&cin, 40, 1, 1, 1, 3, 1, &c, nullptr, 0));

  double ratio = 0;
  ASSERT_EQ(DSCONV_OK, dsconv_reduction_ratio(64, 3, 3, &ratio));
  EXPECT_EQ(ratio, reduction_ratio(64, 3, 3));
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_reduction_ratio(0, 3, 3, &ratio));

  double seconds = 0;
  ASSERT_EQ(DSCONV_OK, dsconv_cost_roofline_seconds(&c, 1e11, 1e10, &seconds));
  EXPECT_EQ(seconds, ghost.roofline_seconds(1e11, 1e10));
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_cost_roofline_seconds(&c, 0.0, 1e10, &seconds));
  EXPECT_EQ(DSCONV_ERROR_INVALID_ARGUMENT, dsconv_cost_roofline_seconds(nullptr, 1e11, 1e10, &seconds));
}
