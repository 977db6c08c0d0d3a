// SIMD value types for math.h: Vec<T> wraps at::vec::Vectorized<T> and gives it the
// operations the math structs use (arithmetic, comparisons into Mask<T>, select, exp, ...).
// Included only by the per-instruction-set kernel files; CPU_CAPABILITY names the set.
#pragma once

#include "cpu/isa.h"
#include "fusedact/math.h"

#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace fusedact::cpu {
namespace CPU_CAPABILITY {

// A lane-wise condition. On AVX-512 it lives in a mask register: ATen's comparisons widen it
// into a vector and its blendv narrows it back, and that round trip made a select that feeds an
// exp (softplus's) three to four times slower on a Xeon. Elsewhere a vector, all ones where true.
template <class T>
struct Mask {
#if defined(CPU_CAPABILITY_AVX512)
  using Bits = std::conditional_t<sizeof(T) == 4, __mmask16, __mmask8>;
#else
  using Bits = at::vec::Vectorized<T>;
#endif
  Bits bits;

  friend Mask operator&(const Mask& a, const Mask& b) { return {static_cast<Bits>(a.bits & b.bits)}; }
  friend Mask operator|(const Mask& a, const Mask& b) { return {static_cast<Bits>(a.bits | b.bits)}; }
};

// The comparisons of ATen's operators (ordered: false where either side is NaN), and NaN itself.
enum class Compare { Less, LessEqual, Greater, GreaterEqual, NaN };

template <Compare kCompare, class T>
C10_ALWAYS_INLINE Mask<T> compare(const at::vec::Vectorized<T>& a, const at::vec::Vectorized<T>& b) {
#if defined(CPU_CAPABILITY_AVX512)
  constexpr int kPredicate = kCompare == Compare::Less           ? _CMP_LT_OQ
                             : kCompare == Compare::LessEqual    ? _CMP_LE_OQ
                             : kCompare == Compare::Greater      ? _CMP_GT_OQ
                             : kCompare == Compare::GreaterEqual ? _CMP_GE_OQ
                                                                 : _CMP_UNORD_Q;
  if constexpr (sizeof(T) == 4) {
    return {_mm512_cmp_ps_mask(a, b, kPredicate)};
  } else {
    return {_mm512_cmp_pd_mask(a, b, kPredicate)};
  }
#else
  if constexpr (kCompare == Compare::Less) return {a < b};
  if constexpr (kCompare == Compare::LessEqual) return {a <= b};
  if constexpr (kCompare == Compare::Greater) return {a > b};
  if constexpr (kCompare == Compare::GreaterEqual) return {a >= b};
  if constexpr (kCompare == Compare::NaN) return {a.isnan() | b.isnan()};
#endif
}

// a where mask holds, else b.
template <class T>
C10_ALWAYS_INLINE at::vec::Vectorized<T> blend(const Mask<T>& mask, const at::vec::Vectorized<T>& a,
                                               const at::vec::Vectorized<T>& b) {
#if defined(CPU_CAPABILITY_AVX512)
  if constexpr (sizeof(T) == 4) {
    return _mm512_mask_blend_ps(mask.bits, b, a);
  } else {
    return _mm512_mask_blend_pd(mask.bits, b, a);
  }
#else
  return at::vec::Vectorized<T>::blendv(b, a, mask.bits);
#endif
}

// a where x < bound, else b, for float lanes.
C10_ALWAYS_INLINE at::vec::Vectorized<float> select_below(const at::vec::Vectorized<float>& x, float bound,
                                                          const at::vec::Vectorized<float>& a,
                                                          const at::vec::Vectorized<float>& b) {
  return blend(compare<Compare::Less>(x, at::vec::Vectorized<float>(bound)), a, b);
}

// The index of the piece that float lanes holding positions in [0, 8) fall in (truncated), for
// lookup8; a NaN lane gets some index in [0, 8) (the SIMD sets' conversion gives INT_MIN, whose
// low bits, all that their permutes read, are 0).
C10_ALWAYS_INLINE at::vec::Vectorized<int32_t> piece_index(const at::vec::Vectorized<float>& position) {
#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
  return at::vec::convert_to_int_of_same_size(position);
#else
  alignas(64) float lanes[at::vec::Vectorized<float>::size()];
  alignas(64) int32_t index[at::vec::Vectorized<int32_t>::size()];
  position.store(lanes);
  for (int i = 0; i < at::vec::Vectorized<float>::size(); ++i) {
    index[i] = lanes[i] >= 0.0f && lanes[i] < 8.0f ? static_cast<int32_t>(lanes[i]) : 0;
  }
  return at::vec::Vectorized<int32_t>::loadu(index);
#endif
}

// table[index] in each float lane, index from piece_index: one permute on the SIMD sets.
C10_ALWAYS_INLINE at::vec::Vectorized<float> lookup8(const float (&table)[8],
                                                     const at::vec::Vectorized<int32_t>& index) {
#if defined(CPU_CAPABILITY_AVX512)
  return _mm512_permutexvar_ps(index, _mm512_castps256_ps512(_mm256_loadu_ps(table)));
#elif defined(CPU_CAPABILITY_AVX2)
  return _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), index);
