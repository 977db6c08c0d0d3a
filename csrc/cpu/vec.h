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

// The standard normal CDF Phi(x) of float lanes, which gelu rests on:
//  - for |x| < 1, 1/2 + x S(x^2), S of degree 5 a fit of (Phi(x) - 1/2) / x on [0, 1] in
//    relative error (7.1e-10, iteratively reweighted least squares): no division, and gelu
//    evaluated in float stays within 7.5e-8 of float64 there (torch's float gelu: 7.5e-8).
//  - for |x| >= 1, Phi(-|x|) (and 1 minus it for x > 0) from polynomials fitted to Phi in
//    absolute error, which 1 + erf(x / sqrt 2) (ATen's form) and the rational lose as Phi
//    nears 0 or 1 (gelu's error was up to twice torch's with the rational alone): on [-3, -1),
//    N(x + 2) of degree 9 (8e-9; 3.5e-8 evaluated in float); on [-4.497, -3), M(x + 4.497) of
//    degree 7 (1.7e-9; 2e-9 in float); below, max(0, T(max(x, -6) + 6)) with T of degree 6,
//    fitted to Phi(x) + 5e-10 on [-6, -4.497] (2.7e-9) and T(0) = -5e-10: 0 below -6, where
//    Phi(x) < 1e-9 and 1 + erf(x / sqrt 2) is 0 in float too.
// No exp and no division: gelu costs less than with ATen's Sleef erf. -inf gives 0, +inf 1,
// NaN passes.
inline at::vec::Vectorized<float> fast_normal_cdf(const at::vec::Vectorized<float>& x) {
  using V = at::vec::Vectorized<float>;
  static constexpr float kS[] = {3.989422917e-01f,  -6.649035960e-02f, 9.973322973e-03f,
                                 -1.186329871e-03f, 1.134862687e-04f,  -7.654160981e-06f};
  static constexpr float kTail[] = {-4.999999858590343e-10f, -5.592952589950073e-08f, 9.609804010324297e-07f,
                                    -3.911496150976745e-06f, 7.112806997611187e-06f,  -5.791074272565311e-06f,
                                    1.9741146388696507e-06f};
  static constexpr float kMiddle[] = {3.4476688597351313e-06f,  1.6112335288198665e-05f, 3.708663643919863e-05f,
                                      5.11914913658984e-05f,    4.6600205678259954e-05f, 5.935672379564494e-05f,
                                      -4.5673227759834845e-06f, 2.603278153401334e-05f};
  static constexpr float kNear[] = {0.02275012619793415f,    0.053990911692380905f,    0.05399129167199135f,
                                    0.0269964300096035f,     0.0044965981505811214f,   -0.0022543910890817642f,
                                    -0.0013423545751720667f, -0.00010781153105199337f, 0.00010692281648516655f,
                                    2.753785884124227e-05f};
  static constexpr float kTailStart = -6.0f, kTailEnd = -4.497f, kMiddleEnd = -3.0f, kNearCenter = -2.0f,
                         kCentralEnd = -1.0f;
  // The tails at a = -|x|: Phi(a) for x <= -1, 1 - Phi(a) for x >= 1.
  const V a = at::vec::minimum(x, -x);
  const V u = at::vec::clamp_min(a, V(kTailStart)) - V(kTailStart);
  V tail(kTail[6]);
  for (int k = 5; k >= 0; --k) tail = at::vec::fmadd(tail, u, V(kTail[k]));
  const V v = a - V(kTailEnd);
  V middle(kMiddle[7]);
  for (int k = 6; k >= 0; --k) middle = at::vec::fmadd(middle, v, V(kMiddle[k]));
  const V w = a - V(kNearCenter);
  V near(kNear[9]);
  for (int k = 8; k >= 0; --k) near = at::vec::fmadd(near, w, V(kNear[k]));
  const V left =
      select_below(a, kTailEnd, at::vec::clamp_min(tail, V(0.0f)), select_below(a, kMiddleEnd, middle, near));
  const V outer = select_below(x, 0.0f, left, V(1.0f) - left);
  // |x| < 1 (and NaN, which no comparison selects away).
  const V t = x * x;
  V s(kS[5]);
  for (int k = 4; k >= 0; --k) s = at::vec::fmadd(s, t, V(kS[k]));
  return select_below(a, kCentralEnd, outer, at::vec::fmadd(x, s, V(0.5f)));
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
