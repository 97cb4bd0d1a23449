// One loop nest defines every op: depthwise is a grouped convolution with groups == Cin
// (output channel c*m + j reads input channel c), pointwise one with a 1x1 kernel. The loop
// is a template over a visitor so that the counting mode walks exactly the taps the
// computing mode multiplies.
#include <cstring>

#include "dispatch/dispatch.hpp"
#include "reference/reference.hpp"

namespace dsconv::detail::reference {
namespace {

inline int64_t offset(Layout layout, int64_t c, int64_t h, int64_t w, int64_t C, int64_t H, int64_t W) {
  return layout == Layout::NCHW ? (c * H + h) * W + w : (h * W + w) * C + c;
}

template <class Visitor>
void conv_loop(const ConvGeometry& g, const WorkRange& r, Visitor& v) {
  const int64_t cin_g = g.cin_per_group(), cout_g = g.cout_per_group();
  for (int64_t oc = r.oc_begin; oc < r.oc_end; ++oc) {
    const int64_t first_ic = (oc / cout_g) * cin_g;
    for (int64_t oh = r.oh_begin; oh < r.oh_end; ++oh) {
      for (int64_t ow = 0; ow < g.wo; ++ow) {
        v.begin(oc);
        for (int64_t ic = 0; ic < cin_g; ++ic) {
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t ih = oh * g.sh - g.pad_top + i * g.dh;
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t iw = ow * g.sw - g.pad_left + j * g.dw;
              const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
              if (inside)
                v.tap(offset(g.layout, first_ic + ic, ih, iw, g.cin, g.h, g.w), ((oc * cin_g + ic) * g.kh + i) * g.kw + j);
              else
                v.padding_tap();
            }
          }
        }
        v.end(offset(g.layout, oc, oh, ow, g.cout, g.ho, g.wo));
      }
    }
  }
}

struct Compute {
  const float* x;
  const float* w;
  const float* bias;
  Activation act;
  float* y;
  double acc = 0.0;

  void begin(int64_t oc) { acc = bias ? double(bias[oc]) : 0.0; }
  void tap(int64_t xi, int64_t wi) { acc += double(x[xi]) * double(w[wi]); }
  void padding_tap() {}
  void end(int64_t yi) { y[yi] = apply_activation(float(acc), act); }
};

struct Count {
  MacCount n;
  void begin(int64_t) {}
  void tap(int64_t, int64_t) { ++n.macs, ++n.effective; }
  void padding_tap() { ++n.macs; }
  void end(int64_t) {}
};

void run(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
         const Activation& act, float* y) {
  Compute c{x, w, bias, act, y};
  conv_loop(g, r, c);
}

}  // namespace

void dwconv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
            const Activation& act, float* y) {
  run(g, r, x, w, bias, act, y);
}
void pwconv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
            const Activation& act, float* y) {
  run(g, r, x, w, bias, act, y);
}
void conv(const ConvGeometry& g, const WorkRange& r, const float* x, const float* w, const float* bias,
          const Activation& act, float* y) {
  run(g, r, x, w, bias, act, y);
}

KernelChoice select_dwconv(const ConvGeometry&) { return {"reference/dwconv", dwconv}; }
KernelChoice select_pwconv(const ConvGeometry&) { return {"reference/pwconv", pwconv}; }
KernelChoice select_conv(const ConvGeometry&) { return {"reference/conv", conv}; }

size_t packed_size(const WeightDims& d, Layout) { return size_t(d.count()); }
void pack(const WeightDims& d, Layout, const float* w, float* packed) {
  std::memcpy(packed, w, sizeof(float) * size_t(d.count()));
}

MacCount count_macs(const ConvGeometry& g) {
  Count c;
  conv_loop(g, WorkRange{0, g.cout, 0, g.ho}, c);
  return c.n;
}

}  // namespace dsconv::detail::reference

namespace dsconv::detail {

void fill_reference_kernels(KernelTable& t) {
  t.depthwise = {"reference/dwconv", reference::packed_size, reference::pack, reference::select_dwconv};
  t.pointwise = {"reference/pwconv", reference::packed_size, reference::pack, reference::select_pwconv};
  t.conv2d = {"reference/conv", reference::packed_size, reference::pack, reference::select_conv};
}

}  // namespace dsconv::detail
