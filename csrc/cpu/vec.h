// SIMD value types for math.h: Vec<T> wraps at::vec::Vectorized<T> and gives it the
// operations the math structs use (arithmetic, comparisons into Mask<T>, select, exp, ...).
// Included only by the per-instruction-set kernel files; CPU_CAPABILITY names the set.
#pragma once

#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

namespace fusedact::cpu {
namespace CPU_CAPABILITY {

template <class T>
struct Mask {
  at::vec::Vectorized<T> bits;  // all ones where true

  friend Mask operator&(const Mask& a, const Mask& b) { return {a.bits & b.bits}; }
  friend Mask operator|(const Mask& a, const Mask& b) { return {a.bits | b.bits}; }
};

template <class T>
struct Vec {
  using Native = at::vec::Vectorized<T>;
  static constexpr int size() { return Native::size(); }

  Native v;

  Vec() = default;
  Vec(const Native& native) : v(native) {}
  explicit Vec(double constant) : v(static_cast<T>(constant)) {}

  friend Vec operator+(const Vec& a, const Vec& b) { return a.v + b.v; }
  friend Vec operator-(const Vec& a, const Vec& b) { return a.v - b.v; }
  friend Vec operator*(const Vec& a, const Vec& b) { return a.v * b.v; }
  friend Vec operator/(const Vec& a, const Vec& b) { return a.v / b.v; }
  friend Vec operator-(const Vec& a) { return a.v.neg(); }

  friend Mask<T> operator<(const Vec& a, const Vec& b) { return {a.v < b.v}; }
  friend Mask<T> operator<=(const Vec& a, const Vec& b) { return {a.v <= b.v}; }
  friend Mask<T> operator>(const Vec& a, const Vec& b) { return {a.v > b.v}; }
  friend Mask<T> operator>=(const Vec& a, const Vec& b) { return {a.v >= b.v}; }

  friend Vec select(const Mask<T>& mask, const Vec& a, const Vec& b) { return Native::blendv(b.v, a.v, mask.bits); }

  friend Vec exp(const Vec& a) { return a.v.exp(); }
  friend Vec expm1(const Vec& a) { return a.v.expm1(); }
  friend Vec log(const Vec& a) { return a.v.log(); }
  friend Vec log1p(const Vec& a) { return a.v.log1p(); }
  friend Vec tanh(const Vec& a) { return a.v.tanh(); }
  friend Vec erf(const Vec& a) { return a.v.erf(); }
};

// How a tensor's scalar_t is loaded into opmath vectors and stored back: float and double
// load one vector; float16 and bfloat16 load a vector of 2N halves and widen it into two
// float vectors, so that math is done in float32 and rounded once on store.
template <class scalar_t>
struct Lanes {
  using Native = at::vec::Vectorized<scalar_t>;
  using Opmath = Vec<scalar_t>;
  static constexpr int kWidth = Native::size();
  static constexpr int kParts = 1;
  using Parts = std::array<Opmath, kParts>;

  static Parts load(const scalar_t* p, int64_t count) { return {Opmath(Native::loadu(p, count))}; }
  static Parts broadcast(scalar_t value) { return {Opmath(Native(value))}; }
  static void store(scalar_t* p, const Parts& parts, int64_t count) { parts[0].v.store(p, count); }
};

template <class scalar_t>
struct ReducedLanes {
  using Native = at::vec::Vectorized<scalar_t>;
  using Opmath = Vec<float>;
  static constexpr int kWidth = Native::size();
  static constexpr int kParts = 2;
  using Parts = std::array<Opmath, kParts>;

  static Parts load(const scalar_t* p, int64_t count) {
    auto [lo, hi] = at::vec::convert_to_float<scalar_t>(Native::loadu(p, count));
    return {Opmath(lo), Opmath(hi)};
  }
  static Parts broadcast(scalar_t value) {
    const Opmath v(at::vec::Vectorized<float>(static_cast<float>(value)));
    return {v, v};
  }
  static void store(scalar_t* p, const Parts& parts, int64_t count) {
    at::vec::convert_from_float<scalar_t>(parts[0].v, parts[1].v).store(p, count);
  }
};

template <>
struct Lanes<at::BFloat16> : ReducedLanes<at::BFloat16> {};
template <>
struct Lanes<at::Half> : ReducedLanes<at::Half> {};

}  // namespace CPU_CAPABILITY
}  // namespace fusedact::cpu
