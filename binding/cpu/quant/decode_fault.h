// What a decode kernel found wrong with its input. Containers are untrusted: a code or scale that
// no encoder writes must be refused as corrupt, not decoded into some other value. Kernels OR
// their checks into a mask without branching (the decode loops stay as fast), and return it; the
// binding turns a non-zero mask into an error.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tz {

enum DecodeFault : unsigned {
  kFaultCode = 1u,   // a code outside the method's range
  kFaultScale = 2u,  // a scale that is negative or not finite
};

// f16 scales as rtn and ternary store them: a valid one is finite and not negative (no sign bit,
// exponent not all ones), i.e. its bits are below 0x7C00.
inline unsigned f16_scales_fault(const uint16_t* scales, size_t count) {
  uint16_t top = 0;
  for (size_t i = 0; i < count; ++i) top = std::max(top, scales[i]);
  return top >= 0x7C00u ? kFaultScale : 0u;
}

}  // namespace tz
