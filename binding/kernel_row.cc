// kernelRow(row, args, path?) -> the row run now on the table `path` names ('auto', the default:
// the one in use; 'scalar'; 'avx2') over args' arrays; returns its DecodeFault mask.
#include <cstring>
#include <iterator>

#include "args.h"
#include "bindings.h"
#include "kernel_row.h"

namespace tz {

namespace {

struct Row {
  const char* name;
  unsigned (*run)(NamedArgs& args, const KernelTable& k);
};

#define TZ_ROW_ENTRY(row) {#row, RunRow_##row},
const Row kRows[] = {TZ_KERNEL_ROWS(TZ_ROW_ENTRY)};
#undef TZ_ROW_ENTRY

Napi::Value KernelRow(const Napi::CallbackInfo& info) {
  const std::string name = RequireString(info, 0, "row");
  const Row* row = nullptr;
  for (const Row& r : kRows)
    if (name == r.name) row = &r;
  if (!row) throw Napi::TypeError::New(info.Env(), "no kernel row '" + name + "'");
  NamedArgs args(info, 1);
  const KernelTable& k = RequireKernelPath(info, 2);
  try {
    return Napi::Number::New(info.Env(), row->run(args, k));
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
}

}  // namespace

Napi::Array KernelRowNames(Napi::Env env) {
  Napi::Array out = Napi::Array::New(env, std::size(kRows));
  for (uint32_t i = 0; i < std::size(kRows); ++i) out.Set(i, kRows[i].name);
  return out;
}

void RegisterKernelRows(Napi::Env env, Napi::Object exports) {
  exports.Set("kernelRow", Napi::Function::New(env, KernelRow, "kernelRow"));
}

}  // namespace tz
