// Per-thread work of the CUDA pointwise kernels, as host+device functions of
// (thread index, thread count, pointers, n): each kernel in pointwise.cu is a one-line call
// to one of them, and tests/cpp/test_cuda_thread_work.cpp runs every thread of small grids
// on the host to check that each element is written exactly once and right.
// Plain C++ (no CUDA syntax), so a host compiler can include it.
#pragma once

#include <ATen/OpMathType.h>
#include <c10/macros/Macros.h>

#include <cstdint>
#include <utility>

// `#pragma unroll` for the device pass only (host compilers warn on it).
#if defined(__CUDA_ARCH__)
#define FUSEDACT_UNROLL _Pragma("unroll")
#else
#define FUSEDACT_UNROLL
#endif

namespace fusedact::cuda {

constexpr int kThreadsPerBlock = 256;
// Independent 16-byte loads a thread issues before using the first: enough bytes in
// flight to cover DRAM latency on the streaming ops.
constexpr int kUnroll = 4;

// Elements per 16-byte access.
template <class T>
constexpr int kVecSize = 16 / static_cast<int>(sizeof(T));

template <class T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// The pointers of one contiguous launch: an output and kInputs inputs of one dtype.
template <class scalar_t, int kInputs>
struct ContiguousArgs {
  scalar_t* out;
  const scalar_t* in[kInputs];
};

// The pointers of one strided launch: operand 0 is the output; offsets are in bytes.
template <int kArgs>
struct StridedArgs {
  char* data[kArgs];
};

namespace detail {

template <class scalar_t, class Fn, class Load, size_t... I>
C10_HOST_DEVICE C10_ALWAYS_INLINE scalar_t apply(const Fn& fn, const Load& load, std::index_sequence<I...>) {
  using opmath_t = at::opmath_type<scalar_t>;
  return static_cast<scalar_t>(fn(static_cast<opmath_t>(load(I))...));
}

}  // namespace detail

// Contiguous operands: thread t handles packs t, t + T, t + 2T, ... of kVec elements,
// kUnroll packs per step (all loads first), then the n % kVec trailing elements one each.
// kVec > 1 requires every pointer to be 16-byte aligned; kVec = 1 has no requirement.
template <int kVec, class scalar_t, int kInputs, class Fn>
C10_HOST_DEVICE void contiguous_thread(int64_t thread, int64_t nthreads, const ContiguousArgs<scalar_t, kInputs>& args,
                                       int64_t n, const Fn& fn) {
  using P = Pack<scalar_t, kVec>;
  const int64_t npacks = n / kVec;
  for (int64_t base = thread; base < npacks; base += nthreads * kUnroll) {
    P in[kUnroll][kInputs] = {};
FUSEDACT_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t p = base + u * nthreads;
      if (p < npacks) {
FUSEDACT_UNROLL
        for (int k = 0; k < kInputs; ++k) in[u][k] = reinterpret_cast<const P*>(args.in[k])[p];
      }
    }
FUSEDACT_UNROLL
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t p = base + u * nthreads;
      if (p < npacks) {
        P out;
FUSEDACT_UNROLL
        for (int j = 0; j < kVec; ++j) {
          out.v[j] = detail::apply<scalar_t>(fn, [&](size_t k) { return in[u][k].v[j]; },
                                             std::make_index_sequence<kInputs>{});
        }
        reinterpret_cast<P*>(args.out)[p] = out;
      }
    }
  }
  for (int64_t i = npacks * kVec + thread; i < n; i += nthreads) {
    args.out[i] = detail::apply<scalar_t>(fn, [&](size_t k) { return args.in[k][i]; },
                                          std::make_index_sequence<kInputs>{});
  }
}

// Arbitrary strides: thread t handles elements t, t + T, ...; `offsets.get(i)` gives the
// byte offset of element i in every operand (at::cuda's OffsetCalculator, 32-bit).
template <class scalar_t, int kInputs, class Offsets, class Fn>
C10_HOST_DEVICE void strided_thread(int64_t thread, int64_t nthreads, const StridedArgs<1 + kInputs>& args,
                                    const Offsets& offsets, int64_t n, const Fn& fn) {
  for (int64_t i = thread; i < n; i += nthreads) {
    const auto offset = offsets.get(static_cast<uint32_t>(i));
    auto load = [&](size_t k) { return *reinterpret_cast<const scalar_t*>(args.data[1 + k] + offset[1 + k]); };
    *reinterpret_cast<scalar_t*>(args.data[0] + offset[0]) =
        detail::apply<scalar_t>(fn, load, std::make_index_sequence<kInputs>{});
  }
}

}  // namespace fusedact::cuda
