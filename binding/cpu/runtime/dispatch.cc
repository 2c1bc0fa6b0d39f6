#include <cstdlib>
#include <cstring>

#include "cpu_features.h"
#include "kernels.h"

namespace tz {

// Both tables are filled row by row by name (TZ_KERNEL_ROWS), so adding or reordering a row
// cannot shift a pointer into the wrong member, and a variant lacking a row does not compile.
const KernelTable& scalar_kernels() {
  static const KernelTable table = [] {
    KernelTable t{};
    t.name = "scalar";
#define TZ_FILL_ROW(row) t.row = scalar::row;
    TZ_KERNEL_ROWS(TZ_FILL_ROW)
#undef TZ_FILL_ROW
    return t;
  }();
  return table;
}

const KernelTable* avx2_kernels() {
  static const KernelTable table = [] {
    KernelTable t{};
    t.name = "avx2";
#define TZ_FILL_ROW(row) t.row = avx2::row;
    TZ_KERNEL_ROWS(TZ_FILL_ROW)
#undef TZ_FILL_ROW
    return t;
  }();
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