#else
  alignas(64) int32_t lanes[at::vec::Vectorized<int32_t>::size()];
  alignas(64) float values[at::vec::Vectorized<float>::size()];
  index.store(lanes);
  for (int i = 0; i < at::vec::Vectorized<float>::size(); ++i) values[i] = table[lanes[i] & 7];
  return at::vec::Vectorized<float>::loadu(values);
#endif
}

// The standard normal CDF Phi(x) of float lanes, which gelu rests on: Phi(a) at a = -|x| (and
// 1 minus it for x > 0) from eight polynomials of degree 6, one for each 3/4 of [-6, 0]. Each
// lane looks its piece's coefficients up by index (a permute), so one Horner evaluation serves
// every lane, where evaluating every piece in every lane and selecting costs several times the
// multiplies (four pieces so took 1.37 times as long on an AVX2 Zen 3). Each polynomial, in
// a - (its piece's centre), is fitted to Phi in absolute error (iteratively reweighted least
// squares on Chebyshev nodes, float coefficients): under 4e-9 below -1.5 and 2.5e-8 above
// (under half an ulp of Phi there), 4.7e-8 evaluated in float. Absolute error is what
// 1 + erf(x / sqrt 2) (ATen's form) loses as Phi nears 0: torch's float gelu is off by up to
// 4e-7 in the left tail, this one by under 1e-9. Below -6, where Phi < 1e-9, it is 0 (as
// 1 + erf is in float there). No exp and no division. -inf gives 0, +inf 1, NaN passes.
inline at::vec::Vectorized<float> fast_normal_cdf(const at::vec::Vectorized<float>& x) {
  using V = at::vec::Vectorized<float>;
  static constexpr float kStart = -6.0f, kPiecesPerUnit = 4.0f / 3.0f;
  alignas(32) static constexpr float kCentre[8] = {-5.625f, -4.875f, -4.125f, -3.375f,
                                                   -2.625f, -1.875f, -1.125f, -0.375f};
  // kCoefficients[k][piece]: the coefficient of (a - centre)^k.
  alignas(32) static constexpr float kCoefficients[7][8] = {
      {9.274726764e-09f, 5.440340942e-07f, 1.853671165e-05f, 3.690785379e-04f, 4.332448822e-03f, 3.039636090e-02f,
       1.302945167e-01f, 3.538302481e-01f},
      {5.379473222e-08f, 2.756972890e-06f, 8.054691716e-05f, 1.341120456e-03f, 1.272411365e-02f, 6.878627837e-02f,
       2.118768990e-01f, 3.718549013e-01f},
      {1.512411529e-07f, 6.719066732e-06f, 1.661192509e-04f, 2.263121307e-03f, 1.670044474e-02f, 6.448727101e-02f,
       1.191805899e-01f, 6.972250342e-02f},
      {2.708711406e-07f, 1.039835661e-05f, 2.146159677e-04f, 2.322413493e-03f, 1.249611564e-02f, 2.883972041e-02f,
       9.365806356e-03f, -5.324930325e-02f},
      {3.571865079e-07f, 1.158161103e-05f, 1.938809146e-04f, 1.582956873e-03f, 5.415921099e-03f, 2.766526304e-03f,
       -1.722455211e-02f, -1.660387404e-02f},
      {4.140968599e-07f, 1.059097667e-05f, 1.330576779e-04f, 7.213111967e-04f, 9.134000866e-04f, -3.281743033e-03f,
       -5.080072675e-03f, 6.582751870e-03f},
      {3.277983751e-07f, 6.806274541e-06f, 6.335206126e-05f, 1.884594240e-04f, -3.111219557e-04f, -1.350506442e-03f,
       1.298757037e-03f, 2.539556473e-03f}};
  const V a = at::vec::minimum(x, -x);
  // The piece: floor((a + 6) / (3/4)), at most 7 (a = 0).
  const auto piece =
      piece_index(at::vec::clamp_max((at::vec::clamp_min(a, V(kStart)) - V(kStart)) * V(kPiecesPerUnit), V(7.0f)));
  const V w = a - lookup8(kCentre, piece);
  V p = lookup8(kCoefficients[6], piece);
  for (int k = 5; k >= 0; --k) p = at::vec::fmadd(p, w, lookup8(kCoefficients[k], piece));
  const V left = select_below(a, kStart, V(0.0f), p);
  return select_below(x, 0.0f, left, V(1.0f) - left);
}

