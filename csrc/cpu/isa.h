// Which instruction set the CPU kernels run with: chosen once at load time (the widest
// one that both this build and this CPU support), overridable with FUSEDACT_CPU_ISA
// (default | avx2 | avx512 | avx512_bf16) or set_cpu_isa(). avx512_bf16 is avx512 that also
// rounds float to bfloat16 with the CPU's own instruction.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fusedact::cpu {

// Named as the CPU_CAPABILITY macro of the per-ISA kernel files names them.
enum class Isa { DEFAULT, AVX2, AVX512, AVX512_BF16 };
constexpr int kNumIsas = 4;
constexpr Isa kIsas[] = {Isa::DEFAULT, Isa::AVX2, Isa::AVX512, Isa::AVX512_BF16};  // narrowest first

Isa active_isa();
std::string isa_name(Isa isa);

// The instruction sets compiled into this build that this CPU can run.
std::vector<Isa> available_isas();

// Selects an instruction set by name; throws for one that is unknown or unavailable.
void set_cpu_isa(const std::string& name);

// Bytes of the largest cache the first CPU shares with its neighbours (Linux sysfs: on AMD
// EPYC one CCX's L3, where glibc's sysconf counts the whole socket's), 32 MiB where the
// system does not say; FUSEDACT_CPU_CACHE_BYTES overrides it. Ops whose operands outgrow
// it write their outputs with streaming stores (vec.h).
int64_t last_level_cache_bytes();

}  // namespace fusedact::cpu
