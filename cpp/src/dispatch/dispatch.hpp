// Where one ISA's kernels are chosen: the CPU is detected once, then one table of kernel
// families per op is filled for the active ISA (the best available, or DSCONV_ISA).
#pragma once

#include <string>
#include <vector>

#include "kernels/kernel_types.hpp"

namespace dsconv::detail {

enum class Isa { Scalar, Avx2, Avx512, Neon };

const char* isa_name(Isa isa);

struct CpuFeatures {
  std::string arch;
  std::vector<std::string> features;  // e.g. "avx2", "fma", "avx512f", "neon", "fp16", "dotprod"
  std::vector<Isa> available;         // ISAs with kernels in this build that this CPU runs
};

// Detected once (CPUID + XGETBV on x86, getauxval on ARM).
const CpuFeatures& cpu_features();

struct KernelTable {
  Isa isa = Isa::Scalar;
  OpKernels depthwise, pointwise, conv2d;
};

// The active table; filled on first use from DSCONV_ISA or the best available ISA.
const KernelTable& kernel_table();

// Refills the table for `isa` (must be available). Not thread-safe.
void select_isa(Isa isa);
Isa parse_isa(const std::string& name);  // throws Error naming the valid ones

// Each ISA fills the ops it has kernels for; an op it lacks keeps the reference family
// (and cpu_info() says so). Defined in reference/ and in each ISA's folder.
void fill_reference_kernels(KernelTable& t);
void fill_avx2_kernels(KernelTable& t);
void fill_avx512_kernels(KernelTable& t);
void fill_neon_kernels(KernelTable& t);

}  // namespace dsconv::detail
