// k-means entry points (definitions in cpu/kmeans.h), the engine of vptq; arguments by name:
//   kmeansTrain({ points, v, k, weights?, iterations?, tolerance?, seed?, sample?, initSample?,
//     threads?, device?, cudaDevice? }, onProgress) -> job resolving
//     { centroids: Float32Array (k x v), objective: number[], repaired }
//   kmeansAssign({ points, v, centroids, labels, threads?, device?, cudaDevice? }, onProgress) ->
//     job writing the label (Uint32Array) of every point
//   kmeansUpdate({ points, v, labels, centroids, weights? }) -> { objective, repaired }: one Lloyd
//     update in place on centroids (k x v) for the labels (synchronous, serial).
// points: Float32Array of n·v values (row-major); weights: one f32 >= 0 per point.
// { device: 'cuda', cudaDevice } runs the Lloyd iterations / the assignment on the GPU (the
// sampling and k-means++ stay on the CPU); the results are the same.
// Row kmeans_assign (kernel_row.h) takes kmeansAssign's arguments.
#include <algorithm>
#include <cmath>
#include <memory>

#include "args.h"
#include "bindings.h"
#include "cpu/kmeans.h"
#include "cuda_call.h"
#include "kernel_row.h"
#include "named_args.h"
#include "native_job.h"

