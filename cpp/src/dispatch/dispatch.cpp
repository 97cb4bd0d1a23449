#include "dispatch/dispatch.hpp"

#include <cstdlib>
#include <mutex>

namespace dsconv::detail {
namespace {

KernelTable g_table;
std::once_flag g_table_once;

void fill(KernelTable& t, Isa isa) {
  t = KernelTable{};
  t.isa = isa;
  fill_reference_kernels(t);
  switch (isa) {
    case Isa::Scalar: break;
#if defined(DSCONV_HAVE_X86_KERNELS)
    case Isa::Avx2: fill_avx2_kernels(t); break;
    case Isa::Avx512: fill_avx512_kernels(t); break;
#endif
#if defined(DSCONV_HAVE_NEON_KERNELS)
    case Isa::Neon: fill_neon_kernels(t); break;
#endif
    default: break;
  }
}

bool is_available(Isa isa) {
  for (Isa a : cpu_features().available)
    if (a == isa) return true;
  return false;
}

std::string available_list() {
  std::string s;
  for (Isa a : cpu_features().available) s += std::string(s.empty() ? "" : ", ") + isa_name(a);
  return s;
}

void init_table() {
  const char* forced = std::getenv("DSCONV_ISA");
  if (forced && *forced) {
    Isa isa = parse_isa(forced);
    if (!is_available(isa))
      throw Error(std::string("DSCONV_ISA=") + forced + ": this CPU (or this build) cannot run it; available: " +
                  available_list());
    fill(g_table, isa);
    return;
  }
  fill(g_table, cpu_features().available.back());
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return "scalar";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Neon: return "neon";
  }
  return "?";
}

Isa parse_isa(const std::string& name) {
  if (name == "scalar") return Isa::Scalar;
  if (name == "avx2") return Isa::Avx2;
  if (name == "avx512") return Isa::Avx512;
  if (name == "neon") return Isa::Neon;
  if (name == "sse")
    throw Error("ISA 'sse': dsconv has no SSE kernels; use one of: " + available_list());
  throw Error("unknown ISA '" + name + "'; this CPU runs: " + available_list());
}

const KernelTable& kernel_table() {
  std::call_once(g_table_once, init_table);
  return g_table;
}

void select_isa(Isa isa) {
  kernel_table();  // the environment's choice first, so a later call is not undone by it
  if (!is_available(isa))
    throw Error(std::string("ISA '") + isa_name(isa) + "' is not available on this CPU; available: " +
                available_list());
  fill(g_table, isa);
}

}  // namespace dsconv::detail
