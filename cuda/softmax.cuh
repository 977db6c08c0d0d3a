// Per-thread work of the CUDA softmax kernels, as host+device functions: cuda/softmax.cu calls
// them with a warp, a block or a single thread per row, and tests/cpp/test_cuda_thread_work.cpp
// runs them for every thread on the host. A "rows" struct says what a row reduces to (Acc),
// how two partial results merge, and what each element becomes once the row's total is known;
// only the warp shuffles and shared memory that merge the threads' parts are device-only.
// Plain C++ (no CUDA syntax).
#pragma once

#include "row_layout.h"

#include <ATen/AccumulateType.h>
#include <c10/macros/Macros.h>
#include <fusedact/math.h>

#include <cstdint>

namespace fusedact::cuda {

// softmax / log_softmax forward (Math): a row reduces to its max and sum of e^(x - max).
template <class scalar_t, class Math>
struct SoftmaxForwardRows {
  using acc_t = at::acc_type<scalar_t, /*is_cuda=*/true>;
  using Acc = math::RowStats<acc_t>;

  const scalar_t* in;
  scalar_t* out;
  RowLayout layout;

  C10_HOST_DEVICE static Acc identity() { return Acc::empty(); }
  C10_HOST_DEVICE static Acc combine(const Acc& a, const Acc& b) { return merge(a, b); }
  C10_HOST_DEVICE Acc element(int64_t i) const { return Acc::of(static_cast<acc_t>(in[i])); }
  // What write needs, once per row: the max and Math's normalizer of the sum.
  C10_HOST_DEVICE static Acc finish(const Acc& total) { return {total.max, Math{}.normalizer(total.sum)}; }
  C10_HOST_DEVICE void write(int64_t i, const Acc& finished) const {
    out[i] = static_cast<scalar_t>(Math{}.forward(static_cast<acc_t>(in[i]), finished.max, finished.sum));
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
    grad_input[i] = static_cast<scalar_t>(Math{}.backward(static_cast<acc_t>(grad[i]), static_cast<acc_t>(output[i]), total));
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

}  // namespace fusedact::cuda