// expm1 of float lanes from exp. ATen calls Sleef's, whose AVX-512 form (like its log1p's and
// log's) loads constants with masked broadcasts; on AMD Zen CPUs a masked load from a page not
// yet mapped into the process takes a microcode assist every time, even with an empty mask,
// and the page it reads stays unmapped until something else reads it: until then the function
// runs ten to thirty times slower. This one is within a few ulp of Sleef's for the price of an
// exp: near 0, where e^x - 1 would cancel, x (1 + x (1/2! + x/3! + ... + x^6/8!)), whose
// truncation is under 1e-8 relative for |x| < 0.5; e^x - 1 beyond. -0, +-inf, NaN as expm1.
inline at::vec::Vectorized<float> expm1_near_zero(const at::vec::Vectorized<float>& x) {
  using V = at::vec::Vectorized<float>;
  static constexpr float kInvFactorials[] = {1.f / 2, 1.f / 6, 1.f / 24, 1.f / 120, 1.f / 720, 1.f / 5040, 1.f / 40320};
  V p(kInvFactorials[6]);
  for (int k = 5; k >= 0; --k) p = at::vec::fmadd(p, x, V(kInvFactorials[k]));
  return x * at::vec::fmadd(x, p, V(1.f));
}

inline at::vec::Vectorized<float> expm1_from_exp(const at::vec::Vectorized<float>& x) {
  using V = at::vec::Vectorized<float>;
  return select_below(x.abs(), 0.5f, expm1_near_zero(x), x.exp() - V(1.f));
}

// log1p of float lanes in [0, 1] (and NaN) without a log: with s = x / (2 + x) <= 1/3,
// log(1 + x) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), whose terms past s^13 are under 2e-8
// of the sum. About 2 ulp, at a third of the cost of Sleef's log; softplus and mish rest on it.
inline at::vec::Vectorized<float> log1p_unit_series(const at::vec::Vectorized<float>& x) {
  using V = at::vec::Vectorized<float>;
  static constexpr float kTwoOverOdd[] = {2.f, 2.f / 3, 2.f / 5, 2.f / 7, 2.f / 9, 2.f / 11, 2.f / 13};
  const V s = x / (V(2.f) + x);
  const V t = s * s;
  V p(kTwoOverOdd[6]);
  for (int k = 5; k >= 0; --k) p = at::vec::fmadd(p, t, V(kTwoOverOdd[k]));
  return s * p;
}

