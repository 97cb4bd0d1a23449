// PackedWeights' contents: a 64-byte aligned buffer in the packing format of one ISA's
// kernel family for one op and layout.
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "dispatch/dispatch.hpp"

namespace dsconv {

struct PackedWeights::Impl {
  Op op = Op::Depthwise;
  Layout layout = Layout::NCHW;
  std::vector<int64_t> weight_shape;
  detail::WeightDims dims;
  detail::Isa isa = detail::Isa::Scalar;
  std::string isa_name;
  std::unique_ptr<float, void (*)(void*)> data{nullptr, std::free};
};

namespace detail {
// A 64-byte aligned float buffer, released with std::free.
std::unique_ptr<float, void (*)(void*)> aligned_floats(size_t count);
const OpKernels& op_kernels(const KernelTable& t, Op op);
}  // namespace detail

}  // namespace dsconv
