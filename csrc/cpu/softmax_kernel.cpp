// softmax, log_softmax and softmin on the CPU, forward and backward, compiled once per
// instruction set (CPU_CAPABILITY names it).
//
// Along the last dim a row is contiguous: it is reduced in SIMD lanes, then across the lanes,
// in an order that does not depend on the vector width (RowIO::reduce_row). Along another dim
// a vector holds neighbouring rows (consecutive inner indices), so every lane reduces its own
// row and no cross-lane step is needed. Each row is one thread's work in a fixed order: the
// same result for any number of threads and on every instruction set. Math in opmath (float
// for 16-bit types), from math::Softmax.
#include "cpu/kernels.h"
#include "cpu/vec.h"
#include "ops.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <array>
#include <cmath>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

namespace fusedact::cpu {
namespace CPU_CAPABILITY {
namespace {

// Elements a parallel task should hold at least.
constexpr int64_t kGrainElements = 16384;

// Calls f(std::integral_constant<int, j>) for j = 0 .. N-1, unrolled.
template <int N, class F>
C10_ALWAYS_INLINE void for_each_index(F&& f) {
  [&]<int... J>(std::integer_sequence<int, J...>)
      C10_ALWAYS_INLINE_ATTRIBUTE { (f(std::integral_constant<int, J>{}), ...); }(std::make_integer_sequence<int, N>{});
}

// Vector loads and stores of scalar_t as opmath parts, with the lanes past a partial tail
// holding a chosen value.
template <class scalar_t>
struct RowIO {
  using L = Lanes<scalar_t>;
  using V = typename L::Opmath;
  using Parts = typename L::Parts;
  using opmath_t = at::opmath_type<scalar_t>;
  static constexpr int64_t kWidth = L::kWidth;
  static constexpr int64_t kPartWidth = V::size();

  // value(element) for the first `count` elements, `fill` past them.
  template <class Value>
  static C10_ALWAYS_INLINE Parts load(const scalar_t* p, int64_t count, opmath_t fill, Value value) {
    using Native = typename V::Native;
    Parts parts;
    if (count == kWidth) {
      parts = L::load(p);
      for (int k = 0; k < L::kParts; ++k) parts[k] = value(parts[k]);
      return parts;
    }
    parts = L::load(p, count);
    for (int k = 0; k < L::kParts; ++k) {  // lane i of part k is element k * kPartWidth + i
      const Native inside = Native::arange(k * kPartWidth, 1) < Native(static_cast<opmath_t>(count));
      parts[k] = Native::blendv(Native(fill), value(parts[k]).v, inside);
    }
    return parts;
  }
  static C10_ALWAYS_INLINE Parts load(const scalar_t* p, int64_t count, opmath_t fill) {
    return load(p, count, fill, [](const V& v) C10_ALWAYS_INLINE_ATTRIBUTE { return v; });
  }
  static C10_ALWAYS_INLINE opmath_t first_lane(const Parts& parts) {
    std::array<opmath_t, kPartWidth> lanes;
    parts[0].v.store(lanes.data());
    return lanes[0];
  }
  static Parts splat(opmath_t value) {
    Parts parts;
    parts.fill(V(typename V::Native(value)));
    return parts;
  }

