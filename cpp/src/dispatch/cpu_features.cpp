// CPU detection. x86: CPUID says what the core implements, XGETBV says whether the OS saves
// the wider registers on a context switch — both are needed before AVX2 / AVX-512 code runs.
// ARM: the kernel's HWCAP bits (getauxval).
#include "dispatch/dispatch.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) || defined(__arm__)
#include <sys/auxv.h>
#endif

namespace dsconv::detail {
namespace {

#if defined(__x86_64__) || defined(__i386__)
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
}

void detect(CpuFeatures& f) {
  f.arch = "x86_64";
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
  const bool fma = ecx & (1u << 12);
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  unsigned ebx7 = 0, ecx7 = 0, edx7 = 0, eax7 = 0;
  __get_cpuid_count(7, 0, &eax7, &ebx7, &ecx7, &edx7);
  const bool avx2 = ebx7 & (1u << 5);
  const bool avx512f = ebx7 & (1u << 16);
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;            // SSE and AVX state
  const bool os_zmm = os_ymm && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
  if (fma) f.features.push_back("fma");
  if (avx) f.features.push_back("avx");
  if (avx2) f.features.push_back("avx2");
  if (avx512f) f.features.push_back("avx512f");
  if (!os_ymm && (avx2 || avx)) f.features.push_back("os-no-ymm");
  if (!os_zmm && avx512f) f.features.push_back("os-no-zmm");
#if defined(DSCONV_HAVE_X86_KERNELS)
  if (avx && avx2 && fma && os_ymm) f.available.push_back(Isa::Avx2);
  if (avx && avx2 && fma && avx512f && os_zmm) f.available.push_back(Isa::Avx512);
#endif
}
#elif defined(__aarch64__)
void detect(CpuFeatures& f) {
  f.arch = "aarch64";
  const unsigned long hw = getauxval(AT_HWCAP);
  // HWCAP bits from the Linux arm64 ABI (asm/hwcap.h); spelled out for old libc headers.
  if (hw & (1ul << 1)) f.features.push_back("neon");     // ASIMD
  if (hw & (1ul << 10)) f.features.push_back("fp16");    // ASIMDHP: fp16 arithmetic
  if (hw & (1ul << 20)) f.features.push_back("dotprod");  // ASIMDDP
#if defined(DSCONV_HAVE_NEON_KERNELS)
  if (hw & (1ul << 1)) f.available.push_back(Isa::Neon);
#endif
}
#elif defined(__arm__)
void detect(CpuFeatures& f) {
  f.arch = "armv7";
  const unsigned long hw = getauxval(AT_HWCAP);
  const bool neon = hw & (1ul << 12);   // HWCAP_NEON
  const bool vfpv4 = hw & (1ul << 16);  // HWCAP_VFPv4: fused multiply-add
  if (neon) f.features.push_back("neon");
  if (vfpv4) f.features.push_back("vfpv4");
#if defined(DSCONV_HAVE_NEON_KERNELS)
  if (neon && vfpv4) f.available.push_back(Isa::Neon);
#endif
}
#else
void detect(CpuFeatures& f) { f.arch = "unknown"; }
#endif

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = [] {
    CpuFeatures r;
    r.available.push_back(Isa::Scalar);
    detect(r);
    return r;
  }();
  return f;
}

}  // namespace dsconv::detail
