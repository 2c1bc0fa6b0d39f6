// vptq entry points (layout in cpu/vptq.h):
//   vptqGather(weights, cols, v, scale | null, bias | null) -> Float32Array of the chunk's vectors
//   vptqEncodeAsync(weights, cols, v, scale, bias, codebook, residual | null, labels, labels2 | null,
//     recon, { threads, device, cudaDevice }, onProgress): labels (Uint32Array, one per vector) and
//     the reconstruction; on the GPU (device 'cuda') with the same result
//   vptqDecodeAsync(out, cols, v, scale, bias, codebook, residual | null, labels, labels2 | null,
//     { threads }, onProgress)
// weights/out: Float32Array of rows x cols; codebooks: Float32Array of k x v.
#include <memory>

#include "args.h"
#include "bindings.h"
#include "cpu/quant/vptq.h"
#include "cuda_call.h"
#include "native_job.h"

namespace tz {

namespace {

constexpr unsigned kMaxDimension = 16;
constexpr size_t kMaxCentroids = size_t(1) << 16;

struct Layout {
  VptqLayout l;
  float* w;
  std::vector<Napi::Object> keep;
};

const float* F32(const Napi::TypedArray& a) { return reinterpret_cast<const float*>(TypedArrayBytes(a)); }

// info[0..4]: weights, cols, v, scale, bias.
Layout ParseLayout(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray weights = RequireTypedArray(info, 0, napi_float32_array, "weights");
  Layout r;
  r.l.cols = size_t(RequireInt(info, 1, "cols", 1, int64_t(1) << 40));
  r.l.v = unsigned(RequireInt(info, 2, "v", 1, kMaxDimension));
  if (weights.ElementLength() % r.l.cols) throw Napi::RangeError::New(env, "weights must hold whole rows of " + std::to_string(r.l.cols) + " columns");
  r.l.rows = weights.ElementLength() / r.l.cols;
  r.w = reinterpret_cast<float*>(TypedArrayBytes(weights));
  r.keep.push_back(weights);
  const bool none = info[3].IsNull() && info[4].IsNull();
  if (!none) {
    Napi::TypedArray scale = RequireTypedArray(info, 3, napi_float32_array, "scale");
    Napi::TypedArray bias = RequireTypedArray(info, 4, napi_float32_array, "bias");
    if (scale.ElementLength() != r.l.cols || bias.ElementLength() != r.l.cols)
      throw Napi::RangeError::New(env, "scale and bias must hold one value per column (" + std::to_string(r.l.cols) + "), or both be null");
    r.l.scale = F32(scale), r.l.bias = F32(bias);
    r.keep.push_back(scale), r.keep.push_back(bias);
  }
  return r;
}

// A codebook argument: k x v values, 1 <= k <= 2^16.
size_t RequireCodebook(const Napi::CallbackInfo& info, size_t i, unsigned v, const char* what, Napi::TypedArray& out) {
  out = RequireTypedArray(info, i, napi_float32_array, what);
  const size_t n = out.ElementLength();
  if (!n || n % v || n / v > kMaxCentroids) throw Napi::RangeError::New(info.Env(), std::string(what) + " must hold 1 to 65536 vectors of dimension " + std::to_string(v));
  return n / v;
}

// Labels (one per vector) for a codebook of k entries; `check`: every label must be below k.
uint32_t* RequireLabels(const Napi::CallbackInfo& info, size_t i, size_t vectors, size_t k, bool check, const char* what) {
  Napi::TypedArray a = RequireTypedArray(info, i, napi_uint32_array, what);
  if (a.ElementLength() != vectors) throw Napi::RangeError::New(info.Env(), std::string(what) + " must hold one value per vector (" + std::to_string(vectors) + ")");
  uint32_t* p = reinterpret_cast<uint32_t*>(TypedArrayBytes(a));
  if (check)
    for (size_t n = 0; n < vectors; ++n)
      if (p[n] >= k) throw Napi::RangeError::New(info.Env(), std::string(what) + " hold an index past the codebook's " + std::to_string(k) + " entries");
  return p;
}

struct Codebooks {
  const float* c1;
  const float* c2;
  size_t k1, k2;
  uint32_t* l1;
  uint32_t* l2;
};

// info[first..first+3]: codebook, residual | null, labels, labels2 | null.
Codebooks ParseCodebooks(const Napi::CallbackInfo& info, size_t first, Layout& r, bool checkLabels) {
  Codebooks c{};
  Napi::TypedArray a;
  c.k1 = RequireCodebook(info, first, r.l.v, "codebook", a);
  c.c1 = F32(a);
  r.keep.push_back(a);
  const bool residual = !info[first + 1].IsNull();
  if (residual != !info[first + 3].IsNull()) throw Napi::TypeError::New(info.Env(), "labels2 must be given exactly when a residual codebook is");
  if (residual) {
    c.k2 = RequireCodebook(info, first + 1, r.l.v, "residual", a);
    c.c2 = F32(a);
    r.keep.push_back(a);
  }
  c.l1 = RequireLabels(info, first + 2, r.l.vectors(), c.k1, checkLabels, "labels");
  r.keep.push_back(info[first + 2].As<Napi::Object>());
  if (residual) {
    c.l2 = RequireLabels(info, first + 3, r.l.vectors(), c.k2, checkLabels, "labels2");
    r.keep.push_back(info[first + 3].As<Napi::Object>());
  }
  return c;
}

Napi::Value Gather(const Napi::CallbackInfo& info) {
  const Layout r = ParseLayout(info);
  Napi::Float32Array x = Napi::Float32Array::New(info.Env(), r.l.vectors() * r.l.v);
  vptq_gather(r.l, r.w, 0, r.l.vectors(), x.Data());
  return x;
}

Napi::Value EncodeAsync(const Napi::CallbackInfo& info) {
  Layout r = ParseLayout(info);
  const Codebooks c = ParseCodebooks(info, 5, r, false);
  Napi::TypedArray recon = RequireTypedArray(info, 9, napi_float32_array, "recon");
  if (recon.ElementLength() != r.l.rows * r.l.cols) throw Napi::RangeError::New(info.Env(), "recon must be as long as weights");
  RequireDisjoint(recon, r.keep[0].As<Napi::TypedArray>(), "recon and weights");
  r.keep.push_back(recon);
  auto c1 = std::make_shared<KmeansCentroids>();
  c1->set(r.l.v, unsigned(c.k1), c.c1);
  std::shared_ptr<KmeansCentroids> c2;
  if (c.c2) c2 = std::make_shared<KmeansCentroids>(), c2->set(r.l.v, unsigned(c.k2), c.c2);
  const Napi::Object options = OptionalObject(info, 10, "options");
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  const int gpu = OptionalCudaDevice(info.Env(), options);
  float* out = reinterpret_cast<float*>(TypedArrayBytes(recon));
  const KernelTable* kt = &kernels();
  JobWork work = [l = r.l, w = r.w, c1, c2, c, out, threads, gpu, kt](JobContext& ctx) -> JobResult {
    if (gpu < 0) {
      vptq_encode(*kt, l, w, *c1, c2.get(), c.l1, c.l2, out, threads, ctx);
      return nullptr;
    }
    // On the GPU: every vector's label (and its residual's) in one assignment each, then the
    // reconstruction as the decoder makes it, which is what vptq_encode computes.
    const size_t n = l.vectors();
    std::vector<float> x(n * l.v);
    vptq_gather(l, w, 0, n, x.data());
    const tzc_job job = CudaJob(ctx);
    CheckCuda(Cuda().kmeansAssign(gpu, x.data(), n, l.v, c.c1, unsigned(c.k1), c.l1, &job), "the vptq assignment");
    if (c.c2) {
      for (size_t i = 0; i < n; ++i)
        for (unsigned t = 0; t < l.v; ++t) x[i * l.v + t] -= c.c1[size_t(c.l1[i]) * l.v + t];
      CheckCuda(Cuda().kmeansAssign(gpu, x.data(), n, l.v, c.c2, unsigned(c.k2), c.l2, &job), "the vptq residual assignment");
    }
    vptq_decode(l, c.c1, c.c2, c.l1, c.l2, out, threads, ctx);
    return nullptr;
  };
  return StartJob(info.Env(), std::move(work), {info.Length() > 11 ? info[11] : info.Env().Undefined(), std::move(r.keep)});
}

Napi::Value DecodeAsync(const Napi::CallbackInfo& info) {
  Layout r = ParseLayout(info);
  const Codebooks c = ParseCodebooks(info, 5, r, true);
  const unsigned threads = unsigned(OptionalInt(OptionalObject(info, 9, "options"), "threads", 0, 0, 1024));
  JobWork work = [l = r.l, out = r.w, c, threads](JobContext& ctx) -> JobResult {
    vptq_decode(l, c.c1, c.c2, c.l1, c.l2, out, threads, ctx);
    return nullptr;
  };
  return StartJob(info.Env(), std::move(work), {info.Length() > 10 ? info[10] : info.Env().Undefined(), std::move(r.keep)});
}

}  // namespace

void RegisterVptq(Napi::Env env, Napi::Object exports) {
  exports.Set("vptqGather", Napi::Function::New(env, Gather, "vptqGather"));
  exports.Set("vptqEncodeAsync", Napi::Function::New(env, EncodeAsync, "vptqEncodeAsync"));
  exports.Set("vptqDecodeAsync", Napi::Function::New(env, DecodeAsync, "vptqDecodeAsync"));
}

}  // namespace tz
