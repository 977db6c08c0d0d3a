// Per-thread work of the CUDA softmax kernels, as host+device functions: cuda/softmax.cu calls
// them with a group of lanes per row holding it in registers (short rows along the last dim),
// or a warp, a block or a single thread per row, and tests/cpp/test_cuda_thread_work.cpp
// runs them for every thread on the host. A "rows" struct says what a row reduces to (Acc),
// how two partial results merge, and what each element becomes once the row's total is known;
// only the warp shuffles and shared memory that merge the threads' parts are device-only.
// Plain C++ (no CUDA syntax).
#pragma once

#include "pointwise.cuh"
#include "row_layout.h"

#include <ATen/AccumulateType.h>
#include <c10/macros/Macros.h>
#include <fusedact/math.h>

#include <cstdint>

namespace fusedact::cuda {

// softmax / log_softmax / softmin forward (Math): a row reduces to its max and sum of
// e^(x - max), x Math's value of the element. The output is out_t: scalar_t, or float for a
// float16 / bfloat16 input (half_to_float).
template <class scalar_t, class Math, class out_t = scalar_t>
struct SoftmaxForwardRows {
  using acc_t = at::acc_type<scalar_t, /*is_cuda=*/true>;
  using Acc = math::RowStats<acc_t>;

  const scalar_t* in;
  out_t* out;
  RowLayout layout;

  C10_HOST_DEVICE static Acc identity() { return Acc::empty(); }
  C10_HOST_DEVICE static Acc combine(const Acc& a, const Acc& b) { return merge(a, b); }
  C10_HOST_DEVICE acc_t value(int64_t i) const { return Math{}.value(static_cast<acc_t>(in[i])); }
  C10_HOST_DEVICE Acc element(int64_t i) const { return Acc::of(value(i)); }
  // What write needs, once per row: the max and Math's normalizer of the sum.
  C10_HOST_DEVICE static Acc finish(const Acc& total) { return {total.max, Math{}.normalizer(total.sum)}; }
  C10_HOST_DEVICE void write(int64_t i, const Acc& finished) const {
    out[i] = static_cast<out_t>(Math{}.forward(value(i), finished.max, finished.sum));
  }
};

// Their backward, from the output: a row reduces to the sum of Math's backward_term.
template <class scalar_t, class Math>
struct SoftmaxBackwardRows {
  using acc_t = at::acc_type<scalar_t, /*is_cuda=*/true>;
  using Acc = acc_t;

  const scalar_t* grad;
  const scalar_t* output;
  scalar_t* grad_input;
  RowLayout layout;

