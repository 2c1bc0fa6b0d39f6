// k-means entry points (definitions in cpu/kmeans.h), the engine of vptq; arguments by name:
//   kmeansTrain({ points, v, k, weights?, iterations?, tolerance?, seed?, sample?, initSample?,
//     threads?, device? }, onProgress) -> job resolving
//     { centroids: Float32Array (k x v), objective: number[], repaired }
//   kmeansAssign({ points, v, centroids, labels, threads?, device? }, onProgress) -> job writing
//     the label (Uint32Array) of every point
//   kmeansUpdate({ points, v, labels, centroids, weights? }) -> { objective, repaired }: one Lloyd
//     update in place on centroids (k x v) for the labels (synchronous, serial).
// points: Float32Array of n·v values (row-major); weights: one f32 >= 0 per point.
// device (backend_table.h) places the Lloyd iterations ("k-means Lloyd") and the assignment
// ("k-means assign"); the sampling and k-means++ stay on the CPU. The results are the same.
// Row kmeans_assign (kernel_row.h) takes kmeansAssign's arguments.
#include <algorithm>
#include <cmath>
#include <memory>

#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/quant/kmeans.h"
#include "kernel_row.h"

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
  const Capability<KmeansLloydCall>& row = backend_table().kmeansLloyd;
  const Placement p = Place(row, DeviceRequest(a), KmeansLloydCall{});
  const KernelTable* kt = &kernels();
  JobWork work = [=, &row](JobContext& ctx) -> JobResult {
    const KmeansLloydFn lloyd = [&](const float* tx, size_t tn, const float* tw, KmeansResult& r) {
      Run(row, p, KmeansLloydCall{tx, tn, v, tw, o.k, o.maxIterations, o.tolerance, &r}, threads, ctx);
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

KmeansAssignCall ParseAssign(NamedArgs& a) {
  unsigned v;
  const float* x;
  const size_t n = Points(a, v, x);
  Napi::TypedArray centroids = Centroids(a, v);
  uint32_t* labels = reinterpret_cast<uint32_t*>(TypedArrayBytes(Labels(a, n)));
  auto c = std::make_shared<KmeansCentroids>();
  c->set(v, unsigned(centroids.ElementLength() / v), reinterpret_cast<const float*>(TypedArrayBytes(centroids)));
  return {c, x, n, labels};
}

Napi::Value Assign(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  return StartCapabilityJob(info, a, backend_table().kmeansAssign, ParseAssign(a));
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
  const KmeansAssignCall c = ParseAssign(a);
  k.kmeans_assign(*c.c, c.x, c.n, c.labels);
  return 0;
}

void RegisterKmeans(Napi::Env env, Napi::Object exports) {
  exports.Set("kmeansTrain", Napi::Function::New(env, Train, "kmeansTrain"));
  exports.Set("kmeansAssign", Napi::Function::New(env, Assign, "kmeansAssign"));
  exports.Set("kmeansUpdate", Napi::Function::New(env, Update, "kmeansUpdate"));
}

}  // namespace tz