  // merge(acc, element(step, offset, count)) over a contiguous row of `size` elements, as a
  // splat, in the same order whatever the vector width, so that every instruction set gives
  // bitwise the same result: element e goes to slot e mod kBlock of a block of kBlock opmath
  // values (256 bytes: four AVX-512 vectors, eight AVX2 ones), each slot merges its elements in
  // row order, then the slots halve (slot i with slot i + n / 2 of n) down to one value. The
  // independent slots also keep several merges in flight. Whole steps pass kWidth itself as
  // the count, so that the inlined element's loads test nothing; the lanes past a partial step
  // must hold merge's identity.
  template <class Element, class Merge>
  static C10_ALWAYS_INLINE Parts reduce_row(int64_t size, opmath_t identity, Element element, Merge merge) {
    using Native = typename V::Native;
    constexpr int kSlots = 256 / sizeof(Native);
    constexpr int kStepsPerBlock = kSlots / L::kParts;
    static_assert(kSlots % L::kParts == 0 && (kSlots & (kSlots - 1)) == 0);
    if (size <= kWidth) {
      // One step: the other slots hold the identity, and merging with it changes nothing once
      // a value has been merged with it (x + 0 is x but -0 + 0 is +0), so the halving reduces
      // to the step's own parts, in the same order.
      const Parts parts = element(0, 0, size);
      std::array<Native, L::kParts> part;
      for (int k = 0; k < L::kParts; ++k) part[k] = merge(Native(identity), parts[k].v);
      for (int n = L::kParts / 2; n >= 1; n /= 2) {
        for (int i = 0; i < n; ++i) part[i] = merge(part[i], part[i + n]);
      }
      return splat(reduce_lanes(part[0], merge));
    }
    std::array<Native, kSlots> slot;
    slot.fill(Native(identity));
    // One step into the slots of block position j (a constant, so the slots stay in registers).
    const auto add = [&](auto j, int64_t step, int64_t count) C10_ALWAYS_INLINE_ATTRIBUTE {
      const Parts parts = element(step, step * kWidth, count);
      for (int k = 0; k < L::kParts; ++k) slot[j * L::kParts + k] = merge(slot[j * L::kParts + k], parts[k].v);
    };
    const int64_t whole = size / kWidth, rest = size - whole * kWidth;
    int64_t s = 0;
    for (; s + kStepsPerBlock <= whole; s += kStepsPerBlock) {
      for_each_index<kStepsPerBlock>([&](auto j) C10_ALWAYS_INLINE_ATTRIBUTE { add(j, s + j, kWidth); });
    }
    for_each_index<kStepsPerBlock>([&](auto j) C10_ALWAYS_INLINE_ATTRIBUTE {
      if (s + j < whole) {
        add(j, s + j, kWidth);
      } else if (s + j == whole && rest > 0) {
        add(j, s + j, rest);
      }
    });
    for (int n = kSlots / 2; n >= 1; n /= 2) {
      for (int i = 0; i < n; ++i) slot[i] = merge(slot[i], slot[i + n]);
    }
    return splat(reduce_lanes(slot[0], merge));
  }

  // merge of a vector's lanes by halving, as reduce_row merges its slots: ATen's shuffle tree
  // where it halves (float on AVX2 and AVX-512), else lane by lane.
  template <class Merge>
  static C10_ALWAYS_INLINE opmath_t reduce_lanes(const typename V::Native& v, Merge merge) {
#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
    if constexpr (std::is_same_v<opmath_t, float>) return at::vec::vec_reduce_all<float>(merge, v);
#endif
    using Native = typename V::Native;
    std::array<opmath_t, Native::size()> lanes, merged;
    v.store(lanes.data());
    for (int n = Native::size() / 2; n >= 1; n /= 2) {
      for (int i = 0; i < n; ++i) {
        merge(Native(lanes[i]), Native(lanes[i + n])).store(merged.data());
        lanes[i] = merged[0];
      }
    }
    return lanes[0];
  }
};

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// One pass over a row of `size` elements `stride` apart (stride 1: one row in lanes; stride
// inner > 1: `count` neighbouring rows, one per lane), calling body(step, offset, count).
// Whole vectors of a contiguous row pass `width` itself, so that the inlined body's loads and
// stores need no test of count.
template <class Body>
C10_ALWAYS_INLINE void for_each_step(int64_t size, int64_t stride, int64_t width, int64_t count, Body body) {
  if (stride == 1) {
    const int64_t whole = size / width;
    for (int64_t s = 0; s < whole; ++s) body(s, s * width, width);
    if (whole * width < size) body(whole, whole * width, size - whole * width);
  } else {
    for (int64_t k = 0; k < size; ++k) body(k, k * stride, count);
  }
}

// A reducing pass over `count` neighbouring rows of `size` elements `stride` apart, one per
// lane: combine(acc, element(k, offset, count)) over the rows' elements k. They feed four
// independent accumulators in turn (an element need not wait for the previous one's result,
// whose latency would bound the loop otherwise), merged in a fixed order: deterministic, and
// the same for every vector width (each lane is its own row).
template <class Parts, class Element, class Combine>
C10_ALWAYS_INLINE Parts reduce_rows_in_lanes(int64_t size, int64_t stride, int64_t count, const Parts& init,
                                             Element element, Combine combine) {
  Parts a0 = init, a1 = init, a2 = init, a3 = init, tail = init;
  int64_t k = 0;
  for (; k + 4 <= size; k += 4) {
    a0 = combine(a0, element(k, k * stride, count));
    a1 = combine(a1, element(k + 1, (k + 1) * stride, count));
    a2 = combine(a2, element(k + 2, (k + 2) * stride, count));
    a3 = combine(a3, element(k + 3, (k + 3) * stride, count));
  }
  for (; k < size; ++k) tail = combine(tail, element(k, k * stride, count));
  return combine(combine(combine(a0, a1), combine(a2, a3)), tail);
}

template <class scalar_t, class Math>
struct SoftmaxRows {
  using IO = RowIO<scalar_t>;
  using Parts = typename IO::Parts;
  using opmath_t = typename IO::opmath_t;
  static constexpr int kParts = Lanes<scalar_t>::kParts;

