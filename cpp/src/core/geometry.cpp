#include "core/geometry.hpp"

#include <string>

#include "core/checked.hpp"

namespace dsconv::detail {
namespace {

std::string str(int64_t v) { return std::to_string(v); }

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "(";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + str(s[i]);
  return r + (s.size() == 1 ? ",)" : ")");
}

void check_positive(const char* what, int64_t v) {
  if (v < 1) throw Error(std::string(what) + " must be >= 1, got " + str(v));
}

void check_conv_params(const ConvParams& p) {
  check_positive("stride (height)", p.stride_h);
  check_positive("stride (width)", p.stride_w);
  check_positive("dilation (height)", p.dilation_h);
  check_positive("dilation (width)", p.dilation_w);
  const Padding& q = p.padding;
  if (!p.same_padding && (q.top < 0 || q.bottom < 0 || q.left < 0 || q.right < 0))
    throw Error("padding must be >= 0, got (top, bottom, left, right) = (" + str(q.top) + ", " + str(q.bottom) +
                ", " + str(q.left) + ", " + str(q.right) + ")");
  if (p.activation.kind == ActivationKind::Clamp && !(p.activation.lo <= p.activation.hi))
    throw Error("clamp activation needs lo <= hi");
}

ConvGeometry spatial_geometry(const TensorShape& in, int64_t cout, int64_t kh, int64_t kw, const ConvParams& p) {
  check_conv_params(p);
  ConvGeometry g;
  g.layout = p.layout;
  g.cin = in.c, g.h = in.h, g.w = in.w, g.cout = cout;
  g.kh = kh, g.kw = kw, g.sh = p.stride_h, g.sw = p.stride_w, g.dh = p.dilation_h, g.dw = p.dilation_w;
  const AxisPlan ph = plan_axis("height", in.h, kh, p.stride_h, p.dilation_h, p.padding.top, p.padding.bottom,
                                p.same_padding);
  const AxisPlan pw = plan_axis("width", in.w, kw, p.stride_w, p.dilation_w, p.padding.left, p.padding.right,
                                p.same_padding);
  g.ho = ph.out, g.pad_top = ph.pad_before, g.pad_bottom = ph.pad_after;
  g.wo = pw.out, g.pad_left = pw.pad_before, g.pad_right = pw.pad_after;
  checked_mul(in.n, output_image_size(g), "output size");
  return g;
}

}  // namespace

AxisPlan plan_axis(const char* axis, int64_t in, int64_t k, int64_t stride, int64_t dilation, int64_t pad_before,
                   int64_t pad_after, bool same) {
  const int64_t span = checked_add(checked_mul(k - 1, dilation, "dilated kernel"), 1, "dilated kernel");
  AxisPlan a;
  if (same) {
    a.out = (in + stride - 1) / stride;
    const int64_t needed = checked_add(checked_mul(a.out - 1, stride, "padding"), span, "padding") - in;
    const int64_t total = needed > 0 ? needed : 0;
    a.pad_before = total / 2;
    a.pad_after = total - a.pad_before;
    return a;
  }
  const int64_t padded = checked_add(checked_add(in, pad_before, "padded input"), pad_after, "padded input");
  if (span > padded)
    throw Error(std::string("kernel ") + axis + " " + str(k) + " (dilated span " + str(span) +
                ") is larger than the padded input " + axis + " " + str(padded));
  a.out = (padded - span) / stride + 1;
  a.pad_before = pad_before;
  a.pad_after = pad_after;
  return a;
}

void check_input(const TensorShape& in) {
  if (in.n < 0) throw Error("input batch must be >= 0, got " + str(in.n));
  check_positive("input channels", in.c);
  check_positive("input height", in.h);
  check_positive("input width", in.w);
  checked_product({in.n, in.c, in.h, in.w}, "input size");
}

WeightDims weight_dims(Op op, const std::vector<int64_t>& s) {
  WeightDims d;
  if (op == Op::Pointwise && s.size() == 2) {
    d.cout = s[0], d.cin_per_group = s[1];
  } else if (s.size() == 4) {
    d.cout = s[0], d.cin_per_group = s[1], d.kh = s[2], d.kw = s[3];
  } else {
    throw Error(std::string("weight must have 4 dimensions") + (op == Op::Pointwise ? " (or 2 for pointwise)" : "") +
                ", got shape " + shape_str(s));
  }
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] < 1) throw Error("weight dimension " + str(int64_t(i)) + " must be >= 1, got shape " + shape_str(s));
  if (op == Op::Depthwise && d.cin_per_group != 1)
    throw Error("depthwise weight dimension 1 must be 1 (shape (C*m, 1, kH, kW)), got shape " + shape_str(s));
  if (op == Op::Pointwise && (d.kh != 1 || d.kw != 1))
    throw Error("pointwise weight must be (Cout, Cin) or (Cout, Cin, 1, 1), got shape " + shape_str(s));
  checked_product({d.cout, d.cin_per_group, d.kh, d.kw}, "weight size");
  return d;
}

ConvGeometry depthwise_geometry(const TensorShape& in, const std::vector<int64_t>& ws, const ConvParams& p) {
  check_input(in);
  const WeightDims d = weight_dims(Op::Depthwise, ws);
  if (d.cout % in.c != 0)
    throw Error("depthwise weight dimension 0 (" + str(d.cout) + " = C*m) must be a multiple of the input channels C=" +
                str(in.c));
  ConvGeometry g = spatial_geometry(in, d.cout, d.kh, d.kw, p);
  g.groups = in.c;
  return g;
}

ConvGeometry pointwise_geometry(const TensorShape& in, const std::vector<int64_t>& ws, Layout layout) {
  check_input(in);
  const WeightDims d = weight_dims(Op::Pointwise, ws);
  if (d.cin_per_group != in.c)
    throw Error("pointwise weight dimension 1 (Cin=" + str(d.cin_per_group) + ") disagrees with the input channels (" +
                str(in.c) + ")");
  ConvParams p;
  p.layout = layout;
  return spatial_geometry(in, d.cout, 1, 1, p);
}

ConvGeometry conv2d_geometry(const TensorShape& in, const std::vector<int64_t>& ws, const ConvParams& p) {
  check_input(in);
  const WeightDims d = weight_dims(Op::Conv2d, ws);
  check_positive("groups", p.groups);
  if (in.c % p.groups != 0)
    throw Error("input channels (" + str(in.c) + ") must be divisible by groups (" + str(p.groups) + ")");
  if (d.cout % p.groups != 0)
    throw Error("weight dimension 0 (Cout=" + str(d.cout) + ") must be divisible by groups (" + str(p.groups) + ")");
  if (d.cin_per_group != in.c / p.groups)
    throw Error("weight dimension 1 (" + str(d.cin_per_group) + ") must equal input channels / groups (" +
                str(in.c) + " / " + str(p.groups) + " = " + str(in.c / p.groups) + ")");
  ConvGeometry g = spatial_geometry(in, d.cout, d.kh, d.kw, p);
  g.groups = p.groups;
  return g;
}

int64_t input_image_size(const ConvGeometry& g) { return checked_product({g.cin, g.h, g.w}, "input size"); }
int64_t output_image_size(const ConvGeometry& g) { return checked_product({g.cout, g.ho, g.wo}, "output size"); }

}  // namespace dsconv::detail
