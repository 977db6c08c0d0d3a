// Element-wise CPU loops, compiled once per instruction set (CPU_CAPABILITY names it).
//
// Every element goes through the same SIMD math whatever the layout and the thread
// split: contiguous operands are loaded directly, strided ones gathered into a vector,
// and the tail of a row is a partial vector rather than a scalar loop. So results are
// bitwise identical run to run and for any number of threads.
#include "cpu/kernels.h"
#include "cpu/vec.h"
#include "families.h"
#include "random_slope_work.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <utility>

namespace fusedact::cpu {
namespace CPU_CAPABILITY {
namespace {

// Loads `count` elements of one strided operand, starting at element i, into opmath vectors.
template <class scalar_t>
typename Lanes<scalar_t>::Parts load_strided(const char* base, int64_t stride, int64_t i, int64_t count) {
  using L = Lanes<scalar_t>;
  if (stride == static_cast<int64_t>(sizeof(scalar_t))) {
    return L::load(reinterpret_cast<const scalar_t*>(base) + i, count);
  }
  if (stride == 0) {  // a broadcast operand (prelu's per-channel weight along a row)
    return L::broadcast(*reinterpret_cast<const scalar_t*>(base));
  }
  alignas(64) scalar_t gathered[L::kWidth] = {};
  for (int64_t j = 0; j < count; ++j) {
    gathered[j] = *reinterpret_cast<const scalar_t*>(base + (i + j) * stride);
  }
  return L::load(gathered, count);
}

template <class scalar_t>
void store_strided(char* base, int64_t stride, int64_t i, int64_t count, const typename Lanes<scalar_t>::Parts& parts) {
  using L = Lanes<scalar_t>;
  if (stride == static_cast<int64_t>(sizeof(scalar_t))) {
    L::store(reinterpret_cast<scalar_t*>(base) + i, parts, count);
    return;
  }
  alignas(64) scalar_t buffer[L::kWidth] = {};
  L::store(buffer, parts, count);
  for (int64_t j = 0; j < count; ++j) {
    *reinterpret_cast<scalar_t*>(base + (i + j) * stride) = buffer[j];
  }
}

// One vector of elements: load(k) gives input k's opmath parts, store(k, parts) writes
// output k. Inlined into the loops below, so the contiguous loop is straight SIMD code.
template <class scalar_t, class Fn, class Load, class Store, size_t... I>
C10_ALWAYS_INLINE void step(const Fn& fn, const Load& load, const Store& store, std::index_sequence<I...>) {
  using L = Lanes<scalar_t>;
  constexpr int kOutputs = kOutputsOf<Fn>;
  const std::array<typename L::Parts, Fn::kInputs> in = {load(I)...};
  std::array<typename L::Parts, kOutputs> out;
  for (int p = 0; p < L::kParts; ++p) {
    const auto result = fn(in[I][p]...);
    if constexpr (kOutputs == 1) {
      out[0][p] = result;
    } else {
      out[0][p] = result.first;
      out[1][p] = result.second;
    }
  }
  for (int k = 0; k < kOutputs; ++k) store(k, out[k]);
}

// How many elements precede the first whole vector every output can stream to, or -1 when
// the outputs are not aligned alike.
template <class L, class Ptrs>
int64_t outputs_before_stream(const Ptrs& outputs, int count) {
  const int64_t head = elements_before_stream<typename L::Native>(outputs[0]);
  for (int k = 1; k < count; ++k) {
    if (elements_before_stream<typename L::Native>(outputs[k]) != head) return -1;
  }
  return head;
}

// A row whose outputs are contiguous and whose inputs are contiguous or, with kBroadcast,
// broadcast (stride 0: a per-channel parameter along a row, a single weight), read once.
// data[0, kOutputs) are the outputs, the inputs follow. With `stream`, outputs are written
// with streaming stores where their vectors are aligned; the caller fences.
template <bool kBroadcast, class scalar_t, class Fn>
C10_ALWAYS_INLINE void dense_row(char* const* data, const int64_t* strides, int64_t n, const Fn& fn, bool stream) {
  using L = Lanes<scalar_t>;
  using Parts = typename L::Parts;
  constexpr int kOutputs = kOutputsOf<Fn>;
  constexpr int kArgs = kOutputs + Fn::kInputs;
  constexpr auto inputs = std::make_index_sequence<Fn::kInputs>{};
  std::array<scalar_t*, kArgs> ptr;
  for (int k = 0; k < kArgs; ++k) ptr[k] = reinterpret_cast<scalar_t*>(data[k]);
  [[maybe_unused]] std::array<bool, Fn::kInputs> broadcast{};
  [[maybe_unused]] std::array<Parts, Fn::kInputs> value{};
  if constexpr (kBroadcast) {
    for (int k = 0; k < Fn::kInputs; ++k) {
      broadcast[k] = strides[kOutputs + k] == 0;
      if (broadcast[k]) value[k] = L::broadcast(*ptr[kOutputs + k]);
    }
  }
  // Input k's vector at element i (`count` elements of it, where given).
  const auto in = [&](size_t k, int64_t i, auto... count) {
    if constexpr (kBroadcast) {
      if (broadcast[k]) return value[k];
    }
    return L::load(ptr[kOutputs + k] + i, count...);
  };
  int64_t i = 0;
  const int64_t head = stream ? outputs_before_stream<L>(ptr, kOutputs) : -1;
  const bool streaming = head >= 0;
  if (head > 0) {  // up to the first aligned vector, as a row's tail is done
    i = std::min(head, n);
    step<scalar_t>(
        fn, [&](size_t k) { return in(k, 0, i); }, [&](int k, const Parts& parts) { L::store(ptr[k], parts, i); },
        inputs);
  }
  const auto store = [&](scalar_t* p, const Parts& parts) {
    if (streaming) {
      L::stream(p, parts);
    } else {
      L::store(p, parts);
    }
  };
  // Two vectors per iteration: independent work to overlap the latency of the math.
  for (; i + 2 * L::kWidth <= n; i += 2 * L::kWidth) {
    step<scalar_t>(
        fn, [&](size_t k) { return in(k, i); }, [&](int k, const Parts& parts) { store(ptr[k] + i, parts); }, inputs);
    step<scalar_t>(
        fn, [&](size_t k) { return in(k, i + L::kWidth); },
        [&](int k, const Parts& parts) { store(ptr[k] + i + L::kWidth, parts); }, inputs);
  }
  for (; i + L::kWidth <= n; i += L::kWidth) {
    step<scalar_t>(
        fn, [&](size_t k) { return in(k, i); }, [&](int k, const Parts& parts) { store(ptr[k] + i, parts); }, inputs);
  }
  if (i < n) {
    const int64_t count = n - i;
    step<scalar_t>(
        fn, [&](size_t k) { return in(k, i, count); },
        [&](int k, const Parts& parts) { L::store(ptr[k] + i, parts, count); }, inputs);
  }
}

// One row: data[0, kOutputs) are the outputs, the inputs follow.
template <class scalar_t, class Fn>
void pointwise_row(char* const* data, const int64_t* strides, int64_t n, const Fn& fn_ref, bool stream) {
  using L = Lanes<scalar_t>;
  // A local copy: the math's parameters stay loop invariants across calls into Sleef, which
  // for all the compiler knows could change the caller's functor.
  const Fn fn = fn_ref;
  constexpr int kOutputs = kOutputsOf<Fn>;
  constexpr int kArgs = kOutputs + Fn::kInputs;
  constexpr auto element = static_cast<int64_t>(sizeof(scalar_t));
  bool contiguous = true, dense = true;
  for (int k = 0; k < kArgs; ++k) {
    contiguous = contiguous && strides[k] == element;
    dense = dense && (strides[k] == element || (k >= kOutputs && strides[k] == 0));
  }
  if (contiguous) return dense_row</*kBroadcast=*/false, scalar_t>(data, strides, n, fn, stream);
  if (dense) return dense_row</*kBroadcast=*/true, scalar_t>(data, strides, n, fn, stream);
  for (int64_t i = 0; i < n; i += L::kWidth) {
    const int64_t count = std::min<int64_t>(L::kWidth, n - i);
    step<scalar_t>(
        fn, [&](size_t k) { return load_strided<scalar_t>(data[kOutputs + k], strides[kOutputs + k], i, count); },
        [&](int k, const typename L::Parts& parts) { store_strided<scalar_t>(data[k], strides[k], i, count, parts); },
        std::make_index_sequence<Fn::kInputs>{});
  }
}

// Whether to write iter's outputs with streaming stores (vec.h): not in place, where each
// output line is in the cache already, having just been read.
bool streams_outputs(const at::TensorIteratorBase& iter) {
  int64_t bytes = 0;
  for (int k = 0; k < iter.ntensors(); ++k) bytes += static_cast<int64_t>(iter.tensor_base(k).nbytes());
  if (!outgrows_cache(bytes)) return false;
  for (int out = 0; out < iter.noutputs(); ++out) {
    for (int in = iter.noutputs(); in < iter.ntensors(); ++in) {
      if (iter.data_ptr(out) == iter.data_ptr(in)) return false;
    }
  }
  return true;
}

template <class Fn>
void run_pointwise(at::TensorIteratorBase& iter, const Fn& fn) {
  constexpr int kArgs = kOutputsOf<Fn> + Fn::kInputs;
  const bool stream = streams_outputs(iter);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, iter.dtype(0), "fusedact_cpu_pointwise", [&] {
    iter.for_each([&](char** data, const int64_t* strides, int64_t n0, int64_t n1) {
      std::array<char*, kArgs> row;
      for (int64_t j = 0; j < n1; ++j) {
        for (int a = 0; a < kArgs; ++a) row[a] = data[a] + j * strides[kArgs + a];
        pointwise_row<scalar_t>(row.data(), strides, n0, fn, stream);
      }
      if (stream) streaming_stores_done();
    });
  });
}

// The random-slope ops, one block of kBlock elements at a time: the Philox rounds of its
// kLanes groups side by side (the compiler vectorizes them), their uniform numbers, then fn in
// SIMD lanes as the pointwise ops run it.
template <class Fn>
void run_random_slope(const at::Tensor& out, const std::array<at::Tensor, Fn::kInputs>& inputs, uint64_t seed,
                      const Fn& fn) {
  constexpr int kLanes = 16, kBlock = kLanes * random_slope::kGroup;
  const int64_t n = out.numel();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "fusedact_cpu_random_slope", [&] {
    using L = Lanes<scalar_t>;
    using opmath_t = at::opmath_type<scalar_t>;
    using OpmathNative = at::vec::Vectorized<opmath_t>;
    static_assert(kBlock % L::kWidth == 0 && L::kWidth == L::kParts * OpmathNative::size());
    scalar_t* y = out.data_ptr<scalar_t>();
    std::array<const scalar_t*, Fn::kInputs> x;
    for (int k = 0; k < Fn::kInputs; ++k) x[k] = inputs[k].template const_data_ptr<scalar_t>();
    const int64_t grain = at::internal::GRAIN_SIZE / random_slope::kGroup;
    at::parallel_for(0, random_slope::groups(n), grain, [&](int64_t begin, int64_t end) {
      for (int64_t g = begin; g < end; g += kLanes) {
        const int64_t first = g * random_slope::kGroup;
        const auto count = static_cast<int>(std::min({int64_t{kBlock}, n - first, (end - g) * random_slope::kGroup}));
        uint32_t bits[kBlock];
        random_slope::philox<kLanes>(static_cast<uint64_t>(g), seed, bits);
        alignas(64) opmath_t u[kBlock];
        for (int e = 0; e < kBlock; ++e) u[e] = random_slope::uniform<opmath_t>(bits[e]);
        for (int e = 0; e < count; e += L::kWidth) {
          const int lanes = std::min(L::kWidth, count - e);
          std::array<typename L::Parts, Fn::kInputs> in;
          for (int k = 0; k < Fn::kInputs; ++k) in[k] = L::load(x[k] + first + e, lanes);
          typename L::Parts result;
          for (int part = 0; part < L::kParts; ++part) {
            const typename L::Opmath up(OpmathNative::loadu(u + e + part * OpmathNative::size()));
            if constexpr (Fn::kInputs == 1) {
              result[part] = fn(up, in[0][part]);
            } else {
              result[part] = fn(up, in[0][part], in[1][part]);
            }
          }
          L::store(y + first + e, result, lanes);
        }
      }
    });
  });
}

// Registers this instruction set's kernels for every functor of the op table.
template <class... Fns>
bool register_kernels(TypeList<Fns...>) {
  ((PointwiseKernels<Fns>::by_isa[static_cast<int>(Isa::CPU_CAPABILITY)] = &run_pointwise<Fns>), ...);
  return true;
}
template <class... Fns>
bool register_random_slope_kernels(TypeList<Fns...>) {
  ((RandomSlopeKernels<Fns>::by_isa[static_cast<int>(Isa::CPU_CAPABILITY)] = &run_random_slope<Fns>), ...);
  return true;
}
const bool registered = register_kernels(PointwiseFunctors{}) && register_random_slope_kernels(RandomSlopeFunctors{});

}  // namespace

}  // namespace CPU_CAPABILITY
}  // namespace fusedact::cpu