  // Lane-wise merges of vectors, and of Parts (function objects, so that they inline).
  template <class Lanewise>
  struct Merge {
    template <class T>
    C10_ALWAYS_INLINE at::vec::Vectorized<T> operator()(const at::vec::Vectorized<T>& a,
                                                        const at::vec::Vectorized<T>& b) const {
      return Lanewise{}(a, b);
    }
    C10_ALWAYS_INLINE Parts operator()(const Parts& a, const Parts& b) const {
      Parts r;
      for (int k = 0; k < kParts; ++k) r[k] = Lanewise{}(a[k].v, b[k].v);
      return r;
    }
  };
  struct AddLanes {
    template <class N>
    C10_ALWAYS_INLINE N operator()(const N& a, const N& b) const {
      return a + b;
    }
  };
  struct MaxLanes {  // NaN wins, as torch's max does
    template <class N>
    C10_ALWAYS_INLINE N operator()(const N& a, const N& b) const {
      return at::vec::maximum(a, b);
    }
  };
  using Add = Merge<AddLanes>;
  using Maximum = Merge<MaxLanes>;

  // A reducing pass, merge(acc, element(step, offset, count)) over the steps: the row's
  // result as a splat for one contiguous row (stride 1), each lane's own row's otherwise.
  template <class Element, class MergeFn>
  static C10_ALWAYS_INLINE Parts reduce(int64_t size, int64_t stride, int64_t count, opmath_t identity, Element element,
                                        MergeFn merge) {
    if (stride == 1) return IO::reduce_row(size, identity, element, merge);
    return reduce_rows_in_lanes(size, stride, count, IO::splat(identity), element, merge);
  }

  // Writes whole vectors of a contiguous row with streaming stores when `stream` and the row
  // is aligned for them; the caller fences.
  static C10_ALWAYS_INLINE void store(scalar_t* p, const Parts& parts, int64_t n, bool streaming) {
    if (streaming && n == IO::kWidth) {
      IO::L::stream(p, parts);
    } else {
      IO::L::store(p, parts, n);
    }
  }
  static bool streams(const scalar_t* row, int64_t stride, bool stream) {
    return stream && stride == 1 && elements_before_stream<typename IO::L::Native>(row) == 0;
  }

  // What the outputs are scaled by, from the sums: for one contiguous row (its sum a splat)
  // once, on a scalar, as torch does (a vector log per row is a third of a short row's cost);
  // per lane for rows side by side.
  static Parts normalizers(const Parts& sum, int64_t stride) {
    if (stride == 1) return IO::splat(Math{}.normalizer(IO::first_lane(sum)));
    Parts normalizer;
    for (int k = 0; k < kParts; ++k) normalizer[k] = Math{}.normalizer(sum[k]);
    return normalizer;
  }

  // Where softmax keeps its terms e^(x - max) between the pass that sums them and the one that
  // divides them (one exp per element): opmath scratch holding the row's steps.
  struct TermsInMemory {
    opmath_t* data;  // size * IO::kWidth opmath values at most
    C10_ALWAYS_INLINE void keep(int64_t step, const Parts& term) const {
      for (int k = 0; k < kParts; ++k) term[k].v.store(data + step * IO::kWidth + k * IO::kPartWidth);
    }
    C10_ALWAYS_INLINE Parts kept(int64_t step) const {
      Parts term;
      for (int k = 0; k < kParts; ++k) {
        term[k] = typename IO::V(IO::V::Native::loadu(data + step * IO::kWidth + k * IO::kPartWidth));
      }
      return term;
    }
  };

