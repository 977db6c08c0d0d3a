// The per-element work of the random-slope kernels (random_slope.h), as host+device functions,
// shared by the CPU kernel (cpu/pointwise_kernel.cpp), the CUDA kernel and its host-side test
// (tests/cpp/test_cuda_thread_work.cpp). Plain C++ (no CUDA syntax), always inlined: the CPU
// kernel compiles it once per instruction set, and an out-of-line copy would be one function
// for all of them.
//
// Element i's random number is word i % 4 of the Philox 4x32-10 block (Salmon et al. 2011;
// ATen's at::philox_engine, which the tests check it against) keyed by the seed at counter
// (0, i / 4): a function of (seed, i) alone, so forward and backward draw the same numbers
// without storing them, in any order, on any number of threads, on the CPU and on the GPU
// alike.
#pragma once

#include <ATen/OpMathType.h>
#include <c10/macros/Macros.h>

#include <cstdint>

namespace fusedact::random_slope {

// Elements per Philox block.
constexpr int kGroup = 4;

C10_HOST_DEVICE inline int64_t groups(int64_t n) { return (n + kGroup - 1) / kGroup; }

// Philox 4x32-10 of blocks g, g + 1, ..., g + kLanes - 1 (block b: the counter (0, 0, b_lo,
// b_hi)) under key seed: word w of block g + l into out[kGroup l + w], the random bits of
// element kGroup (g + l) + w. Plain loops over the lanes, which a CPU compiler turns into SIMD
// multiplies (kept from unrolling them into scalar code).
template <int kLanes>
C10_HOST_DEVICE C10_ALWAYS_INLINE void philox(uint64_t g, uint64_t seed, uint32_t (&out)[kLanes * kGroup]) {
  constexpr uint32_t kMulA = 0xD2511F53, kMulB = 0xCD9E8D57, kWeylA = 0x9E3779B9, kWeylB = 0xBB67AE85;
  uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    c0[l] = 0;
    c1[l] = 0;
    c2[l] = static_cast<uint32_t>(g + l);
    c3[l] = static_cast<uint32_t>((g + l) >> 32);
  }
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  for (int round = 0; round < 10; ++round) {
#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 1
#endif
    for (int l = 0; l < kLanes; ++l) {
      const uint64_t a = static_cast<uint64_t>(kMulA) * c0[l], b = static_cast<uint64_t>(kMulB) * c2[l];
      c0[l] = static_cast<uint32_t>(b >> 32) ^ c1[l] ^ k0;
      c1[l] = static_cast<uint32_t>(b);
      c2[l] = static_cast<uint32_t>(a >> 32) ^ c3[l] ^ k1;
      c3[l] = static_cast<uint32_t>(a);
    }
    k0 += kWeylA;
    k1 += kWeylB;
  }
  for (int l = 0; l < kLanes; ++l) {
    out[kGroup * l] = c0[l];
    out[kGroup * l + 1] = c1[l];
    out[kGroup * l + 2] = c2[l];
    out[kGroup * l + 3] = c3[l];
  }
}

// A uniform number in [0, 1) from 32 random bits: 24 of them in float, all 32 in double.
template <class T>
C10_HOST_DEVICE C10_ALWAYS_INLINE T uniform(uint32_t bits) {
  if constexpr (sizeof(T) == sizeof(float)) {
    return static_cast<float>(bits >> 8) * 0x1p-24f;
  } else {
    return static_cast<double>(bits) * 0x1p-32;
  }
}

// The contiguous operands of one call: the output, then kInputs inputs of one dtype.
template <class scalar_t, int kInputs>
struct Args {
  scalar_t* out;
  const scalar_t* in[kInputs];
};

// Elements [kGroup g, kGroup (g + 1)) of n: out[i] = fn(u_i, in[0][i], ...), u_i uniform in
// [0, 1), in the opmath type of scalar_t.
template <class scalar_t, int kInputs, class Fn>
C10_HOST_DEVICE C10_ALWAYS_INLINE void group(int64_t g, const Args<scalar_t, kInputs>& args, int64_t n, uint64_t seed,
                                             const Fn& fn) {
  using opmath_t = at::opmath_type<scalar_t>;
  uint32_t bits[kGroup];
  philox<1>(static_cast<uint64_t>(g), seed, bits);
  for (int j = 0; j < kGroup; ++j) {
    const int64_t i = g * kGroup + j;
    if (i >= n) return;
    const opmath_t u = uniform<opmath_t>(bits[j]);
    if constexpr (kInputs == 1) {
      args.out[i] = static_cast<scalar_t>(fn(u, static_cast<opmath_t>(args.in[0][i])));
    } else {
      args.out[i] =
          static_cast<scalar_t>(fn(u, static_cast<opmath_t>(args.in[0][i]), static_cast<opmath_t>(args.in[1][i])));
    }
  }
}

// GPU thread t of nthreads: groups t, t + nthreads, ...
template <class scalar_t, int kInputs, class Fn>
C10_HOST_DEVICE void thread(int64_t t, int64_t nthreads, const Args<scalar_t, kInputs>& args, int64_t n, uint64_t seed,
                            const Fn& fn) {
  for (int64_t g = t; g < groups(n); g += nthreads) group(g, args, n, seed, fn);
}

}  // namespace fusedact::random_slope
