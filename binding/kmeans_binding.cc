// k-means entry points (definitions in cpu/kmeans.h), the engine of vptq:
//   kmeansTrainAsync(points, v, k, weights | null, { iterations, tolerance, seed, sample, initSample, threads },
//     onProgress) -> job resolving { centroids: Float32Array (k x v), objective: number[], repaired }
//   kmeansAssign(points, v, centroids, labels, path?): labels (Uint32Array) for every point;
//   kmeansAssignAsync(points, v, centroids, labels, { threads }, onProgress): the same as a job.
//   kmeansUpdate(points, v, labels, centroids, weights | null) -> { objective, repaired }: one
//     Lloyd update in place on centroids (k x v) for the labels (synchronous, serial).
// points: Float32Array of n·v values (row-major); weights: one f32 per point, or null.
// Options { device: 'cuda', cudaDevice } run the Lloyd iterations / the assignment on the GPU
// (the sampling and k-means++ stay on the CPU); the results are the same.
#include <algorithm>
#include <cmath>
#include <memory>

#include "args.h"
#include "bindings.h"
#include "cpu/quant/kmeans.h"
#include "cuda_call.h"
#include "native_job.h"

namespace tz {

namespace {

constexpr unsigned kMaxDimension = 16;

// The point count of `points` for dimension v (info[i]), checked.
size_t RequirePoints(const Napi::CallbackInfo& info, const Napi::TypedArray& points, unsigned v) {
  if (points.ElementLength() % v) throw Napi::RangeError::New(info.Env(), "points must hold a whole number of vectors of dimension " + std::to_string(v));
  return points.ElementLength() / v;
}

// k x v centroids at info[i]: 1 to 2^20 whole vectors.
Napi::TypedArray RequireCentroids(const Napi::CallbackInfo& info, size_t i, unsigned v) {
  Napi::TypedArray centroids = RequireTypedArray(info, i, napi_float32_array, "centroids");
  if (centroids.ElementLength() == 0 || centroids.ElementLength() % v || centroids.ElementLength() / v > (1u << 20))
    throw Napi::RangeError::New(info.Env(), "centroids must hold 1 to 2^20 vectors of dimension " + std::to_string(v));
  return centroids;
}

// One u32 label per point at info[i].
Napi::TypedArray RequireLabels(const Napi::CallbackInfo& info, size_t i, size_t n) {
  Napi::TypedArray labels = RequireTypedArray(info, i, napi_uint32_array, "labels");
  if (labels.ElementLength() != n) throw Napi::RangeError::New(info.Env(), "labels must hold one value per point (" + std::to_string(n) + ")");
  return labels;
}

// Optional per-point weights at info[i] (null or undefined: none), checked finite and >= 0; kept
// alive by `keep` for async work.
const float* OptionalWeights(const Napi::CallbackInfo& info, size_t i, size_t n, std::vector<Napi::Object>& keep) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return RequireNonNegative(info, i, n, "weights", "point", keep);
}

Napi::Value Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray points = RequireTypedArray(info, 0, napi_float32_array, "points");
  const unsigned v = unsigned(RequireInt(info, 1, "v", 1, kMaxDimension));
  const size_t n = RequirePoints(info, points, v);
  KmeansOptions o;
  o.k = unsigned(RequireInt(info, 2, "k", 1, 1 << 20));
  std::vector<Napi::Object> keep = {points};
  const float* w = OptionalWeights(info, 3, n, keep);
  Napi::Object options = OptionalObject(info, 4, "options");
  o.maxIterations = unsigned(OptionalInt(options, "iterations", 25, 1, 100000));
  o.seed = uint64_t(OptionalInt(options, "seed", 1, 0, int64_t(1) << 53));
  o.sample = size_t(OptionalInt(options, "sample", 0, 0, int64_t(1) << 40));
  o.initSample = size_t(OptionalInt(options, "initSample", 0, 0, int64_t(1) << 40));
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  if (options.Has("tolerance")) {
    const Napi::Value t = options.Get("tolerance");
    if (!t.IsNumber() || !(t.As<Napi::Number>().DoubleValue() >= 0)) throw Napi::RangeError::New(env, "tolerance must be a number >= 0");
    o.tolerance = t.As<Napi::Number>().DoubleValue();
  }
  const int gpu = OptionalCudaDevice(env, options);
  const float* x = reinterpret_cast<const float*>(TypedArrayBytes(points));
  const KernelTable* kt = &kernels();
  JobWork work = [=](JobContext& ctx) -> JobResult {
    KmeansLloydFn lloyd;
    if (gpu >= 0)
      lloyd = [&](const float* tx, size_t tn, const float* tw, KmeansResult& r) {
        std::vector<double> objective(o.maxIterations);
        unsigned iterations = 0, repaired = 0;
        const tzc_job job = CudaJob(ctx);
        CheckCuda(Cuda().kmeansLloyd(gpu, tx, tn, v, tw, o.k, o.maxIterations, o.tolerance, r.centroids.data(), objective.data(), &iterations,
                                     &repaired, &job),
                  "k-means");
        r.objective.assign(objective.begin(), objective.begin() + std::min<size_t>(iterations, objective.size()));
        r.repaired = repaired;
      };
    auto r = std::make_shared<KmeansResult>(kmeans_train(*kt, x, n, v, w, o, threads, ctx, lloyd));
    return [r](Napi::Env e) {
      Napi::Object out = Napi::Object::New(e);
      Napi::Float32Array c = Napi::Float32Array::New(e, r->centroids.size());
      std::copy(r->centroids.begin(), r->centroids.end(), c.Data());
      Napi::Array objective = Napi::Array::New(e, r->objective.size());
      for (size_t i = 0; i < r->objective.size(); ++i) objective[i] = r->objective[i];
      out.Set("centroids", c);
      out.Set("objective", objective);
      out.Set("repaired", double(r->repaired));
      return out.As<Napi::Value>();
    };
  };
  return StartJob(env, std::move(work), {info.Length() > 5 ? info[5] : env.Undefined(), std::move(keep)});
}