  // A source of a row's elements that hands back `value`: a row of one step, already loaded.
  template <class T>
  static auto loaded(const T& value) {
    return [&value](int64_t, int64_t) C10_ALWAYS_INLINE_ATTRIBUTE { return value; };
  }

  // The passes of the forward over a contiguous row (stride 1) or `count` rows side by side,
  // whose elements come from values(offset, n) with the lanes past n holding -inf.
  template <class Values>
  static C10_ALWAYS_INLINE void forward_passes(Values values, const TermsInMemory& terms, scalar_t* y, int64_t size,
                                               int64_t stride, int64_t count, bool streaming) {
    const Parts max = reduce(
        size, stride, count, kNegInf,
        [&](int64_t, int64_t offset, int64_t n) C10_ALWAYS_INLINE_ATTRIBUTE { return values(offset, n); }, Maximum{});
    const Parts sum = reduce(
        size, stride, count, 0,
        [&](int64_t step, int64_t offset, int64_t n) C10_ALWAYS_INLINE_ATTRIBUTE {
          const Parts v = values(offset, n);  // the lanes past n add e^-inf = 0
          Parts term;
          for (int k = 0; k < kParts; ++k) term[k] = Math{}.term(v[k], max[k]);
          if constexpr (!Math::kIsLog) terms.keep(step, term);
          return term;
        },
        Add{});
    const Parts normalizer = normalizers(sum, stride);
    for_each_step(size, stride, IO::kWidth, count,
                  [&](int64_t step, int64_t offset, int64_t n) C10_ALWAYS_INLINE_ATTRIBUTE {
                    Parts out;
                    if constexpr (Math::kIsLog) {
                      const Parts v = values(offset, n);
                      for (int k = 0; k < kParts; ++k) out[k] = Math{}.forward(v[k], max[k], normalizer[k]);
                    } else {
                      const Parts term = terms.kept(step);
                      for (int k = 0; k < kParts; ++k) out[k] = Math{}.normalize(term[k], normalizer[k]);
                    }
                    store(y + offset, out, n, streaming);
                  });
  }

  // The passes of the backward, over rows laid out as forward_passes's, whose gradient and
  // output come from values(offset, n) as a pair, the lanes past n holding 0.
  template <class Values>
  static C10_ALWAYS_INLINE void backward_passes(Values values, scalar_t* grad_input, int64_t size, int64_t stride,
                                                int64_t count, bool streaming) {
    const Parts total = reduce(
        size, stride, count, 0,
        [&](int64_t, int64_t offset, int64_t n) C10_ALWAYS_INLINE_ATTRIBUTE {
          const auto [g, v] = values(offset, n);
          Parts term;
          for (int k = 0; k < kParts; ++k) term[k] = Math{}.backward_term(g[k], v[k]);
          return term;
        },
        Add{});
    for_each_step(size, stride, IO::kWidth, count, [&](int64_t, int64_t offset, int64_t n) C10_ALWAYS_INLINE_ATTRIBUTE {
      const auto [g, v] = values(offset, n);
      Parts out;
      for (int k = 0; k < kParts; ++k) out[k] = Math{}.backward(g[k], v[k], total[k]);
      store(grad_input + offset, out, n, streaming);
    });
  }

  // A step of a forward row: Math's values of its elements (softmin's are negated), the lanes
  // past count -inf.
  static C10_ALWAYS_INLINE Parts load_values(const scalar_t* p, int64_t count) {
    return IO::load(p, count, kNegInf,
                    [](const typename IO::V& v) C10_ALWAYS_INLINE_ATTRIBUTE { return Math{}.value(v); });
  }

  // Tells the compiler that a row is one step at most, so that the passes compile to that case.
  static C10_ALWAYS_INLINE void one_step(int64_t size) {
    if (size > IO::kWidth) __builtin_unreachable();
  }

