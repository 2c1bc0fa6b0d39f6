#include "backend_table.h"

#include "cpu_backend.h"
#include "cuda_backend.h"
#include "cuda_loader.h"

namespace tz {

namespace {

const char* ApproximateSearch(const SeedlmCall& c) {
  return c.keep ? "no CUDA kernel for the approximate search, :fast" : nullptr;
}

template <class Call>
const char* Weighted(const Call& c) {
  return c.importance ? "no CUDA kernel for importance weighting" : nullptr;
}

}  // namespace

// Each row by name: the CPU implementation, the CUDA one where there is one, and the calls the
// CUDA one declines.
const BackendTable& backend_table() {
  static const BackendTable table = [] {
    BackendTable t{};
    t.convert = {"convert", cpu_backend::convert, cuda_backend::convert, nullptr};
    t.rtnEncode = {"rtn encode", cpu_backend::rtn_encode, cuda_backend::rtn_encode, Weighted<RtnCall>};
    t.rtnDecode = {"rtn decode", cpu_backend::rtn_decode, cuda_backend::rtn_decode, nullptr};
    t.ternaryEncode = {"ternary encode", cpu_backend::ternary_encode, cuda_backend::ternary_encode, Weighted<TernaryCall>};
    t.ternaryDecode = {"ternary decode", cpu_backend::ternary_decode, cuda_backend::ternary_decode, nullptr};
    t.seedlmSearch = {"seedlm search", cpu_backend::seedlm_search, cuda_backend::seedlm_search, ApproximateSearch};
    t.seedlmDecode = {"seedlm decode", cpu_backend::seedlm_decode, nullptr, nullptr};
    t.kmeansAssign = {"k-means assign", cpu_backend::kmeans_assign, cuda_backend::kmeans_assign, nullptr};
    t.kmeansLloyd = {"k-means Lloyd", cpu_backend::kmeans_lloyd, cuda_backend::kmeans_lloyd, nullptr};
    t.vptqEncode = {"vptq encode", cpu_backend::vptq_encode, cuda_backend::vptq_encode, nullptr};
    t.vptqDecode = {"vptq decode", cpu_backend::vptq_decode, nullptr, nullptr};
    t.hadamard = {"hadamard rotation", cpu_backend::hadamard, cuda_backend::hadamard, nullptr};
    t.ransDecode = {"rans decode", cpu_backend::decode_pieces, cuda_backend::decode_pieces, nullptr};
    t.ransEncode = {"rans encode", cpu_backend::encode_pieces, cuda_backend::encode_pieces, nullptr};
    return t;
  }();
  return table;
}

DeviceRequest::DeviceRequest(const NamedArgs& a) {
  if (!a.has("device")) return;
  Napi::Env env = a.Env();
  const Napi::Value v = a.get("device");
  if (!v.IsObject()) throw Napi::TypeError::New(env, "device must be an object { cuda, onFallback? }");
  const Napi::Object d = v.As<Napi::Object>();
  const Napi::Value cuda = d.Get("cuda");
  if (cuda.IsUndefined()) return;  // { } : the CPU
  const CudaBackend& backend = Cuda();
  if (!backend.available) throw Napi::Error::New(env, "CUDA is not available: " + backend.reason);
  const double index = cuda.IsNumber() ? cuda.As<Napi::Number>().DoubleValue() : -1;
  if (!(index >= 0) || index != double(int(index)) || index >= double(backend.gpus.size()))
    throw Napi::RangeError::New(env, "device.cuda must be a GPU index in [0, " + std::to_string(backend.gpus.size() - 1) + "]");
  gpu = int(index);
  const Napi::Value f = d.Get("onFallback");
  if (!f.IsUndefined() && !f.IsFunction()) throw Napi::TypeError::New(env, "device.onFallback must be a function");
  if (f.IsFunction()) onFallback = f.As<Napi::Function>();
}

Placement Place(const char* capability, bool hasCuda, const char* declined, const DeviceRequest& d) {
  if (d.gpu < 0) return {};
  if (hasCuda && !declined) return {d.gpu};
  if (!d.onFallback.IsEmpty())
    d.onFallback.Call({Napi::String::New(d.onFallback.Env(), capability), Napi::String::New(d.onFallback.Env(), declined ? declined : "no CUDA kernel")});
  return {};
}

}  // namespace tz
