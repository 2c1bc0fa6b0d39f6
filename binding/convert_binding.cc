// Dtype conversion: convert({ kind, src, dst, threads?, device? }, onProgress), a job (threads,
// progress, cancellation; device: where it runs, backend_table.h). kind: 'f32_to_bf16', 'bf16_to_f32',
// 'f32_to_f16' or 'f16_to_f32'; src and dst of equal length, not overlapping.
// Rows f32_to_bf16, bf16_to_f32, f32_to_f16, f16_to_f32 (kernel_row.h) take { src, dst }.
#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu_backend.h"
#include "cuda/tensorzip_cuda.h"
#include "kernel_row.h"

namespace tz {

namespace {

struct ConvertKind {
  const char* name;
  napi_typedarray_type src, dst;
  int kind;  // ConvertCall::kind
};

const ConvertKind kKinds[] = {
    {"f32_to_bf16", napi_float32_array, napi_uint16_array, TZC_F32_TO_BF16},
    {"bf16_to_f32", napi_uint16_array, napi_float32_array, TZC_BF16_TO_F32},
    {"f32_to_f16", napi_float32_array, napi_uint16_array, TZC_F32_TO_F16},
    {"f16_to_f32", napi_uint16_array, napi_float32_array, TZC_F16_TO_F32},
};

const ConvertKind& KindNamed(Napi::Env env, const std::string& name) {
  for (const auto& k : kKinds)
    if (name == k.name) return k;
  throw Napi::TypeError::New(env, "unknown conversion kind '" + name + "'");
}

// { src, dst }: both arrays' types for the kind, equal lengths, no overlap.
ConvertCall ParseConvert(NamedArgs& a, const ConvertKind& kind) {
  Napi::TypedArray src = a.array("src", kind.src);
  Napi::TypedArray dst = a.array("dst", kind.dst);
  if (src.ElementLength() != dst.ElementLength())
    throw Napi::RangeError::New(a.Env(), "dst has " + std::to_string(dst.ElementLength()) + " elements, src has " + std::to_string(src.ElementLength()));
  RequireDisjoint(src, dst, "src and dst");
  return {kind.kind, TypedArrayBytes(src), TypedArrayBytes(dst), src.ElementLength()};
}

Napi::Value Convert(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const ConvertCall c = ParseConvert(a, KindNamed(info.Env(), a.string("kind")));
  return StartCapabilityJob(info, a, backend_table().convert, c);
}

// The capability's CPU implementation, on one thread, on the table given.
unsigned RunConvertRow(NamedArgs& a, const KernelTable& k, const char* kind) {
  const ConvertCall c = ParseConvert(a, KindNamed(a.Env(), kind));
  JobContext ctx;
  cpu_backend::convert(k, c, 1, ctx);
  return 0;
}

}  // namespace

unsigned RunRow_f32_to_bf16(NamedArgs& a, const KernelTable& k) { return RunConvertRow(a, k, "f32_to_bf16"); }
unsigned RunRow_bf16_to_f32(NamedArgs& a, const KernelTable& k) { return RunConvertRow(a, k, "bf16_to_f32"); }
unsigned RunRow_f32_to_f16(NamedArgs& a, const KernelTable& k) { return RunConvertRow(a, k, "f32_to_f16"); }
unsigned RunRow_f16_to_f32(NamedArgs& a, const KernelTable& k) { return RunConvertRow(a, k, "f16_to_f32"); }

void RegisterConvert(Napi::Env env, Napi::Object exports) {
  exports.Set("convert", Napi::Function::New(env, Convert, "convert"));
}

}  // namespace tz