  // A contiguous row of one vector at most is loaded once and kept in registers through the
  // passes: no reloads.
  static void backward_in_registers(const scalar_t* grad, const scalar_t* y, scalar_t* grad_input, int64_t size,
                                    bool streaming) {
    one_step(size);
    const std::pair<Parts, Parts> gv{IO::load(grad, size, 0), IO::load(y, size, 0)};
    backward_passes(loaded(gv), grad_input, size, 1, 1, streaming);
  }

  // Rows starting at x / y: one contiguous row (stride 1), or `count` rows side by side; softmax
  // keeps its terms in `terms`.
  static C10_ALWAYS_INLINE void forward(const scalar_t* x, scalar_t* y, int64_t size, int64_t stride, int64_t count,
                                        opmath_t* terms, bool stream) {
    const bool streaming = streams(y, stride, stream);
    const TermsInMemory kept{terms};
    forward_passes([&](int64_t offset, int64_t n) C10_ALWAYS_INLINE_ATTRIBUTE { return load_values(x + offset, n); },
                   kept, y, size, stride, count, streaming);
  }

  static C10_ALWAYS_INLINE void backward(const scalar_t* grad, const scalar_t* y, scalar_t* grad_input, int64_t size,
                                         int64_t stride, int64_t count, bool stream) {
    const bool streaming = streams(grad_input, stride, stream);
    if (stride == 1 && size <= IO::kWidth) return backward_in_registers(grad, y, grad_input, size, streaming);
    backward_passes(
        [&](int64_t offset, int64_t n) C10_ALWAYS_INLINE_ATTRIBUTE {
          return std::pair<Parts, Parts>{IO::load(grad + offset, n, 0), IO::load(y + offset, n, 0)};
        },
        grad_input, size, stride, count, streaming);
  }
};

// The forward of rows along the last dim of at most kShortRow elements goes kWidth rows at a
// time, one per lane: transposed into a buffer on the stack (element k of row r at
// k * kWidth + r), computed as rows side by side are, and transposed back. Reducing across a
// vector's lanes once per row and pass would cost more than a short row's arithmetic. The
// bound does not depend on the instruction set, so that every one rounds alike, and is at
// least every set's kWidth, so that no forward row takes the row path in one step. (The
// backward, whose arithmetic is lighter, transposes only the terms it sums, and only for rows
// of one vector (ShortRows::backward): transposing its inputs and outputs too measured slower
// for float rows of 8 to 32 on AVX-512, and only some bfloat16 rows gained.)
constexpr int64_t kShortRow = 32;

template <class scalar_t, class Math>
struct ShortRows {
  using Rows = SoftmaxRows<scalar_t, Math>;
  using opmath_t = at::opmath_type<scalar_t>;
  static constexpr int64_t kWidth = Lanes<scalar_t>::kWidth;
  static_assert(kWidth <= kShortRow);
  template <class T>
  using Buffer = std::array<T, kShortRow * kWidth>;

  static bool takes(const RowLayout& layout) { return layout.inner == 1 && layout.size <= kShortRow; }

  // `count` rows of `size` elements into lanes, or back: ATen's transposes (a whole block of
  // kWidth rows of kWidth elements in registers where it has one for the type).
  static void transpose(const scalar_t* src, int64_t src_stride, scalar_t* dst, int64_t dst_stride, int64_t rows,
                        int64_t cols) {
    if (rows == kWidth && cols == kWidth) {
      return at::vec::transpose_mxn<scalar_t, kWidth, kWidth>(src, src_stride, dst, dst_stride);
    }
    // ATen's AVX-512 transposes of 16-bit types build their masks as (1 << n) - 1 in int, which
    // overflows for n = 31 (undefined behaviour): such a block goes in two.
    if constexpr (sizeof(scalar_t) == 2) {
      constexpr int64_t kHalf = 16;
      if (rows == 31) {
        transpose(src, src_stride, dst, dst_stride, kHalf, cols);
        return transpose(src + kHalf * src_stride, src_stride, dst + kHalf, dst_stride, rows - kHalf, cols);
      }
      if (cols == 31) {
        transpose(src, src_stride, dst, dst_stride, rows, kHalf);
        return transpose(src + kHalf, src_stride, dst + kHalf * dst_stride, dst_stride, rows, cols - kHalf);
      }
    }
    at::vec::transpose_mxn<scalar_t>(src, src_stride, dst, dst_stride, static_cast<int>(rows), static_cast<int>(cols));
  }
  static C10_ALWAYS_INLINE void to_lanes(const scalar_t* rows, int64_t size, int64_t count, scalar_t* lanes) {
    transpose(rows, size, lanes, kWidth, count, size);
  }
  static C10_ALWAYS_INLINE void from_lanes(const scalar_t* lanes, int64_t size, int64_t count, scalar_t* rows) {
    transpose(lanes, kWidth, rows, size, size, count);
  }

