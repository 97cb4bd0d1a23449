// dwconv NCHW on avx2: packing and kernel choice. PLACEHOLDER until the SIMD kernels land:
// it selects the reference kernel, and cpu_info()/kernel_name() say so.
#include "reference/reference.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {

LayoutKernels dwconv_nchw_avx2() {
  return {reference::packed_size, reference::pack, reference::select_dwconv};
}

}  // namespace dsconv::detail
