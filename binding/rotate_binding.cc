// The rotation of :rot (cpu/quant/hadamard.h, docs/METHODS.md "Rotations"):
//   hadamardRotate({ x, period, block, seed, inverse?, threads?, device? }, onProgress): a job
//   that rotates the Float32Array x in place, as rows of `period` values (a multiple of block,
//   dividing x's length) cut into blocks of `block` (a power of two from 2 to 4096), with the
//   multipliers of `seed` (an integer from 0 to 2^32 − 1).
// Row hadamard_blocks ({ x, block, m, inverse? }) rotates x in place with the multipliers m
// given (one per value).
#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/quant/hadamard.h"
#include "kernel_row.h"

#include <memory>

namespace tz {

namespace {

size_t Block(NamedArgs& a) {
  const size_t block = size_t(a.integer("block", 2, int64_t(kMaxHadamardBlock)));
  if (!is_hadamard_block(block)) throw Napi::RangeError::New(a.Env(), "block must be a power of two from 2 to " + std::to_string(kMaxHadamardBlock));
  return block;
}

Napi::Value HadamardRotate(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  Napi::Env env = info.Env();
  Napi::TypedArray x = a.array("x", napi_float32_array);
  const size_t n = x.ElementLength(), block = Block(a);
  const size_t period = size_t(a.integer("period", 1, int64_t(1) << 40));
  if (period % block) throw Napi::RangeError::New(env, "period (" + std::to_string(period) + ") must be a multiple of block (" + std::to_string(block) + ")");
  if (n % period) throw Napi::RangeError::New(env, "x's length (" + std::to_string(n) + ") must be a multiple of period (" + std::to_string(period) + ")");
  const uint64_t seed = uint64_t(a.integer("seed", 0, 0xFFFFFFFFll));
  // An empty x is a multiple of any period: its multipliers are never read, so none are made
  // for a period that could be anything up to 2^40.
  const auto m = std::make_shared<const std::vector<float>>(hadamard_multipliers(seed, n ? period : block, block));
  const HadamardCall c{reinterpret_cast<float*>(TypedArrayBytes(x)), n, period, block, m->data(), a.has("inverse") && a.get("inverse").ToBoolean() ? 1u : 0u};
  // The multipliers live as long as the job.
  return StartCapabilityJob(info, a, backend_table().hadamard, c, [m](JobContext&, const std::function<void()>& run) -> JobResult {
    run();
    return nullptr;
  });
}

}  // namespace

unsigned RunRow_hadamard_blocks(NamedArgs& a, const KernelTable& k) {
  Napi::TypedArray x = a.array("x", napi_float32_array), m = a.array("m", napi_float32_array);
  const size_t n = x.ElementLength(), block = Block(a);
  if (m.ElementLength() != n) throw Napi::RangeError::New(a.Env(), "m must hold one multiplier per value of x");
  if (n % block) throw Napi::RangeError::New(a.Env(), "x's length must be a multiple of block");
  k.hadamard_blocks(reinterpret_cast<float*>(TypedArrayBytes(x)), n, block, reinterpret_cast<const float*>(TypedArrayBytes(m)),
                    a.has("inverse") && a.get("inverse").ToBoolean() ? 1u : 0u);
  return 0;
}

void RegisterRotate(Napi::Env env, Napi::Object exports) {
  exports.Set("hadamardRotate", Napi::Function::New(env, HadamardRotate, "hadamardRotate"));
}

}  // namespace tz