  static void forward(const scalar_t* x, scalar_t* y, int64_t size, int64_t count) {
    alignas(64) Buffer<scalar_t> in, out;
    alignas(64) Buffer<opmath_t> terms;
    to_lanes(x, size, count, in.data());
    Rows::forward(in.data(), out.data(), size, kWidth, count, terms.data(), /*stream=*/false);
    from_lanes(out.data(), size, count, y);
  }

  // The backward of up to kLanes rows of at most kWidth elements (one step each), bitwise as
  // the row path computes it, without its reduction across a vector's lanes for every row:
  // each row's terms merged into one opmath vector as reduce_row's one-step case merges them,
  // then the rows' halving trees side by side, the vectors transposed (lane r of vector i:
  // lane i of row r) and merged i with i + n / 2 of n, down to one vector of every row's total.
  static constexpr int64_t kLanes = RowIO<scalar_t>::kPartWidth;
  static bool backward_takes(const RowLayout& layout) { return layout.inner == 1 && layout.size <= kWidth; }
  static void backward(const scalar_t* grad, const scalar_t* y, scalar_t* grad_input, int64_t size, int64_t count) {
    using IO = RowIO<scalar_t>;
    using Native = typename IO::V::Native;
    alignas(64) std::array<opmath_t, kLanes * kLanes> merged{}, lanes;
    for (int64_t r = 0; r < count; ++r) {
      const auto g = IO::load(grad + r * size, size, 0), v = IO::load(y + r * size, size, 0);
      std::array<Native, IO::L::kParts> part;
      for (int k = 0; k < IO::L::kParts; ++k) part[k] = Native(0) + Math{}.backward_term(g[k], v[k]).v;
      for (int n = IO::L::kParts / 2; n >= 1; n /= 2) {
        for (int i = 0; i < n; ++i) part[i] = part[i] + part[i + n];
      }
      part[0].store(merged.data() + r * kLanes);
    }
    at::vec::transpose_mxn<opmath_t, kLanes, kLanes>(merged.data(), kLanes, lanes.data(), kLanes);
    for (int64_t n = kLanes / 2; n >= 1; n /= 2) {
      for (int64_t i = 0; i < n; ++i) {
        (Native::loadu(lanes.data() + i * kLanes) + Native::loadu(lanes.data() + (i + n) * kLanes))
            .store(lanes.data() + i * kLanes);
      }
    }
    for (int64_t r = 0; r < count; ++r) {
      const auto g = IO::load(grad + r * size, size, 0), v = IO::load(y + r * size, size, 0);
      const typename IO::V total(Native(lanes[r]));
      typename IO::Parts out;
      for (int k = 0; k < IO::L::kParts; ++k) out[k] = Math{}.backward(g[k], v[k], total);
      IO::L::store(grad_input + r * size, out, size);
    }
  }
};

// Runs rows(first_row_offset, count) over groups of up to `width` consecutive rows along the
// last dim.
template <class Rows>
void for_each_short_row_group(const RowLayout& layout, int64_t width, Rows rows) {
  const int64_t groups = (layout.outer + width - 1) / width;
  const int64_t grain = std::max<int64_t>(1, kGrainElements / (layout.size * width));
  at::parallel_for(0, groups, grain, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) rows(g * width * layout.size, std::min(width, layout.outer - g * width));
  });
}

// Runs rows(first_row_offset, count, scratch) over every row of the layout: one task per row
// along the last dim, per group of up to `width` neighbouring rows otherwise. With
// `needs_scratch`, scratch holds a group's elements as opmath values (size rounded up to whole
// vectors along the last dim, size * width otherwise), one buffer per parallel chunk; else it
// is null. `stream`: the rows may write with streaming stores, fenced at the end of each chunk.
template <class opmath_t, class Rows>
void for_each_row_group(const RowLayout& layout, int64_t width, bool needs_scratch, bool stream, Rows rows) {
  const bool last_dim = layout.inner == 1;
  const int64_t groups_per_outer = last_dim ? 1 : (layout.inner + width - 1) / width;
  const int64_t groups = layout.outer * groups_per_outer;
  const int64_t elements_per_group = layout.size * (last_dim ? 1 : width);
  const int64_t grain = std::max<int64_t>(1, kGrainElements / elements_per_group);
  at::parallel_for(0, groups, grain, [&](int64_t begin, int64_t end) {
    std::vector<opmath_t> scratch;
    if (needs_scratch) scratch.resize(last_dim ? (layout.size + width - 1) / width * width : layout.size * width);
    // group = o * groups_per_outer + i / width, stepped without a division per group.
    int64_t o = begin / groups_per_outer, i = begin % groups_per_outer * width;
    for (int64_t group = begin; group < end; ++group) {
      rows(o * layout.size * layout.inner + i, std::min<int64_t>(width, layout.inner - i), scratch.data());
      i += width;
      if (i >= layout.inner) i = 0, ++o;
    }
    if (stream) streaming_stores_done();
  });
}

template <class Math>
void softmax_forward(const at::Tensor& in, at::Tensor& out, const RowLayout& layout) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scalar_type(), "fusedact_cpu_softmax", [&] {
    const scalar_t* x = in.const_data_ptr<scalar_t>();
    scalar_t* y = out.data_ptr<scalar_t>();
    using opmath_t = at::opmath_type<scalar_t>;
    using Short = ShortRows<scalar_t, Math>;
    if (Short::takes(layout)) {
      return for_each_short_row_group(layout, Short::kWidth, [&](int64_t start, int64_t count) {
        Short::forward(x + start, y + start, layout.size, count);
      });
    }
    const bool stream = outgrows_cache(static_cast<int64_t>(in.nbytes() + out.nbytes()));
    for_each_row_group<opmath_t>(
        layout, Lanes<scalar_t>::kWidth, !Math::kIsLog, stream, [&](int64_t start, int64_t count, opmath_t* terms) {
          SoftmaxRows<scalar_t, Math>::forward(x + start, y + start, layout.size, layout.inner, count, terms, stream);
        });
  });
}

