// The op drivers: validate, resolve the geometry, pick the kernel from the dispatch table,
// pack raw weights when needed, then run the kernel over the batch, split into tasks of
// output channels x output rows (never a split reduction, so any thread count gives the
// same bits).
#include <cstring>
#include <string>

#include "core/checked.hpp"
#include "core/geometry.hpp"
#include "core/packed.hpp"
#include "core/threads.hpp"
#include "dispatch/dispatch.hpp"

namespace dsconv {

namespace detail {

std::unique_ptr<float, void (*)(void*)> aligned_floats(size_t count) {
  const size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
  void* p = std::aligned_alloc(64, bytes ? bytes : 64);
  if (!p) throw std::bad_alloc();
  return {static_cast<float*>(p), std::free};
}

const OpKernels& op_kernels(const KernelTable& t, Op op) {
  switch (op) {
    case Op::Depthwise: return t.depthwise;
    case Op::Pointwise: return t.pointwise;
    case Op::Conv2d: return t.conv2d;
  }
  return t.conv2d;
}

namespace {

const char* op_name(Op op) {
  switch (op) {
    case Op::Depthwise: return "depthwise";
    case Op::Pointwise: return "pointwise";
    case Op::Conv2d: return "conv2d";
  }
  return "?";
}

std::shared_ptr<PackedWeights::Impl> make_packed(const float* weight, const std::vector<int64_t>& shape, Op op,
                                                 Layout layout) {
  if (!weight) throw Error("weight is null");
  const KernelTable& t = kernel_table();
  const OpKernels& k = op_kernels(t, op);
  auto impl = std::make_shared<PackedWeights::Impl>();
  impl->op = op;
  impl->layout = layout;
  impl->weight_shape = shape;
  impl->dims = weight_dims(op, shape);
  impl->isa = t.isa;
  impl->isa_name = isa_name(t.isa);
  impl->data = aligned_floats(k.packed_size(impl->dims, layout));
  k.pack(impl->dims, layout, weight, impl->data.get());
  return impl;
}

void check_packed(const PackedWeights::Impl& w, Op op, Layout layout) {
  if (w.op != op)
    throw Error(std::string("weights were packed for ") + op_name(w.op) + ", not for " + op_name(op));
  if (w.layout != layout)
    throw Error(std::string("weights were packed for layout ") + (w.layout == Layout::NCHW ? "NCHW" : "NHWC") +
                ", but the call uses " + (layout == Layout::NCHW ? "NCHW" : "NHWC"));
  if (w.isa != kernel_table().isa)
    throw Error("weights were packed for ISA '" + w.isa_name + "', but the active ISA is '" +
                isa_name(kernel_table().isa) + "': pack them again");
}

SplitRule split_rule(Op op, const ConvGeometry& g) {
  // NHWC channel blocks keep vectors whole (16 lanes, the widest); a pointwise or conv channel
  // split also halves each thread's weights.
  if (op != Op::Depthwise) return {16, false, false};
  const int64_t m = g.multiplier();
  // NCHW planes are independent: any multiple of the multiplier, and a tie goes to channel
  // blocks (no halo rows read by two threads).
  if (g.layout == Layout::NCHW) return {m, true, false};
  // NHWC: slices, so that two threads rarely write the channels of one pixel side by side.
  return {16 * m, false, true};
}

void check_pointers(const float* x, const float* y) {
  if (!x) throw Error("input is null");
  if (!y) throw Error("output is null");
}

// The shape of a call, for SplitChoice: everything its time depends on but the data.
uint64_t call_key(Op op, const ConvGeometry& g, int64_t batch, KernelFn kernel) {
  const int64_t fields[] = {int64_t(op), int64_t(g.layout), g.cin,  g.h,      g.w,        g.cout,       g.ho,
                            g.wo,        g.kh,              g.kw,   g.sh,     g.sw,       g.dh,         g.dw,
                            g.pad_top,   g.pad_left,        g.pad_bottom, g.pad_right, g.groups, batch,
                            int64_t(reinterpret_cast<uintptr_t>(kernel))};
  uint64_t h = 0;
  for (int64_t f : fields) {
    h = (h ^ uint64_t(f)) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  return h;
}

// Runs `kernel` over the batch, with its weights w in the form it reads (packed or raw).
// Tasks are (image, output-channel block, row band), or slices (threads.hpp). A call that would
// split runs on the caller alone when that measured faster for its shape (SplitChoice).
void run_batched(Op op, const ConvGeometry& g, int64_t batch, KernelFn kernel, const float* x, const float* w,
                 const float* bias, const Activation& act, float* y) {
  check_pointers(x, y);
  ScopedCall call;
  if (batch == 0 || g.ho == 0 || g.wo == 0) return;
  const int64_t in_size = input_image_size(g), out_size = output_image_size(g);
  const SplitRule rule = split_rule(op, g);
  WorkSplit s = plan_work(g, batch, rule);
  const auto run = [&] {
    const int64_t per_share = s.tasks_per_share();
    parallel_for(s.shares(), s.threads, [&](int64_t share) {
      for (int64_t task = share * per_share; task < (share + 1) * per_share; ++task) {
        const WorkSplit::Task t = s.task(task);
        if (t.empty()) continue;
        WorkRange r{t.oc_begin, t.oc_end, t.oh_begin, t.oh_end};
        kernel(g, r, x + t.image * in_size, w, bias, act, y + t.image * out_size);
      }
    });
  };
  if (!SplitChoice::asks(call_macs(g, batch), s.threads)) return run();
  const uint64_t key = call_key(op, g, batch, kernel);
  const SplitChoice::Decision d = split_choice().decide(key);
  if (!d.fork) s = plan_work(g, batch, rule, 1);
  if (!d.measure) return run();
  const int64_t start = now_ns();
  run();
  split_choice().record(key, d, now_ns() - start);
}

void run_op(Op op, const ConvGeometry& g, int64_t batch, const float* x, const PackedWeights::Impl& w,
            const float* bias, const Activation& act, float* y) {
  run_batched(op, g, batch, op_kernels(kernel_table(), op).select(g).run, x, w.data.get(), bias, act, y);
}

void run_raw(Op op, const ConvGeometry& g, int64_t batch, const float* x, const float* weight,
             const std::vector<int64_t>& shape, const float* bias, const Activation& act, float* y) {
  if (!weight) throw Error("weight is null");
  // A kernel that packs its own channel range as it goes (into a cache-resident buffer) beats
  // packing everything first, unless each thread would repack the weights for many images.
  const OpKernels& k = op_kernels(kernel_table(), op);
  const KernelChoice raw = k.select_raw && batch <= get_num_threads() ? k.select_raw(g) : KernelChoice{};
  if (raw.run) return run_batched(op, g, batch, raw.run, x, weight, bias, act, y);
  const auto packed = make_packed(weight, shape, op, g.layout);
  run_op(op, g, batch, x, *packed, bias, act, y);
}

ConvGeometry geometry_for(Op op, const TensorShape& in, const std::vector<int64_t>& ws, const ConvParams& p) {
  switch (op) {
    case Op::Depthwise: return depthwise_geometry(in, ws, p);
    case Op::Pointwise: return pointwise_geometry(in, ws, p.layout);
    case Op::Conv2d: return conv2d_geometry(in, ws, p);
  }
  throw Error("unknown op");
}

TensorShape output_shape(int64_t n, const ConvGeometry& g) { return {n, g.cout, g.ho, g.wo}; }

}  // namespace
}  // namespace detail

using namespace detail;

PackedWeights::PackedWeights(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
Op PackedWeights::op() const { return impl_->op; }
Layout PackedWeights::layout() const { return impl_->layout; }
const std::vector<int64_t>& PackedWeights::weight_shape() const { return impl_->weight_shape; }
const std::string& PackedWeights::isa() const { return impl_->isa_name; }

PackedWeights pack_weights(const float* weight, const std::vector<int64_t>& weight_shape, Op op, Layout layout) {
  return PackedWeights(make_packed(weight, weight_shape, op, layout));
}

TensorShape depthwise_output_shape(const TensorShape& in, const std::vector<int64_t>& ws, const ConvParams& p) {
  return output_shape(in.n, depthwise_geometry(in, ws, p));
}
TensorShape pointwise_output_shape(const TensorShape& in, const std::vector<int64_t>& ws) {
  return output_shape(in.n, pointwise_geometry(in, ws, Layout::NCHW));
}
TensorShape conv2d_output_shape(const TensorShape& in, const std::vector<int64_t>& ws, const ConvParams& p) {
  return output_shape(in.n, conv2d_geometry(in, ws, p));
}

void depthwise_conv2d(const float* x, const TensorShape& in, const float* weight, const std::vector<int64_t>& ws,
                      const float* bias, float* y, const ConvParams& p) {
  run_raw(Op::Depthwise, depthwise_geometry(in, ws, p), in.n, x, weight, ws, bias, p.activation, y);
}
void depthwise_conv2d(const float* x, const TensorShape& in, const PackedWeights& w, const float* bias, float* y,
                      const ConvParams& p) {
  check_packed(w.impl(), Op::Depthwise, p.layout);
  run_op(Op::Depthwise, depthwise_geometry(in, w.weight_shape(), p), in.n, x, w.impl(), bias, p.activation, y);
}

void pointwise_conv2d(const float* x, const TensorShape& in, const float* weight, const std::vector<int64_t>& ws,
                      const float* bias, float* y, Activation act, Layout layout) {
  run_raw(Op::Pointwise, pointwise_geometry(in, ws, layout), in.n, x, weight, ws, bias, act, y);
}
void pointwise_conv2d(const float* x, const TensorShape& in, const PackedWeights& w, const float* bias, float* y,
                      Activation act, Layout layout) {
  check_packed(w.impl(), Op::Pointwise, layout);
  run_op(Op::Pointwise, pointwise_geometry(in, w.weight_shape(), layout), in.n, x, w.impl(), bias, act, y);
}

void conv2d(const float* x, const TensorShape& in, const float* weight, const std::vector<int64_t>& ws,
            const float* bias, float* y, const ConvParams& p) {
  run_raw(Op::Conv2d, conv2d_geometry(in, ws, p), in.n, x, weight, ws, bias, p.activation, y);
}
void conv2d(const float* x, const TensorShape& in, const PackedWeights& w, const float* bias, float* y,
            const ConvParams& p) {
  check_packed(w.impl(), Op::Conv2d, p.layout);
  run_op(Op::Conv2d, conv2d_geometry(in, w.weight_shape(), p), in.n, x, w.impl(), bias, p.activation, y);
}

void separable_conv2d(const float* x, const TensorShape& in, const PackedWeights& dw_weight,
                      const PackedWeights& pw_weight, const float* dw_bias, const float* pw_bias, float* y,
                      const SeparableParams& p) {
  const Layout layout = p.depthwise.layout;
  check_packed(dw_weight.impl(), Op::Depthwise, layout);
  check_packed(pw_weight.impl(), Op::Pointwise, layout);
  const ConvGeometry dg = depthwise_geometry(in, dw_weight.weight_shape(), p.depthwise);
  const ConvGeometry pg = pointwise_geometry(output_shape(in.n, dg), pw_weight.weight_shape(), layout);
  check_pointers(x, y);
  const auto mid = aligned_floats(size_t(checked_mul(in.n, output_image_size(dg), "intermediate size")));
  run_op(Op::Depthwise, dg, in.n, x, dw_weight.impl(), dw_bias, p.depthwise.activation, mid.get());
  run_op(Op::Pointwise, pg, in.n, mid.get(), pw_weight.impl(), pw_bias, p.activation, y);
}

void separable_conv2d(const float* x, const TensorShape& in, const float* dw_weight,
                      const std::vector<int64_t>& dw_shape, const float* pw_weight,
                      const std::vector<int64_t>& pw_shape, const float* dw_bias, const float* pw_bias, float* y,
                      const SeparableParams& p) {
  const Layout layout = p.depthwise.layout;
  separable_conv2d(x, in, pack_weights(dw_weight, dw_shape, Op::Depthwise, layout),
                   pack_weights(pw_weight, pw_shape, Op::Pointwise, layout), dw_bias, pw_bias, y, p);
}

std::string kernel_name(Op op, const TensorShape& in, const std::vector<int64_t>& ws, const ConvParams& p) {
  return op_kernels(kernel_table(), op).select(geometry_for(op, in, ws, p)).name;
}

CpuInfo cpu_info() {
  const KernelTable& t = kernel_table();
  const CpuFeatures& f = cpu_features();
  CpuInfo info;
  info.isa = isa_name(t.isa);
  for (Isa a : f.available) info.available.push_back(isa_name(a));
  info.features = f.features;
  info.arch = f.arch;
  info.threads = get_num_threads();
  info.openmp = openmp_enabled();
  info.kernels = {{"depthwise", t.depthwise.family}, {"pointwise", t.pointwise.family}, {"conv2d", t.conv2d.family}};
  return info;
}

void select_isa(const std::string& isa) { detail::select_isa(parse_isa(isa)); }

}  // namespace dsconv
