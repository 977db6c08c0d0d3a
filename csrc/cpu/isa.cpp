// Run-time choice of the CPU kernels' instruction set (see isa.h).
#include "cpu/isa.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>

namespace fusedact::cpu {
namespace {

bool cpu_supports(Isa isa) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  switch (isa) {
    case Isa::AVX512_BF16:
      return cpu_supports(Isa::AVX512) && __builtin_cpu_supports("avx512bf16");
    case Isa::AVX512:
      // The flags at::vec's AVX-512 code is compiled with.
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("fma");
    case Isa::AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case Isa::DEFAULT:
      return true;
  }
  return false;
#else
  return isa == Isa::DEFAULT;
#endif
}

bool compiled(Isa isa) {
  switch (isa) {
    case Isa::AVX512_BF16:
#ifdef FUSEDACT_HAVE_AVX512_BF16
      return true;
#else
      return false;
#endif
    case Isa::AVX512:
#ifdef FUSEDACT_HAVE_AVX512
      return true;
#else
      return false;
#endif
    case Isa::AVX2:
#ifdef FUSEDACT_HAVE_AVX2
      return true;
#else
      return false;
#endif
    case Isa::DEFAULT:
      return true;
  }
  return false;
}

Isa parse(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (Isa isa : kIsas) {
    if (lower == isa_name(isa)) {
      TORCH_CHECK(compiled(isa), "fusedact: CPU instruction set '", name, "' is not compiled into this build");
      TORCH_CHECK(cpu_supports(isa), "fusedact: this CPU does not support the '", name, "' instruction set");
      return isa;
    }
  }
  TORCH_CHECK(false, "fusedact: unknown CPU instruction set '", name, "' (expected default, avx2, avx512 or avx512_bf16)");
}

Isa initial_isa() {
  if (const char* env = std::getenv("FUSEDACT_CPU_ISA"); env != nullptr && *env != '\0') {
    return parse(env);
  }
  return available_isas().back();
}

std::atomic<Isa>& current() {
  static std::atomic<Isa> isa{initial_isa()};
  return isa;
}

}  // namespace

std::string isa_name(Isa isa) {
  switch (isa) {
    case Isa::AVX512_BF16:
      return "avx512_bf16";
    case Isa::AVX512:
      return "avx512";
    case Isa::AVX2:
      return "avx2";
    case Isa::DEFAULT:
      return "default";
  }
  return "unknown";
}

std::vector<Isa> available_isas() {
  std::vector<Isa> isas;
  for (Isa isa : kIsas) {
    if (compiled(isa) && cpu_supports(isa)) isas.push_back(isa);
  }
  return isas;
}

Isa active_isa() { return current().load(std::memory_order_relaxed); }

void set_cpu_isa(const std::string& name) { current().store(parse(name)); }

}  // namespace fusedact::cpu