// min(x, bound) with NaN passed through: one instruction on the SIMD sets, where ATen's min
// passes NaN from its second operand; ATen's NaN-propagating minimum elsewhere.
C10_ALWAYS_INLINE at::vec::Vectorized<float> at_most(const at::vec::Vectorized<float>& x, float bound) {
#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
  return at::vec::clamp_max(x, at::vec::Vectorized<float>(bound));
#else
  return at::vec::minimum(x, at::vec::Vectorized<float>(bound));
#endif
}

// tanh of float lanes with one division and no full exp. With m = |x| (clamped to 10, beyond
// which tanh rounds to 1 in float), the sign put back after:
//   m P(m^2) / Q(m^2)  for m < 2: P of degree 2 and Q of degree 3 with P(0) = Q(0) = 1 (tanh x is
//                      x itself for tiny x), a fit of tanh(m) / m on [0, 2] in relative error
//                      (6e-10, iteratively reweighted least squares); within 3.6 ulp of float64
//                      (4.2 without an FMA instruction);
//   1 - 2e / (1 + e)   for m >= 2, e = e^(-2m) by ATen's exp_u20: under 2e / (1 + e) <= 0.036,
//                      exp_u20's error stays under a tenth of an ulp of the result, which is
//                      correctly rounded to within 0.75 ulp, and rounds to +-1 where tanh does
//                      (1 - tanh^2, which backward formulas take, is then 0 where torch's is).
// The branches share the division. Cheaper than ATen's Sleef tanh (torch's for 16-bit types)
// and than an exp with expm1 near 0 and two divisions; torch's float tanh, from Intel's vector
// math library, is faster still on Intel CPUs. NaN, +-inf, -0 as tanh.
inline at::vec::Vectorized<float> fast_tanh(const at::vec::Vectorized<float>& x) {
  using V = at::vec::Vectorized<float>;
  static constexpr float kP[] = {1.0f, 1.204171628e-01f, 1.946062432e-03f};
  static constexpr float kQ[] = {1.0f, 4.537504911e-01f, 1.986293308e-02f, 8.909782628e-05f};
  static constexpr float kTail = 2.0f;
  const V m = at_most(x.abs(), 10.0f);
  const V t = m * m;
  const V p = at::vec::fmadd(at::vec::fmadd(V(kP[2]), t, V(kP[1])), t, V(kP[0]));
  const V q = at::vec::fmadd(at::vec::fmadd(at::vec::fmadd(V(kQ[3]), t, V(kQ[2])), t, V(kQ[1])), t, V(kQ[0]));
  const V e = (m * V(-2.0f)).exp_u20();                                  // finite for NaN, which takes the first branch
  const Mask<float> tail = compare<Compare::GreaterEqual>(m, V(kTail));  // false for NaN
  const V ratio = blend(tail, e + e, m * p) / blend(tail, V(1.0f) + e, q);
  const V magnitude = blend(tail, V(1.0f) - ratio, ratio);
  return magnitude | (x & V(-0.0f));
}

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

  friend Mask<T> operator<(const Vec& a, const Vec& b) { return compare<Compare::Less>(a.v, b.v); }
  friend Mask<T> operator<=(const Vec& a, const Vec& b) { return compare<Compare::LessEqual>(a.v, b.v); }
  friend Mask<T> operator>(const Vec& a, const Vec& b) { return compare<Compare::Greater>(a.v, b.v); }
  friend Mask<T> operator>=(const Vec& a, const Vec& b) { return compare<Compare::GreaterEqual>(a.v, b.v); }

  friend Vec select(const Mask<T>& mask, const Vec& a, const Vec& b) { return blend(mask, a.v, b.v); }
  // One max / min instruction on the SIMD sets, whose NaN and equal cases return the second
  // operand, x, as math::clamp_min's select does.
  friend Vec clamp_min(const Vec& x, const Vec& low) { return at::vec::clamp_min(x.v, low.v); }
  friend Vec clamp_max(const Vec& x, const Vec& high) { return at::vec::clamp_max(x.v, high.v); }

  // ours(a) for float lanes, where fusedact has its own form; ATen's theirs(a) for double.
  template <class Ours, class Theirs>
  static C10_ALWAYS_INLINE Vec float_form(const Vec& a, Ours ours, Theirs theirs) {
    if constexpr (std::is_same_v<T, float>) {
      return ours(a.v);
    } else {
      return theirs(a.v);
    }
  }

  // a b + c rounded once, as math::fma: the FMA instruction, else std::fma lane by lane (ATen's
  // fmadd without one rounds twice).
  friend Vec fma(const Vec& a, const Vec& b, const Vec& c) {
#if defined(CPU_CAPABILITY_AVX2) || defined(CPU_CAPABILITY_AVX512)
    return at::vec::fmadd(a.v, b.v, c.v);
#else
    alignas(64) T x[size()], y[size()], z[size()];
    a.v.store(x);
    b.v.store(y);
    c.v.store(z);
    for (int i = 0; i < size(); ++i) x[i] = std::fma(x[i], y[i], z[i]);
    return Native::loadu(x);
#endif
  }
  friend Vec exp(const Vec& a) { return a.v.exp(); }
  // ATen's exp_u20 for float, with NaN passed through (it would clamp NaN to a finite input):
  // under 5 ulp for -86.5 <= x <= 0, against Sleef's 1 ulp, at three quarters of the cost.
  // Below -86.5, where e^x nears the smallest normal float, it is off by up to 1.2e-38, and it
  // gives 0 for the subnormal results below -87.3.
  friend Vec exp_nonpositive(const Vec& a) {
    return float_form(
        a, [](const auto& v) { return blend(compare<Compare::NaN>(v, v), v, v.exp_u20()); },
        [](const auto& v) { return v.exp(); });
  }
  friend Vec expm1(const Vec& a) {
    return float_form(a, expm1_from_exp, [](const auto& v) { return v.expm1(); });
  }
  friend Vec log(const Vec& a) { return a.v.log(); }
  friend Vec log1p_unit(const Vec& a) {
    return float_form(a, log1p_unit_series, [](const auto& v) { return v.log1p(); });
  }
  friend Vec tanh(const Vec& a) {
    return float_form(a, fast_tanh, [](const auto& v) { return v.tanh(); });
  }
  friend Vec normal_cdf(const Vec& a) {
    return float_form(a, fast_normal_cdf,
                      [](const auto& v) { return Native(0.5) * (Native(1) + (v * Native(math::kSqrt1_2)).erf()); });
  }
};

