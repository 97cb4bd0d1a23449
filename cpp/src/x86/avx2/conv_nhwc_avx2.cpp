// conv NHWC on avx2: the direct convolution template of conv_simd.hpp (vectors along cin,
// L/4 pixels x 4 output channels per tile) and its packing.
#include "x86/conv_simd.hpp"
#include "x86/x86_kernels.hpp"

namespace dsconv::detail {
namespace {

KernelChoice select(const ConvGeometry&) { return {"avx2/conv_nhwc", conv_simd::conv_nhwc<conv_simd::Avx2>}; }

}  // namespace

LayoutKernels conv_nhwc_avx2() {
  return {conv_simd::nhwc_packed_size<conv_simd::Avx2>, conv_simd::nhwc_pack<conv_simd::Avx2>, select};
}

}  // namespace dsconv::detail
