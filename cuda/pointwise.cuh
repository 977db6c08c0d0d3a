// Per-thread work of the CUDA pointwise kernels, as host+device functions of
// (thread index, thread count, pointers, n): each kernel in pointwise.cu is a one-line call
// to one of them, and tests/cpp/test_cuda_thread_work.cpp runs every thread of small grids
// on the host to check that each element is written exactly once and right.
// Plain C++ (no CUDA syntax), so a host compiler can include it.
#pragma once

#include "functors.h"

#include <ATen/OpMathType.h>
#include <c10/macros/Macros.h>

#include <cstdint>
#include <type_traits>
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

// The pointers of one contiguous launch: kOutputs outputs and kInputs inputs of one dtype.
template <class scalar_t, int kInputs, int kOutputs = 1>
struct ContiguousArgs {
  scalar_t* out[kOutputs];
  const scalar_t* in[kInputs];
};

// The pointers of one strided launch: the outputs, then the inputs; offsets are in bytes.
template <int kArgs>
struct StridedArgs {
  char* data[kArgs];
};

namespace detail {

// fn on the opmath values of its inputs (load(k) gives input k): one opmath value, or a
// math::Pair of them.
template <class scalar_t, class Fn, class Load, size_t... I>
C10_HOST_DEVICE C10_ALWAYS_INLINE auto apply(const Fn& fn, const Load& load, std::index_sequence<I...>) {
  using opmath_t = at::opmath_type<scalar_t>;
  return fn(static_cast<opmath_t>(load(I))...);
}

// Output k of a result of apply, rounded to scalar_t.
template <class scalar_t, int k, class Result>
C10_HOST_DEVICE C10_ALWAYS_INLINE scalar_t output(const Result& result) {
  if constexpr (std::is_arithmetic_v<Result>) {
    return static_cast<scalar_t>(result);
  } else if constexpr (k == 0) {
    return static_cast<scalar_t>(result.first);
  } else {
    return static_cast<scalar_t>(result.second);
  }
}

// Calls store(k, output k) for every output of a result.
template <class scalar_t, int kOutputs, class Result, class Store>
C10_HOST_DEVICE C10_ALWAYS_INLINE void store_outputs(const Result& result, const Store& store) {
  store(0, output<scalar_t, 0>(result));
  if constexpr (kOutputs > 1) store(1, output<scalar_t, 1>(result));
}

// fn on each of the kVec elements of one pack per input, into one pack per output.
template <class scalar_t, int kVec, int kInputs, int kOutputs, class Fn>
C10_HOST_DEVICE C10_ALWAYS_INLINE void apply_packs(const Fn& fn, const Pack<scalar_t, kVec> (&in)[kInputs],
                                                   Pack<scalar_t, kVec> (&out)[kOutputs]) {
  FUSEDACT_UNROLL
  for (int j = 0; j < kVec; ++j) {
    const auto result = apply<scalar_t>(fn, [&](size_t k) { return in[k].v[j]; }, std::make_index_sequence<kInputs>{});
    store_outputs<scalar_t, kOutputs>(result, [&](int k, scalar_t v) { out[k].v[j] = v; });
  }
}

}  // namespace detail

// Contiguous operands: thread t handles packs t, t + T, t + 2T, ... of kVec elements,
// kUnroll packs per step (all loads first), then the n % kVec trailing elements one each.
// kVec > 1 requires every pointer to be 16-byte aligned; kVec = 1 has no requirement.
template <int kVec, class scalar_t, int kInputs, int kOutputs, class Fn>
C10_HOST_DEVICE void contiguous_thread(int64_t thread, int64_t nthreads,
                                       const ContiguousArgs<scalar_t, kInputs, kOutputs>& args, int64_t n,
                                       const Fn& fn) {
  static_assert(kOutputs == kOutputsOf<Fn>, "the launch and the functor disagree on the number of outputs");
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
        P out[kOutputs];
        detail::apply_packs(fn, in[u], out);
        FUSEDACT_UNROLL
        for (int k = 0; k < kOutputs; ++k) reinterpret_cast<P*>(args.out[k])[p] = out[k];
      }
    }
  }
  for (int64_t i = npacks * kVec + thread; i < n; i += nthreads) {
    const auto result =
        detail::apply<scalar_t>(fn, [&](size_t k) { return args.in[k][i]; }, std::make_index_sequence<kInputs>{});
    detail::store_outputs<scalar_t, kOutputs>(result, [&](int k, scalar_t v) { args.out[k][i] = v; });
  }
}