// Streaming (non-temporal) stores: a whole vector written to memory past the caches, to an
// address aligned to the vector's size, without first reading the line it fills. For outputs
// too big to stay in the cache, that read is a third of a one-input op's memory traffic.
// Weakly ordered: a thread fences after its last one. Only the SIMD sets have them.
#if defined(CPU_CAPABILITY_AVX512) || defined(CPU_CAPABILITY_AVX2)
constexpr bool kHasStreamingStores = true;
template <class Vector>
C10_ALWAYS_INLINE void stream_vector(void* p, const Vector& v) {
#ifdef CPU_CAPABILITY_AVX512
  using Bits = __m512i;
#else
  using Bits = __m256i;
#endif
  static_assert(sizeof(Vector) == sizeof(Bits));
  Bits bits;
  std::memcpy(&bits, &v, sizeof(bits));
#ifdef CPU_CAPABILITY_AVX512
  _mm512_stream_si512(static_cast<Bits*>(p), bits);
#else
  _mm256_stream_si256(static_cast<Bits*>(p), bits);
#endif
}
inline void streaming_stores_done() { _mm_sfence(); }
#else
constexpr bool kHasStreamingStores = false;
template <class Vector>
void stream_vector(void* p, const Vector& v) {
  v.store(p);
}
inline void streaming_stores_done() {}
#endif

// Whether an op whose operands hold `bytes` in all writes its outputs with streaming stores:
// when they outgrow the last-level cache, an output would be evicted before the next op reads
// it anyway.
inline bool outgrows_cache(int64_t bytes) { return kHasStreamingStores && bytes > last_level_cache_bytes(); }