  C10_HOST_DEVICE static Acc identity() { return 0; }
  C10_HOST_DEVICE static Acc combine(Acc a, Acc b) { return a + b; }
  C10_HOST_DEVICE Acc element(int64_t i) const {
    return Math{}.backward_term(static_cast<acc_t>(grad[i]), static_cast<acc_t>(output[i]));
  }
  C10_HOST_DEVICE static Acc finish(Acc total) { return total; }
  C10_HOST_DEVICE void write(int64_t i, Acc total) const {
    grad_input[i] =
        static_cast<scalar_t>(Math{}.backward(static_cast<acc_t>(grad[i]), static_cast<acc_t>(output[i]), total));
  }
};

// Lane `lane` of the `nlanes` threads that share row r: its elements lane, lane + nlanes, ...
// reduced in order.
template <class Rows>
C10_HOST_DEVICE typename Rows::Acc row_reduce_thread(const Rows& rows, int64_t r, int64_t lane, int64_t nlanes) {
  const int64_t start = rows.layout.row_start(r), stride = rows.layout.inner;
  auto acc = Rows::identity();
  for (int64_t k = lane; k < rows.layout.size; k += nlanes) acc = Rows::combine(acc, rows.element(start + k * stride));
  return acc;
}

// The same lane writing its elements of row r, given the row's total.
template <class Rows>
C10_HOST_DEVICE void row_write_thread(const Rows& rows, int64_t r, int64_t lane, int64_t nlanes,
                                      const typename Rows::Acc& total) {
  const int64_t start = rows.layout.row_start(r), stride = rows.layout.inner;
  const auto finished = Rows::finish(total);
  for (int64_t k = lane; k < rows.layout.size; k += nlanes) rows.write(start + k * stride, finished);
}

// ---- rows held in registers ----------------------------------------------------------------
// A row along the last dim of at most group * kPacks * kVec elements, held by `group` lanes
// (a power of two up to a warp): lane `lane` holds elements (p * group + lane) * kVec + j, read
// with one 16-byte load per pack (the row starts 16-byte aligned). Each element is read once,
// its exp taken once, its result written once; the group's lanes merge their maxima and sums
// (device: warp shuffles within the group).
template <int kVec, int kPacks, class acc_t>
struct LaneValues {
  acc_t v[kPacks][kVec];
};

// The lane's elements as value(element) in acc_t, `fill` past the row's end.
template <int kVec, int kPacks, class acc_t, class scalar_t, class Value>
C10_HOST_DEVICE LaneValues<kVec, kPacks, acc_t> load_lane(const scalar_t* row, int64_t size, int lane, int group,
                                                          acc_t fill, const Value& value) {
  LaneValues<kVec, kPacks, acc_t> values;
  FUSEDACT_UNROLL
  for (int p = 0; p < kPacks; ++p) {
    const int64_t first = (int64_t{p} * group + lane) * kVec;
    if (first + kVec <= size) {
      const auto pack = *reinterpret_cast<const Pack<scalar_t, kVec>*>(row + first);
      FUSEDACT_UNROLL
      for (int j = 0; j < kVec; ++j) values.v[p][j] = value(static_cast<acc_t>(pack.v[j]));
    } else {
      FUSEDACT_UNROLL
      for (int j = 0; j < kVec; ++j) {
        values.v[p][j] = first + j < size ? value(static_cast<acc_t>(row[first + j])) : fill;
      }
    }
  }
  return values;
}

// The same, each element as it is.
template <int kVec, int kPacks, class acc_t, class scalar_t>
C10_HOST_DEVICE LaneValues<kVec, kPacks, acc_t> load_lane(const scalar_t* row, int64_t size, int lane, int group,
                                                          acc_t fill) {
  return load_lane<kVec, kPacks, acc_t>(row, size, lane, group, fill, [](acc_t x) { return x; });
}

// A lane's elements of a forward row: Math's values of them, -inf past the row's end.
template <class Math, int kVec, int kPacks, class acc_t, class scalar_t>
C10_HOST_DEVICE LaneValues<kVec, kPacks, acc_t> load_forward_lane(const scalar_t* row, int64_t size, int lane,
                                                                  int group) {
  return load_lane<kVec, kPacks, acc_t>(row, size, lane, group, acc_t(-INFINITY),
                                        [](acc_t x) { return Math{}.value(x); });
}

// Writes value(p, j) for each of the lane's elements inside the row.
template <int kVec, int kPacks, class scalar_t, class Value>
C10_HOST_DEVICE void store_lane(scalar_t* row, int64_t size, int lane, int group, const Value& value) {
  FUSEDACT_UNROLL
  for (int p = 0; p < kPacks; ++p) {
    const int64_t first = (int64_t{p} * group + lane) * kVec;
    if (first + kVec <= size) {
      Pack<scalar_t, kVec> pack;
      FUSEDACT_UNROLL
      for (int j = 0; j < kVec; ++j) pack.v[j] = static_cast<scalar_t>(value(p, j));
      *reinterpret_cast<Pack<scalar_t, kVec>*>(row + first) = pack;
    } else {
      FUSEDACT_UNROLL
      for (int j = 0; j < kVec; ++j) {
        if (first + j < size) row[first + j] = static_cast<scalar_t>(value(p, j));
      }
    }
  }
}

// The larger of two maxima, NaN winning (as RowStats' merge).
template <class acc_t>
C10_HOST_DEVICE acc_t max_of(acc_t a, acc_t b) {
  return (b > a || b != b) ? b : a;
}

template <int kVec, int kPacks, class acc_t>
C10_HOST_DEVICE acc_t lane_max(const LaneValues<kVec, kPacks, acc_t>& x) {
  acc_t max = -INFINITY;
  FUSEDACT_UNROLL
  for (int p = 0; p < kPacks; ++p) {
    FUSEDACT_UNROLL
    for (int j = 0; j < kVec; ++j) max = max_of(max, x.v[p][j]);
  }
  return max;
}

// The lane's sum of e^(x - max), the row's max given (padding, -inf, adds 0). softmax keeps
// the terms in place of x, for its output; log_softmax keeps x.
template <class Math, int kVec, int kPacks, class acc_t>
C10_HOST_DEVICE acc_t lane_exp_sum(LaneValues<kVec, kPacks, acc_t>& x, acc_t max) {
  acc_t sum = 0;
  FUSEDACT_UNROLL
  for (int p = 0; p < kPacks; ++p) {
    FUSEDACT_UNROLL
    for (int j = 0; j < kVec; ++j) {
      const acc_t term = Math{}.term(x.v[p][j], max);
      sum += term;
      if constexpr (!Math::kIsLog) x.v[p][j] = term;
    }
  }
  return sum;
}

// The lane's outputs, from what lane_exp_sum left and the row's max and normalizer.
template <class Math, int kVec, int kPacks, class acc_t, class scalar_t>
C10_HOST_DEVICE void store_forward_lane(scalar_t* row, int64_t size, int lane, int group,
                                        const LaneValues<kVec, kPacks, acc_t>& kept, acc_t max, acc_t normalizer) {
  store_lane<kVec, kPacks>(row, size, lane, group, [&](int p, int j) {
    if constexpr (Math::kIsLog) {
      return Math{}.forward(kept.v[p][j], max, normalizer);
    } else {
      return Math{}.normalize(kept.v[p][j], normalizer);
    }
  });
}

// Backward: the lane's sum of Math's backward_term (padding: grad and y 0, which add 0).
template <class Math, int kVec, int kPacks, class acc_t>
C10_HOST_DEVICE acc_t lane_backward_sum(const LaneValues<kVec, kPacks, acc_t>& grad,
                                        const LaneValues<kVec, kPacks, acc_t>& y) {
  acc_t sum = 0;
  FUSEDACT_UNROLL
  for (int p = 0; p < kPacks; ++p) {
    FUSEDACT_UNROLL
    for (int j = 0; j < kVec; ++j) sum += Math{}.backward_term(grad.v[p][j], y.v[p][j]);
  }
  return sum;
}

template <class Math, int kVec, int kPacks, class acc_t, class scalar_t>
C10_HOST_DEVICE void store_backward_lane(scalar_t* row, int64_t size, int lane, int group,
                                         const LaneValues<kVec, kPacks, acc_t>& grad,
                                         const LaneValues<kVec, kPacks, acc_t>& y, acc_t total) {
  store_lane<kVec, kPacks>(row, size, lane, group,
                           [&](int p, int j) { return Math{}.backward(grad.v[p][j], y.v[p][j], total); });
}

// How a row of `size` elements is held in registers: `group` lanes of kPacks packs each, or
// packs == 0 when it does not fit in kMaxPacks packs of a warp's lanes.
struct RegisterRowShape {
  int group = 0, packs = 0;

  static C10_HOST_DEVICE RegisterRowShape of(int64_t size, int vec, int max_packs) {
    const int64_t row_packs = (size + vec - 1) / vec;
    RegisterRowShape shape;
    shape.group = 1;
    while (shape.group < 32 && shape.group < row_packs) shape.group *= 2;
    const int64_t per_lane = (row_packs + shape.group - 1) / shape.group;
    shape.packs = 1;
    while (shape.packs < per_lane) shape.packs *= 2;
    if (shape.packs > max_packs) shape.packs = 0;
    return shape;
  }
};

}  // namespace fusedact::cuda
