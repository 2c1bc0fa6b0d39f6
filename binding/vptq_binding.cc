// vptq entry points (layout in cpu/vptq.h), arguments by name:
//   vptqGather({ weights, cols, v, scale?, bias? }) -> Float32Array of the chunk's vectors
//   vptqEncode({ weights, cols, v, scale?, bias?, codebook, residual?, labels, labels2?, recon,
//     threads?, device? }, onProgress): labels (Uint32Array, one per vector) and the reconstruction
//   vptqDecode({ out, cols, v, scale?, bias?, codebook, residual?, labels, labels2?, threads?,
//     device? }, onProgress)
//   device: where the job runs (backend_table.h), with the same result.
// weights/out: Float32Array of rows x cols; codebooks: Float32Array of k x v; scale and bias one
// value per column, both or neither; labels2 exactly with a residual codebook.
#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/quant/vptq.h"

namespace tz {

namespace {

constexpr unsigned kMaxDimension = 16;
constexpr size_t kMaxCentroids = size_t(1) << 16;

const float* F32(const Napi::TypedArray& a) { return reinterpret_cast<const float*>(TypedArrayBytes(a)); }

struct Layout {
  VptqLayout l;
  float* w;
  Napi::TypedArray array;
};

// weights (or out), cols, v, scale, bias.
Layout ParseLayout(NamedArgs& a, const char* weightsKey) {
  Napi::Env env = a.Env();
  Layout r;
  r.array = a.array(weightsKey, napi_float32_array);
  r.l.cols = size_t(a.integer("cols", 1, int64_t(1) << 40));
  r.l.v = unsigned(a.integer("v", 1, kMaxDimension));
  if (r.array.ElementLength() % r.l.cols) throw Napi::RangeError::New(env, std::string(weightsKey) + " must hold whole rows of " + std::to_string(r.l.cols) + " columns");
  r.l.rows = r.array.ElementLength() / r.l.cols;
  r.w = reinterpret_cast<float*>(TypedArrayBytes(r.array));
  if (a.has("scale") || a.has("bias")) {
    Napi::TypedArray scale = a.array("scale", napi_float32_array);
    Napi::TypedArray bias = a.array("bias", napi_float32_array);
    if (scale.ElementLength() != r.l.cols || bias.ElementLength() != r.l.cols)
      throw Napi::RangeError::New(env, "scale and bias must hold one value per column (" + std::to_string(r.l.cols) + "), or both be absent");
    r.l.scale = F32(scale), r.l.bias = F32(bias);
  }
  return r;
}

// A codebook: k x v values, 1 <= k <= 2^16.
size_t Codebook(NamedArgs& a, const char* key, unsigned v, const float*& out) {
  Napi::TypedArray t = a.array(key, napi_float32_array);
  const size_t n = t.ElementLength();
  if (!n || n % v || n / v > kMaxCentroids) throw Napi::RangeError::New(a.Env(), std::string(key) + " must hold 1 to 65536 vectors of dimension " + std::to_string(v));
  out = F32(t);
  return n / v;
}

// Labels (one per vector) for a codebook of k entries; `check`: every label must be below k.
uint32_t* Labels(NamedArgs& a, const char* key, size_t vectors, size_t k, bool check) {
  Napi::TypedArray t = a.array(key, napi_uint32_array);
  if (t.ElementLength() != vectors) throw Napi::RangeError::New(a.Env(), std::string(key) + " must hold one value per vector (" + std::to_string(vectors) + ")");
  uint32_t* p = reinterpret_cast<uint32_t*>(TypedArrayBytes(t));
  if (check)
    for (size_t n = 0; n < vectors; ++n)
      if (p[n] >= k) throw Napi::RangeError::New(a.Env(), std::string(key) + " hold an index past the codebook's " + std::to_string(k) + " entries");
  return p;
}

// codebook, residual?, labels, labels2? into c (k1, k2 and the labels' pointers).
void ParseCodebooks(NamedArgs& a, VptqCall& c, bool checkLabels) {
  c.k1 = unsigned(Codebook(a, "codebook", c.l.v, c.c1));
  const bool residual = a.has("residual");
  if (residual != a.has("labels2")) throw Napi::TypeError::New(a.Env(), "labels2 must be given exactly when a residual codebook is");
  if (residual) c.k2 = unsigned(Codebook(a, "residual", c.l.v, c.c2));
  c.l1 = Labels(a, "labels", c.l.vectors(), c.k1, checkLabels);
  if (residual) c.l2 = Labels(a, "labels2", c.l.vectors(), c.k2, checkLabels);
}

Napi::Value Gather(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const Layout r = ParseLayout(a, "weights");
  Napi::Float32Array x = Napi::Float32Array::New(info.Env(), r.l.vectors() * r.l.v);
  vptq_gather(r.l, r.w, 0, r.l.vectors(), x.Data());
  return x;
}

template <bool Encode>
Napi::Value Vptq(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const Layout r = ParseLayout(a, Encode ? "weights" : "out");
  VptqCall c{};
  c.l = r.l;
  c.w = r.w;
  ParseCodebooks(a, c, !Encode);
  if (Encode) {
    Napi::TypedArray recon = a.array("recon", napi_float32_array);
    if (recon.ElementLength() != r.l.rows * r.l.cols) throw Napi::RangeError::New(info.Env(), "recon must be as long as weights");
    RequireDisjoint(recon, r.array, "recon and weights");
    c.recon = reinterpret_cast<float*>(TypedArrayBytes(recon));
  }
  return StartCapabilityJob(info, a, Encode ? backend_table().vptqEncode : backend_table().vptqDecode, c);
}

}  // namespace

void RegisterVptq(Napi::Env env, Napi::Object exports) {
  exports.Set("vptqGather", Napi::Function::New(env, Gather, "vptqGather"));
  exports.Set("vptqEncode", Napi::Function::New(env, Vptq<true>, "vptqEncode"));
  exports.Set("vptqDecode", Napi::Function::New(env, Vptq<false>, "vptqDecode"));
}

}  // namespace tz
