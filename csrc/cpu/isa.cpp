// Run-time choice of the CPU kernels' instruction set (see isa.h).
#include "cpu/isa.h"

#include "cpu_features.h"  // generated: the CPU features of each set's compiler flags

#include <c10/util/Exception.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>

namespace fusedact::cpu {
namespace {

// Whether the CPU has every feature of a set: the features its kernels are compiled for.
#define FUSEDACT_HAS(feature) &&__builtin_cpu_supports(#feature)

bool cpu_supports(Isa isa) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  switch (isa) {
    case Isa::AVX512_BF16:
      return true FUSEDACT_CPU_FEATURES_AVX512_BF16(FUSEDACT_HAS);
    case Isa::AVX512:
      return true FUSEDACT_CPU_FEATURES_AVX512(FUSEDACT_HAS);
    case Isa::AVX2:
      return true FUSEDACT_CPU_FEATURES_AVX2(FUSEDACT_HAS);
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
  TORCH_CHECK(false, "fusedact: unknown CPU instruction set '", name,
              "' (expected default, avx2, avx512 or avx512_bf16)");
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

int64_t last_level_cache_bytes() {
  static const int64_t bytes = [] {
    if (const char* env = std::getenv("FUSEDACT_CPU_CACHE_BYTES"); env != nullptr && *env != '\0') {
      char* end = nullptr;
      const long long value = std::strtoll(env, &end, 10);
      TORCH_CHECK(*end == '\0' && value >= 0, "fusedact: FUSEDACT_CPU_CACHE_BYTES must be a number of bytes, got '",
                  env, "'");
      return static_cast<int64_t>(value);
    }
    int best_level = 0;
    int64_t best_bytes = int64_t{32} << 20;
    for (int index = 0;; ++index) {
      const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index) + "/";
      std::ifstream level_file(dir + "level"), size_file(dir + "size");
      int level = 0;
      int64_t kib = 0;
      char unit = 0;
      if (!(level_file >> level) || !(size_file >> kib >> unit)) break;
      if (level > best_level && unit == 'K' && kib > 0) {
        best_level = level;
        best_bytes = kib << 10;
      }
    }
    return best_bytes;
  }();
  return bytes;
}

}  // namespace fusedact::cpu