namespace tz {

namespace {

constexpr unsigned kMaxDimension = 16;

// Points of dimension v (a["v"]), checked; returns their count.
size_t Points(NamedArgs& a, unsigned& v, const float*& x) {
  Napi::TypedArray points = a.array("points", napi_float32_array);
  v = unsigned(a.integer("v", 1, kMaxDimension));
  if (points.ElementLength() % v) throw Napi::RangeError::New(a.Env(), "points must hold a whole number of vectors of dimension " + std::to_string(v));
  x = reinterpret_cast<const float*>(TypedArrayBytes(points));
  return points.ElementLength() / v;
}

// k x v centroids: 1 to 2^20 whole vectors.
Napi::TypedArray Centroids(NamedArgs& a, unsigned v) {
  Napi::TypedArray centroids = a.array("centroids", napi_float32_array);
  if (centroids.ElementLength() == 0 || centroids.ElementLength() % v || centroids.ElementLength() / v > (1u << 20))
    throw Napi::RangeError::New(a.Env(), "centroids must hold 1 to 2^20 vectors of dimension " + std::to_string(v));
  return centroids;
}

// One u32 label per point.
Napi::TypedArray Labels(NamedArgs& a, size_t n) {
  Napi::TypedArray labels = a.array("labels", napi_uint32_array);
  if (labels.ElementLength() != n) throw Napi::RangeError::New(a.Env(), "labels must hold one value per point (" + std::to_string(n) + ")");
  return labels;
}

Napi::Value Train(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedArgs a(info, 0);
  unsigned v;
  const float* x;
  const size_t n = Points(a, v, x);
  KmeansOptions o;
  o.k = unsigned(a.integer("k", 1, 1 << 20));
  const float* w = a.nonNegative("weights", n, "point");
  o.maxIterations = unsigned(a.optionalInteger("iterations", 25, 1, 100000));
  o.seed = uint64_t(a.optionalInteger("seed", 1, 0, int64_t(1) << 53));
  o.sample = size_t(a.optionalInteger("sample", 0, 0, int64_t(1) << 40));
  o.initSample = size_t(a.optionalInteger("initSample", 0, 0, int64_t(1) << 40));
  const unsigned threads = a.threads();
  if (a.has("tolerance")) {
    const Napi::Value t = a.get("tolerance");
    if (!t.IsNumber() || !(t.As<Napi::Number>().DoubleValue() >= 0)) throw Napi::RangeError::New(env, "tolerance must be a number >= 0");
    o.tolerance = t.As<Napi::Number>().DoubleValue();
  }
  const int gpu = OptionalCudaDevice(env, a.object());
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
  return StartJob(env, std::move(work), {info.Length() > 1 ? info[1] : env.Undefined(), std::move(a.keep())});
}

struct AssignArgs {
  std::shared_ptr<KmeansCentroids> c;
  const float* x;
  size_t n;
  uint32_t* labels;
  const float* centroids;  // k x v, as passed (the GPU's layout)
  unsigned v, k;
};

AssignArgs ParseAssign(NamedArgs& a) {
  AssignArgs r;
  r.n = Points(a, r.v, r.x);
  Napi::TypedArray centroids = Centroids(a, r.v);
  r.labels = reinterpret_cast<uint32_t*>(TypedArrayBytes(Labels(a, r.n)));
  r.k = unsigned(centroids.ElementLength() / r.v);
  r.centroids = reinterpret_cast<const float*>(TypedArrayBytes(centroids));
  r.c = std::make_shared<KmeansCentroids>();
  r.c->set(r.v, r.k, r.centroids);
  return r;
}

Napi::Value Assign(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const AssignArgs p = ParseAssign(a);
  const unsigned threads = a.threads();
  const int gpu = OptionalCudaDevice(info.Env(), a.object());
  const KernelTable* kt = &kernels();
  JobWork work = [p, threads, gpu, kt](JobContext& ctx) -> JobResult {
    if (gpu < 0) {
      kmeans_assign_all(*kt, *p.c, p.x, p.n, p.labels, threads, ctx);
    } else {
      const tzc_job job = CudaJob(ctx);
      CheckCuda(Cuda().kmeansAssign(gpu, p.x, p.n, p.v, p.centroids, p.k, p.labels, &job), "k-means assignment");
    }
    return nullptr;
  };
  return StartJob(info.Env(), std::move(work), {info.Length() > 1 ? info[1] : info.Env().Undefined(), std::move(a.keep())});
}

Napi::Value Update(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedArgs a(info, 0);
  unsigned v;
  const float* x;
  const size_t n = Points(a, v, x);
  Napi::TypedArray labels = Labels(a, n);
  Napi::TypedArray centroids = Centroids(a, v);
  RequireDisjoint(a.get("points").As<Napi::TypedArray>(), centroids, "points and centroids");
  RequireDisjoint(labels, centroids, "labels and centroids");
  const unsigned k = unsigned(centroids.ElementLength() / v);
  const uint32_t* l = reinterpret_cast<const uint32_t*>(TypedArrayBytes(labels));
  for (size_t i = 0; i < n; ++i)
    if (l[i] >= k) throw Napi::RangeError::New(env, "label " + std::to_string(l[i]) + " of point " + std::to_string(i) + " is not below k = " + std::to_string(k));
  const float* w = a.nonNegative("weights", n, "point");
  if (w) RequireDisjoint(a.get("weights").As<Napi::TypedArray>(), centroids, "weights and centroids");
  KmeansUpdateScratch scratch;
  unsigned repaired = 0;
  const double objective = kmeans_update(x, n, v, w, l, k, reinterpret_cast<float*>(TypedArrayBytes(centroids)), scratch, repaired);
  Napi::Object out = Napi::Object::New(env);
  out.Set("objective", objective);
  out.Set("repaired", double(repaired));
  return out;
}

}  // namespace

unsigned RunRow_kmeans_assign(NamedArgs& a, const KernelTable& k) {
  const AssignArgs p = ParseAssign(a);
  k.kmeans_assign(*p.c, p.x, p.n, p.labels);
  return 0;
}

void RegisterKmeans(Napi::Env env, Napi::Object exports) {
  exports.Set("kmeansTrain", Napi::Function::New(env, Train, "kmeansTrain"));
  exports.Set("kmeansAssign", Napi::Function::New(env, Assign, "kmeansAssign"));
  exports.Set("kmeansUpdate", Napi::Function::New(env, Update, "kmeansUpdate"));
}

}  // namespace tz
