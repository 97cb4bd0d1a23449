// The NEON kernel families (aarch64 and armv7). An op listed here replaces the reference.
#include "dispatch/dispatch.hpp"

namespace dsconv::detail {

void fill_neon_kernels(KernelTable& t) { (void)t; }

}  // namespace dsconv::detail
