// The AVX-512F kernel families. An op listed here replaces the reference on this ISA.
#include "dispatch/dispatch.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

void fill_avx512_kernels(KernelTable& t) { (void)t; }

}  // namespace dsconv::detail