struct AssignArgs {
  std::shared_ptr<KmeansCentroids> c;
  const float* x;
  size_t n;
  uint32_t* labels;
  const float* centroids;  // k x v, as passed (the GPU's layout)
  unsigned v, k;
  std::vector<Napi::Object> keep;
};

AssignArgs ParseAssign(const Napi::CallbackInfo& info) {
  Napi::TypedArray points = RequireTypedArray(info, 0, napi_float32_array, "points");
  const unsigned v = unsigned(RequireInt(info, 1, "v", 1, kMaxDimension));
  const size_t n = RequirePoints(info, points, v);
  Napi::TypedArray centroids = RequireCentroids(info, 2, v);
  Napi::TypedArray labels = RequireLabels(info, 3, n);
  auto c = std::make_shared<KmeansCentroids>();
  c->set(v, unsigned(centroids.ElementLength() / v), reinterpret_cast<const float*>(TypedArrayBytes(centroids)));
  const float* raw = reinterpret_cast<const float*>(TypedArrayBytes(centroids));
  return {c, reinterpret_cast<const float*>(TypedArrayBytes(points)), n, reinterpret_cast<uint32_t*>(TypedArrayBytes(labels)), raw, v,
          unsigned(centroids.ElementLength() / v), {points, labels, centroids}};
}

Napi::Value Assign(const Napi::CallbackInfo& info) {
  const AssignArgs a = ParseAssign(info);
  RequireKernelPath(info, 4).kmeans_assign(*a.c, a.x, a.n, a.labels);
  return info.Env().Undefined();
}

Napi::Value AssignAsync(const Napi::CallbackInfo& info) {
  AssignArgs a = ParseAssign(info);
  const Napi::Object options = OptionalObject(info, 4, "options");
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  const int gpu = OptionalCudaDevice(info.Env(), options);
  const KernelTable* kt = &kernels();
  JobWork work = [c = a.c, x = a.x, n = a.n, labels = a.labels, centroids = a.centroids, v = a.v, k = a.k, threads, gpu, kt](JobContext& ctx) -> JobResult {
    if (gpu < 0) {
      kmeans_assign_all(*kt, *c, x, n, labels, threads, ctx);
    } else {
      const tzc_job job = CudaJob(ctx);
      CheckCuda(Cuda().kmeansAssign(gpu, x, n, v, centroids, k, labels, &job), "k-means assignment");
    }
    return nullptr;
  };
  return StartJob(info.Env(), std::move(work), {info.Length() > 5 ? info[5] : info.Env().Undefined(), std::move(a.keep)});
}

Napi::Value Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray points = RequireTypedArray(info, 0, napi_float32_array, "points");
  const unsigned v = unsigned(RequireInt(info, 1, "v", 1, kMaxDimension));
  const size_t n = RequirePoints(info, points, v);
  Napi::TypedArray labels = RequireLabels(info, 2, n);
  Napi::TypedArray centroids = RequireCentroids(info, 3, v);
  RequireDisjoint(points, centroids, "points and centroids");
  RequireDisjoint(labels, centroids, "labels and centroids");
  const unsigned k = unsigned(centroids.ElementLength() / v);
  const uint32_t* l = reinterpret_cast<const uint32_t*>(TypedArrayBytes(labels));
  for (size_t i = 0; i < n; ++i)
    if (l[i] >= k) throw Napi::RangeError::New(env, "label " + std::to_string(l[i]) + " of point " + std::to_string(i) + " is not below k = " + std::to_string(k));
  std::vector<Napi::Object> keep;
  const float* w = OptionalWeights(info, 4, n, keep);
  if (w) RequireDisjoint(keep[0].As<Napi::TypedArray>(), centroids, "weights and centroids");
  KmeansUpdateScratch scratch;
  unsigned repaired = 0;
  const double objective = kmeans_update(reinterpret_cast<const float*>(TypedArrayBytes(points)), n, v, w, l, k,
                                         reinterpret_cast<float*>(TypedArrayBytes(centroids)), scratch, repaired);
  Napi::Object out = Napi::Object::New(env);
  out.Set("objective", objective);
  out.Set("repaired", double(repaired));
  return out;
}

}  // namespace

void RegisterKmeans(Napi::Env env, Napi::Object exports) {
  exports.Set("kmeansTrainAsync", Napi::Function::New(env, Train, "kmeansTrainAsync"));
  exports.Set("kmeansAssign", Napi::Function::New(env, Assign, "kmeansAssign"));
  exports.Set("kmeansAssignAsync", Napi::Function::New(env, AssignAsync, "kmeansAssignAsync"));
  exports.Set("kmeansUpdate", Napi::Function::New(env, Update, "kmeansUpdate"));
}

}  // namespace tz