template <class Math>
void softmax_backward(const at::Tensor& grad, const at::Tensor& output, at::Tensor& grad_input,
                      const RowLayout& layout) {
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, output.scalar_type(), "fusedact_cpu_softmax_backward", [&] {
    const scalar_t* g = grad.const_data_ptr<scalar_t>();
    const scalar_t* y = output.const_data_ptr<scalar_t>();
    scalar_t* gi = grad_input.data_ptr<scalar_t>();
    using opmath_t = at::opmath_type<scalar_t>;
    using Short = ShortRows<scalar_t, Math>;
    if constexpr (std::is_same_v<opmath_t, float>) {
      if (Short::backward_takes(layout)) {
        return for_each_short_row_group(layout, Short::kLanes, [&](int64_t start, int64_t count) {
          Short::backward(g + start, y + start, gi + start, layout.size, count);
        });
      }
    }
    const bool stream = outgrows_cache(static_cast<int64_t>(grad.nbytes() + output.nbytes() + grad_input.nbytes()));
    for_each_row_group<opmath_t>(layout, Lanes<scalar_t>::kWidth, false, stream,
                                 [&](int64_t start, int64_t count, opmath_t*) {
                                   SoftmaxRows<scalar_t, Math>::backward(g + start, y + start, gi + start, layout.size,
                                                                         layout.inner, count, stream);
                                 });
  });
}

template <class... Ops>
bool register_kernels(TypeList<Ops...>) {
  constexpr int isa = static_cast<int>(Isa::CPU_CAPABILITY);
  ((SoftmaxKernels<typename Ops::Math>::forward_by_isa[isa] = &softmax_forward<typename Ops::Math>), ...);
  ((SoftmaxKernels<typename Ops::Math>::backward_by_isa[isa] = &softmax_backward<typename Ops::Math>), ...);
  return true;
}
const bool registered = register_kernels(SoftmaxOps{});

}  // namespace
}  // namespace CPU_CAPABILITY
}  // namespace fusedact::cpu
