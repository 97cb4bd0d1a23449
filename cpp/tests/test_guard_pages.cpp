// Every kernel with its tensors placed against inaccessible pages: the input, the raw weights
// and the output start right after a PROT_NONE page, or end right before one, and the input and
// weights are read-only during the call. A read before or after the input, a write outside the
// output or into an input faults (the test dies), where ordinary buffers would let it pass
// unseen. (x86 masked loads with an empty mask do not fault, by design: the kernels' choice
// not to issue them next to the padding is measured in bench/guard_pages.py.)
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

#include "test_util.hpp"

namespace dsconv::test {
namespace {

// n floats at the start or the end of pages fenced by PROT_NONE pages on both sides.
class Fenced {
 public:
  Fenced(size_t n, bool at_end) {
    const size_t page = size_t(sysconf(_SC_PAGESIZE)), bytes = std::max<size_t>(1, n) * sizeof(float);
    pages_ = (bytes + page - 1) / page * page;
    size_ = pages_ + 2 * page;
    void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    base_ = static_cast<char*>(p);
    mprotect(base_, page, PROT_NONE);
    mprotect(base_ + page + pages_, page, PROT_NONE);
    data_ = reinterpret_cast<float*>(base_ + page + (at_end ? pages_ - bytes : 0));
    page_ = page;
  }
  ~Fenced() { munmap(base_, size_); }
  Fenced(const Fenced&) = delete;
  Fenced& operator=(const Fenced&) = delete;
  float* data() { return data_; }
  void read_only() { mprotect(base_ + page_, pages_, PROT_READ); }

 private:
  char* base_;
  float* data_;
  size_t size_, pages_, page_;
};

void run_fenced(const Case& c, bool at_end, bool packed, const std::vector<float>& x, const std::vector<float>& w,
                const std::vector<float>& b, float* y) {
  Fenced fx(x.size(), at_end), fw(w.size(), at_end);
  std::memcpy(fx.data(), x.data(), x.size() * sizeof(float));
  std::memcpy(fw.data(), w.data(), w.size() * sizeof(float));
  fx.read_only();
  fw.read_only();
  const float* bias = c.bias ? b.data() : nullptr;
  if (packed) {
    const PackedWeights pw = pack_weights(fw.data(), c.weight_shape, c.op, c.p.layout);
    switch (c.op) {
      case Op::Depthwise: depthwise_conv2d(fx.data(), c.in, pw, bias, y, c.p); break;
      case Op::Pointwise: pointwise_conv2d(fx.data(), c.in, pw, bias, y, c.p.activation, c.p.layout); break;
      case Op::Conv2d: conv2d(fx.data(), c.in, pw, bias, y, c.p); break;
    }
    return;
  }
  switch (c.op) {
    case Op::Depthwise: depthwise_conv2d(fx.data(), c.in, fw.data(), c.weight_shape, bias, y, c.p); break;
    case Op::Pointwise:
      pointwise_conv2d(fx.data(), c.in, fw.data(), c.weight_shape, bias, y, c.p.activation, c.p.layout);
      break;
    case Op::Conv2d: conv2d(fx.data(), c.in, fw.data(), c.weight_shape, bias, y, c.p); break;
  }
}

// The case on every ISA, raw and packed weights, tensors at both ends of their pages, against
// the reference run on ordinary buffers.
void expect_fenced_match(const Case& c) {
  const auto x = random_floats(count(c.in), 11), w = random_floats(count(c.weight_shape), 12);
  const auto b = random_floats(size_t(c.weight_shape[0]), 13);
  select_isa("scalar");
  const auto expected = run(c, x, w, b, false);
  const float tol = 1e-4f;
  for (const std::string& isa : isas()) {
    select_isa(isa);
    for (bool at_end : {false, true}) {
      for (bool packed : {false, true}) {
        Fenced fy(expected.size(), at_end);
        run_fenced(c, at_end, packed, x, w, b, fy.data());
        size_t bad = 0;
        for (size_t i = 0; i < expected.size(); ++i)
          bad += !(std::fabs(expected[i] - fy.data()[i]) <= tol * std::max(1.0f, std::fabs(expected[i])));
        EXPECT_EQ(bad, 0u) << isa << (at_end ? " at page end" : " at page start") << (packed ? " packed " : " raw ")
                           << kernel_name(c.op, c.in, c.weight_shape, c.p) << ": " << describe(c);
      }
    }
  }
  select_isa(isas().back());
}

TEST(GuardPages, Depthwise) {
  for (Layout layout : {Layout::NHWC, Layout::NCHW}) {
    for (int64_t k : {3, 5, 7}) {
      for (int64_t s : {1, 2}) {
        for (int64_t ch : {1, 7, 24, 40, 96}) {
          for (int64_t hw : {1, 5, 14}) {
            for (int64_t pad : {int64_t(0), k / 2, k}) {
              Case c;
              if (!make_depthwise_case(c, layout, ch, 1, hw, hw + 3, k, k, s, s, 1, 1, {pad, pad, pad, pad},
                                       int(ch + hw), ch % 2 == 0))
                continue;
              expect_fenced_match(c);
            }
          }
        }
      }
    }
    Case c;  // generic path: dilation and a depth multiplier
    ASSERT_TRUE(make_depthwise_case(c, layout, 13, 2, 9, 11, 3, 3, 1, 1, 2, 2, {2, 2, 2, 2}, 3, true));
    expect_fenced_match(c);
  }
}

TEST(GuardPages, PointwiseAndConv) {
  for (Layout layout : {Layout::NHWC, Layout::NCHW}) {
    for (auto [cin, cout, hw] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {17, 33, 7}, {40, 24, 14},
                                 {3, 50, 9}, {64, 96, 5}}) {
      Case pw;
      pw.op = Op::Pointwise;
      pw.in = {1, cin, hw, hw + 2};
      pw.weight_shape = {cout, cin};
      pw.p.layout = layout;
      pw.p.activation = activation_of(int(cin));
      expect_fenced_match(pw);
      for (int64_t s : {1, 2}) {
        Case cv = pw;
        cv.op = Op::Conv2d;
        cv.weight_shape = {cout, cin, 3, 3};
        cv.p.stride_h = cv.p.stride_w = s;
        cv.p.padding = {1, 1, 1, 1};
        expect_fenced_match(cv);
      }
    }
  }
}

}  // namespace
}  // namespace dsconv::test
