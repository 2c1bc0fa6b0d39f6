#include <cstdlib>
#include <cstring>

#include "cpu_features.h"
#include "kernels.h"

namespace tz {

const KernelTable& scalar_kernels() {
  static const KernelTable table{"scalar",           scalar::f32_to_bf16, scalar::bf16_to_f32, scalar::f32_to_f16,
                                 scalar::f16_to_f32, scalar::rtn_encode,  scalar::rtn_decode,
                                 scalar::ternary_encode, scalar::ternary_decode, scalar::seedlm_search, scalar::kmeans_assign, scalar::gemm_panels};
  return table;
}

const KernelTable* avx2_kernels() {
  static const KernelTable table{"avx2",           avx2::f32_to_bf16, avx2::bf16_to_f32, avx2::f32_to_f16,
                                 avx2::f16_to_f32, avx2::rtn_encode,  avx2::rtn_decode,
                                 avx2::ternary_encode, avx2::ternary_decode, avx2::seedlm_search, avx2::kmeans_assign, avx2::gemm_panels};
  return cpu_features().avx2Path() ? &table : nullptr;
}

namespace {

struct Choice {
  const KernelTable* table;
  std::string reason;
};

Choice choose() {
  const char* env = std::getenv("TENSORZIP_CPU");
  if (env && std::strcmp(env, "scalar") == 0)
    return {&scalar_kernels(), "scalar forced by TENSORZIP_CPU=scalar"};
  // Any other value means automatic choice; say so rather than silently ignoring a typo.
  const std::string note = env && *env && std::strcmp(env, "auto") != 0
                               ? std::string("; TENSORZIP_CPU=") + env + " ignored: use scalar or auto"
                               : "";
  if (const KernelTable* t = avx2_kernels()) return {t, "CPU and OS support AVX2, FMA and F16C" + note};
  return {&scalar_kernels(), "CPU or OS lacks one of AVX, AVX2, FMA, F16C" + note};
}

const Choice& choice() {
  static const Choice c = choose();
  return c;
}

}  // namespace

const KernelTable& kernels() { return *choice().table; }
const std::string& kernels_reason() { return choice().reason; }

}  // namespace tz