// How many T from p precede the first address aligned for streaming stores of whole Vector-s
// (0: p is aligned), or -1 when p is not aligned to T, so that no element starts there.
template <class Vector, class T>
int64_t elements_before_stream(const T* p) {
  constexpr auto kBytes = static_cast<uintptr_t>(sizeof(Vector));
  const uintptr_t gap = (kBytes - reinterpret_cast<uintptr_t>(p) % kBytes) % kBytes;
  return gap % sizeof(T) == 0 ? static_cast<int64_t>(gap / sizeof(T)) : -1;
}

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

  static C10_ALWAYS_INLINE Parts load(const scalar_t* p) { return {Opmath(Native::loadu(p))}; }
  static C10_ALWAYS_INLINE Parts load(const scalar_t* p, int64_t count) { return {Opmath(Native::loadu(p, count))}; }
  static C10_ALWAYS_INLINE Parts broadcast(scalar_t value) { return {Opmath(Native(value))}; }
  static C10_ALWAYS_INLINE void store(scalar_t* p, const Parts& parts) { parts[0].v.store(p); }
  static C10_ALWAYS_INLINE void store(scalar_t* p, const Parts& parts, int64_t count) { parts[0].v.store(p, count); }
  static C10_ALWAYS_INLINE void stream(scalar_t* p, const Parts& parts) { stream_vector(p, parts[0].v); }
};

template <class scalar_t>
struct ReducedLanes {
  using Native = at::vec::Vectorized<scalar_t>;
  using Opmath = Vec<float>;
  static constexpr int kWidth = Native::size();
  static constexpr int kParts = 2;
  using Parts = std::array<Opmath, kParts>;

  static C10_ALWAYS_INLINE Parts widen(const Native& v) {
    auto [lo, hi] = at::vec::convert_to_float<scalar_t>(v);
    return {Opmath(lo), Opmath(hi)};
  }
  static C10_ALWAYS_INLINE Parts load(const scalar_t* p) { return widen(Native::loadu(p)); }
  // The first `count` lanes; the others are 0. Half a vector loads as the first part alone:
  // ATen's partial load copies through memory, and the wide load that reads the copy back waits
  // for the copy's stores (no store forwarding), which dominates short rows.
  static C10_ALWAYS_INLINE Parts load(const scalar_t* p, int64_t count) {
    if (count == kWidth / 2) {
      typename Opmath::Native first;
      at::vec::load_to_float(p, first);
      return {Opmath(first), Opmath(typename Opmath::Native(0.0f))};
    }
    return widen(Native::loadu(p, count));
  }
  static C10_ALWAYS_INLINE Parts broadcast(scalar_t value) {
    const Opmath v(at::vec::Vectorized<float>(static_cast<float>(value)));
    return {v, v};
  }
  static C10_ALWAYS_INLINE Native narrow(const Parts& parts) {
#ifdef CPU_CAPABILITY_AVX512_BF16
    // The CPU's conversion rounds to nearest even as ATen's does, in one instruction instead of
    // eight, but flushes subnormal inputs to zero: a vector holding one takes ATen's path.
    if constexpr (std::is_same_v<scalar_t, at::BFloat16>) {
      constexpr int kDenormal = 0x20;  // vfpclassps category
      const __m512 lo = parts[0].v, hi = parts[1].v;
      if ((_mm512_fpclass_ps_mask(lo, kDenormal) | _mm512_fpclass_ps_mask(hi, kDenormal)) == 0) {
        return Native(reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo)));
      }
    }
#endif
    return at::vec::convert_from_float<scalar_t>(parts[0].v, parts[1].v);
  }
  static C10_ALWAYS_INLINE void store(scalar_t* p, const Parts& parts) { narrow(parts).store(p); }
  static C10_ALWAYS_INLINE void store(scalar_t* p, const Parts& parts, int64_t count) { narrow(parts).store(p, count); }
  static C10_ALWAYS_INLINE void stream(scalar_t* p, const Parts& parts) { stream_vector(p, narrow(parts)); }
};

template <>
struct Lanes<at::BFloat16> : ReducedLanes<at::BFloat16> {};
template <>
struct Lanes<at::Half> : ReducedLanes<at::Half> {};

}  // namespace CPU_CAPABILITY
}  // namespace fusedact::cpu
