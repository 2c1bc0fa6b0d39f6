// Run-time CPU feature detection (cpuid + xgetbv), done once per process.
#pragma once

namespace tz {

struct CpuFeatures {
  bool avx = false;      // CPU supports AVX and the OS saves YMM state (OSXSAVE + XCR0 bits 1,2)
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx2Path() const { return avx && avx2 && fma && f16c; }
};

const CpuFeatures& cpu_features();

}  // namespace tz
