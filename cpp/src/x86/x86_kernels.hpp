// The x86 kernel families, one OpKernels per op and ISA, defined in avx2/ and avx512/.
#pragma once

#include "kernels/kernel_types.hpp"

namespace dsconv::detail {
}  // namespace dsconv::detail