// Arbitrary strides: thread t handles elements t, t + T, ...; `offsets.get(i)` gives the
// byte offset of element i in every operand (at::cuda's OffsetCalculator, 32-bit).
template <class scalar_t, int kInputs, int kOutputs, class Offsets, class Fn>
C10_HOST_DEVICE void strided_thread(int64_t thread, int64_t nthreads, const StridedArgs<kOutputs + kInputs>& args,
                                    const Offsets& offsets, int64_t n, const Fn& fn) {
  static_assert(kOutputs == kOutputsOf<Fn>, "the launch and the functor disagree on the number of outputs");
  for (int64_t i = thread; i < n; i += nthreads) {
    const auto offset = offsets.get(static_cast<uint32_t>(i));
    auto load = [&](size_t k) {
      return *reinterpret_cast<const scalar_t*>(args.data[kOutputs + k] + offset[kOutputs + k]);
    };
    const auto result = detail::apply<scalar_t>(fn, load, std::make_index_sequence<kInputs>{});
    detail::store_outputs<scalar_t, kOutputs>(
        result, [&](int k, scalar_t v) { *reinterpret_cast<scalar_t*>(args.data[k] + offset[k]) = v; });
  }
}

// Operands laid out in rows: element c of row r of operand k at
// data[k] + offsets.get(r)[k] + c * sizeof(scalar_t), or, for an input with broadcast[k] set,
// at data[k] + offsets.get(r)[k] whatever c (one value per row: a parameter broadcast along
// the row, read once per row). The split GLU forms (gate and up the two halves of each row),
// prelu's per-channel weight over NCHW, and any op on rows sliced out of a wider tensor.
template <class scalar_t, int kInputs, int kOutputs>
struct RowArgs {
  char* data[kOutputs + kInputs];  // the outputs, then the inputs
  bool broadcast[kInputs];
};

// Thread (col_thread of ncol_threads, row_thread of nrow_threads) handles rows row_thread,
// row_thread + nrow_threads, ...; in each, packs col_thread, col_thread + ncol_threads, ... of
// kVec elements, kUnroll packs per step (all loads first), then the row_len % kVec trailing
// elements one each. kVec > 1 requires every row of every non-broadcast operand to start at a
// 16-byte aligned address; kVec = 1 has no requirement.
template <int kVec, class scalar_t, int kInputs, int kOutputs, class Offsets, class Fn>
C10_HOST_DEVICE void rows_thread(int64_t col_thread, int64_t ncol_threads, int64_t row_thread, int64_t nrow_threads,
                                 const RowArgs<scalar_t, kInputs, kOutputs>& args, const Offsets& offsets, int64_t rows,
                                 int64_t row_len, const Fn& fn) {
  static_assert(kOutputs == kOutputsOf<Fn>, "the launch and the functor disagree on the number of outputs");
  using P = Pack<scalar_t, kVec>;
  const int64_t npacks = row_len / kVec;
  for (int64_t r = row_thread; r < rows; r += nrow_threads) {
    const auto offset = offsets.get(static_cast<uint32_t>(r));
    scalar_t* out[kOutputs];
    const scalar_t* in[kInputs];
    P splat[kInputs];
    FUSEDACT_UNROLL
    for (int k = 0; k < kOutputs; ++k) out[k] = reinterpret_cast<scalar_t*>(args.data[k] + offset[k]);
    FUSEDACT_UNROLL
    for (int k = 0; k < kInputs; ++k) {
      in[k] = reinterpret_cast<const scalar_t*>(args.data[kOutputs + k] + offset[kOutputs + k]);
      if (args.broadcast[k]) {
        FUSEDACT_UNROLL
        for (int j = 0; j < kVec; ++j) splat[k].v[j] = in[k][0];
      }
    }
    for (int64_t base = col_thread; base < npacks; base += ncol_threads * kUnroll) {
      P packs[kUnroll][kInputs] = {};
      FUSEDACT_UNROLL
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t p = base + u * ncol_threads;
        if (p < npacks) {
          FUSEDACT_UNROLL
          for (int k = 0; k < kInputs; ++k) {
            packs[u][k] = args.broadcast[k] ? splat[k] : reinterpret_cast<const P*>(in[k])[p];
          }
        }
      }
      FUSEDACT_UNROLL
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t p = base + u * ncol_threads;
        if (p < npacks) {
          P result[kOutputs];
          detail::apply_packs(fn, packs[u], result);
          FUSEDACT_UNROLL
          for (int k = 0; k < kOutputs; ++k) reinterpret_cast<P*>(out[k])[p] = result[k];
        }
      }
    }
    for (int64_t c = npacks * kVec + col_thread; c < row_len; c += ncol_threads) {
      const auto value = detail::apply<scalar_t>(
          fn, [&](size_t k) { return in[k][args.broadcast[k] ? 0 : c]; }, std::make_index_sequence<kInputs>{});
      detail::store_outputs<scalar_t, kOutputs>(value, [&](int k, scalar_t v) { out[k][c] = v; });
    }
  }
}

}  // namespace fusedact::cuda
