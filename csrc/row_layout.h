// A contiguous tensor seen as [outer, size, inner] around the dim a row op (softmax) works
// along: row r = (o, i) holds the elements (o * size + k) * inner + i for k < size. Plain C++
// with host+device members, shared by csrc/cpu and cuda/.
#pragma once

#include <c10/macros/Macros.h>

#include <cstdint>

namespace fusedact {

struct RowLayout {
  int64_t outer = 1, size = 1, inner = 1;

  C10_HOST_DEVICE int64_t rows() const { return outer * inner; }
  // Offset of row r's first element; its elements are `inner` apart.
  C10_HOST_DEVICE int64_t row_start(int64_t r) const { return (r / inner) * size * inner + r % inner; }
};

}  // namespace fusedact
