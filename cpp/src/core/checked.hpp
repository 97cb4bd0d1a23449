// 64-bit arithmetic on sizes that throws SizeOverflow instead of wrapping.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "dsconv/dsconv.hpp"

namespace dsconv::detail {

inline int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw SizeOverflow(std::string(what) + ": size overflows 64 bits");
  return r;
}

inline int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw SizeOverflow(std::string(what) + ": size overflows 64 bits");
  return r;
}

inline int64_t checked_product(std::initializer_list<int64_t> xs, const char* what) {
  int64_t r = 1;
  for (int64_t x : xs) r = checked_mul(r, x, what);
  return r;
}

inline uint64_t checked_mul_u(uint64_t a, uint64_t b, const char* what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw SizeOverflow(std::string(what) + ": size overflows 64 bits");
  return r;
}

}  // namespace dsconv::detail
