// Forward-pass entry points (definitions in cpu/gemm.h, cpu/llama_layer.h, cpu/llama_score.h):
//   llamaLayerAsync(hidden, positions, shape, weights, invFreq, stats | null, { threads }, onProgress)
//     -> job: one decoder layer applied in place to hidden (sequences × positions × shape.hidden).
//     shape: { hidden, heads, kvHeads, headDim, intermediate, window, eps }; weights: { attnNorm,
//     mlpNorm, q, k, v, o, gate, up, down, qBias?, kBias?, vBias? } (Float32Array, [out, in]);
//     stats: { attnIn, oIn, mlpIn, downIn } (Float64Array sums of squared inputs, added to).
//   llamaScoreAsync(ref, other | null, rows, targets, { eps, threads }, onProgress) -> job resolving
//     { nll: Float64Array[], top: Uint32Array[], kl?: Float64Array } (one entry per model);
//     ref/other: { hidden, norm, lm } (final hidden states, final norm, lm_head [vocab, dim]).
//   llamaNormSquaresAsync(hidden, norm, eps, sums) -> job adding Σ rmsnorm(h)² per column to sums
//     (Float64Array [dim]): the input statistics of lm_head for importance matrices.
#include <cmath>
#include <memory>

#include "args.h"
#include "bindings.h"
#include "cpu/forward/llama_layer.h"
#include "cpu/forward/llama_ops.h"
#include "cpu/forward/llama_score.h"
#include "kernel_row.h"
#include "native_job.h"

namespace tz {

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 20;

const float* F32(const Napi::TypedArray& a) { return reinterpret_cast<const float*>(TypedArrayBytes(a)); }

// obj[key]: a Float32Array of exactly `n` values (optional ones may be absent: nullptr).
Napi::TypedArray Member(Napi::Env env, const Napi::Object& obj, const char* key, size_t n, napi_typedarray_type type,
                        bool optional, std::vector<Napi::Object>& keep) {
  const Napi::Value v = obj.Get(key);
  if (optional && (v.IsUndefined() || v.IsNull())) return Napi::TypedArray();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw Napi::TypeError::New(env, std::string(key) + " must be a " + TypedArrayTypeName(type));
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (a.ElementLength() != n)
    throw Napi::RangeError::New(env, std::string(key) + " must hold " + std::to_string(n) + " values, got " + std::to_string(a.ElementLength()));
  keep.push_back(a);
  return a;
}

// shape[key]: a required integer in [min, max].
size_t RequireField(const Napi::Object& shape, const char* key, int64_t min, int64_t max) {
  if (shape.Get(key).IsUndefined()) throw Napi::TypeError::New(shape.Env(), std::string("shape.") + key + " is required");
  return size_t(OptionalInt(shape, key, 0, min, max));
}

double RequireNumber(Napi::Env env, const Napi::Object& o, const char* key, double min) {
  const Napi::Value v = o.Get(key);
  if (!v.IsNumber() || !(v.As<Napi::Number>().DoubleValue() >= min) || !std::isfinite(v.As<Napi::Number>().DoubleValue()))
    throw Napi::RangeError::New(env, std::string(key) + " must be a finite number >= " + std::to_string(min));
  return v.As<Napi::Number>().DoubleValue();
}

struct LayerArgs {
  LlamaLayerShape shape;
  const float *attnNorm, *mlpNorm, *qBias, *kBias, *vBias;
  const float *q, *k, *v, *o, *gate, *up, *down;
  const float* invFreq;
  float* hidden;
  size_t seqs, positions;
  LlamaLayerStats stats;
};

Napi::Value LayerAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Object> keep;
  Napi::TypedArray hidden = RequireTypedArray(info, 0, napi_float32_array, "hidden");
  keep.push_back(hidden);
  LayerArgs a{};
  a.positions = size_t(RequireInt(info, 1, "positions", 1, kMaxDim));
  Napi::Object shape = OptionalObject(info, 2, "shape");
  LlamaLayerShape& s = a.shape;
  s.hidden = RequireField(shape, "hidden", 1, kMaxDim);
  s.heads = RequireField(shape, "heads", 1, 4096);
  s.kvHeads = RequireField(shape, "kvHeads", 1, 4096);
  s.headDim = RequireField(shape, "headDim", 2, 4096);
  s.intermediate = RequireField(shape, "intermediate", 1, kMaxDim);
  s.window = size_t(OptionalInt(shape, "window", 0, 0, kMaxDim));
  s.eps = float(RequireNumber(env, shape, "eps", 0));
  if (s.heads % s.kvHeads) throw Napi::RangeError::New(env, "heads must be a multiple of kvHeads");
  if (s.headDim % 2) throw Napi::RangeError::New(env, "headDim must be even");
  if (hidden.ElementLength() % (a.positions * s.hidden)) throw Napi::RangeError::New(env, "hidden must hold whole sequences of positions × hidden values");
  a.seqs = hidden.ElementLength() / (a.positions * s.hidden);
  a.hidden = reinterpret_cast<float*>(TypedArrayBytes(hidden));
  const size_t H = s.hidden, qd = s.heads * s.headDim, kvd = s.kvHeads * s.headDim, I = s.intermediate;
  if (!info[3].IsObject()) throw Napi::TypeError::New(env, "weights must be an object");
  Napi::Object w = info[3].As<Napi::Object>();
  const auto f = [&](const char* key, size_t n, bool optional = false) {
    Napi::TypedArray t = Member(env, w, key, n, napi_float32_array, optional, keep);
    return t.IsEmpty() ? nullptr : F32(t);
  };
  a.attnNorm = f("attnNorm", H), a.mlpNorm = f("mlpNorm", H);
  a.q = f("q", qd * H), a.k = f("k", kvd * H), a.v = f("v", kvd * H), a.o = f("o", H * qd);
  a.gate = f("gate", I * H), a.up = f("up", I * H), a.down = f("down", H * I);
  a.qBias = f("qBias", qd, true), a.kBias = f("kBias", kvd, true), a.vBias = f("vBias", kvd, true);
  Napi::TypedArray invFreq = RequireTypedArray(info, 4, napi_float32_array, "invFreq");
  if (invFreq.ElementLength() != s.headDim / 2) throw Napi::RangeError::New(env, "invFreq must hold headDim / 2 values");
  keep.push_back(invFreq);
  a.invFreq = F32(invFreq);
  if (!info[5].IsNull() && !info[5].IsUndefined()) {
    if (!info[5].IsObject()) throw Napi::TypeError::New(env, "stats must be an object or null");
    Napi::Object st = info[5].As<Napi::Object>();
    const auto d = [&](const char* key, size_t n) { return reinterpret_cast<double*>(TypedArrayBytes(Member(env, st, key, n, napi_float64_array, false, keep))); };
    a.stats = {d("attnIn", H), d("oIn", qd), d("mlpIn", H), d("downIn", I)};
  }
  const unsigned threads = unsigned(OptionalInt(OptionalObject(info, 6, "options"), "threads", 0, 0, 1024));
  const KernelTable* kt = &kernels();
  JobWork work = [a, threads, kt](JobContext& ctx) -> JobResult {
    const LlamaLayerShape& s = a.shape;
    const size_t H = s.hidden, qd = s.heads * s.headDim, kvd = s.kvHeads * s.headDim, I = s.intermediate;
    LlamaLayerWeights lw;
    lw.attnNorm = a.attnNorm, lw.mlpNorm = a.mlpNorm, lw.qBias = a.qBias, lw.kBias = a.kBias, lw.vBias = a.vBias;
    lw.q.pack(a.q, qd, H, threads, ctx);
    lw.k.pack(a.k, kvd, H, threads, ctx);
    lw.v.pack(a.v, kvd, H, threads, ctx);
    lw.o.pack(a.o, H, qd, threads, ctx);
    lw.gate.pack(a.gate, I, H, threads, ctx);
    lw.up.pack(a.up, I, H, threads, ctx);
    lw.down.pack(a.down, H, I, threads, ctx);
    llama_layer(*kt, s, lw, a.invFreq, a.hidden, a.seqs, a.positions, a.stats, threads, ctx);
    return nullptr;
  };
  return StartJob(env, std::move(work), {info.Length() > 7 ? info[7] : env.Undefined(), std::move(keep)});
}

struct HeadArgs {
  const float *hidden, *norm, *lm;
  size_t n;
};

HeadArgs ParseHead(Napi::Env env, const Napi::Value& v, const char* what, size_t dim, size_t vocab, std::vector<Napi::Object>& keep) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, std::string(what) + " must be an object { hidden, norm, lm }");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value hv = o.Get("hidden");
  if (!hv.IsTypedArray() || hv.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(env, std::string(what) + ".hidden must be a Float32Array");
  Napi::TypedArray hidden = hv.As<Napi::TypedArray>();
  if (hidden.ElementLength() % dim) throw Napi::RangeError::New(env, std::string(what) + ".hidden must hold whole rows of " + std::to_string(dim));
  keep.push_back(hidden);
  HeadArgs h{F32(hidden), F32(Member(env, o, "norm", dim, napi_float32_array, false, keep)),
             F32(Member(env, o, "lm", vocab * dim, napi_float32_array, false, keep)), hidden.ElementLength() / dim};
  return h;
}

Napi::Value ScoreAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) throw Napi::TypeError::New(env, "ref must be an object { hidden, norm, lm }");
  Napi::Object ref = info[0].As<Napi::Object>();
  const Napi::Value norm = ref.Get("norm"), lm = ref.Get("lm");
  if (!norm.IsTypedArray() || !lm.IsTypedArray()) throw Napi::TypeError::New(env, "ref.norm and ref.lm must be Float32Arrays");
  const size_t dim = norm.As<Napi::TypedArray>().ElementLength();
  if (dim == 0 || lm.As<Napi::TypedArray>().ElementLength() % dim) throw Napi::RangeError::New(env, "ref.lm must hold vocab × dim values");
  const size_t vocab = lm.As<Napi::TypedArray>().ElementLength() / dim;
  std::vector<Napi::Object> keep;
  const HeadArgs a = ParseHead(env, info[0], "ref", dim, vocab, keep);
  const bool hasOther = !info[1].IsNull() && !info[1].IsUndefined();
  const HeadArgs b = hasOther ? ParseHead(env, info[1], "other", dim, vocab, keep) : HeadArgs{};
  Napi::TypedArray rows = RequireTypedArray(info, 2, napi_uint32_array, "rows");
  Napi::TypedArray targets = RequireTypedArray(info, 3, napi_uint32_array, "targets");
  if (rows.ElementLength() != targets.ElementLength()) throw Napi::RangeError::New(env, "rows and targets must have the same length");
  const size_t count = rows.ElementLength();
  const uint32_t* r = reinterpret_cast<const uint32_t*>(TypedArrayBytes(rows));
  const uint32_t* t = reinterpret_cast<const uint32_t*>(TypedArrayBytes(targets));
  for (size_t i = 0; i < count; ++i) {
    if (r[i] >= a.n || (hasOther && r[i] >= b.n)) throw Napi::RangeError::New(env, "rows[" + std::to_string(i) + "] is past the hidden states");
    if (t[i] >= vocab) throw Napi::RangeError::New(env, "targets[" + std::to_string(i) + "] = " + std::to_string(t[i]) + " is not below the vocabulary size " + std::to_string(vocab));
  }
  keep.push_back(rows), keep.push_back(targets);
  Napi::Object options = OptionalObject(info, 4, "options");
  const float eps = float(RequireNumber(env, options, "eps", 0));
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  const KernelTable* kt = &kernels();
  JobWork work = [=](JobContext& ctx) -> JobResult {
    struct Out {
      std::vector<double> nll[2], kl;
      std::vector<uint32_t> top[2];
    };
    auto out = std::make_shared<Out>();
    const int models = hasOther ? 2 : 1;
    for (int m = 0; m < models; ++m) out->nll[m].resize(count), out->top[m].resize(count);
    if (hasOther) out->kl.resize(count);
    LlamaHead ha{a.hidden, a.norm, {}}, hb{b.hidden, b.norm, {}};
    ha.lm.pack(a.lm, vocab, dim, threads, ctx);
    if (hasOther) hb.lm.pack(b.lm, vocab, dim, threads, ctx);
    const LlamaScores scores{{out->nll[0].data(), hasOther ? out->nll[1].data() : nullptr},
                             {out->top[0].data(), hasOther ? out->top[1].data() : nullptr},
                             hasOther ? out->kl.data() : nullptr};
    llama_score(*kt, dim, eps, ha, hasOther ? &hb : nullptr, r, t, count, scores, threads, ctx);
    return [out, models, hasOther](Napi::Env e) {
      Napi::Object o = Napi::Object::New(e);
      Napi::Array nll = Napi::Array::New(e, models), top = Napi::Array::New(e, models);
      for (int m = 0; m < models; ++m) {
        Napi::Float64Array n = Napi::Float64Array::New(e, out->nll[m].size());
        std::copy(out->nll[m].begin(), out->nll[m].end(), n.Data());
        Napi::Uint32Array tp = Napi::Uint32Array::New(e, out->top[m].size());
        std::copy(out->top[m].begin(), out->top[m].end(), tp.Data());
        nll[uint32_t(m)] = n, top[uint32_t(m)] = tp;
      }
      o.Set("nll", nll), o.Set("top", top);
      if (hasOther) {
        Napi::Float64Array k = Napi::Float64Array::New(e, out->kl.size());
        std::copy(out->kl.begin(), out->kl.end(), k.Data());
        o.Set("kl", k);
      }
      return o.As<Napi::Value>();
    };
  };
  return StartJob(env, std::move(work), {info.Length() > 5 ? info[5] : env.Undefined(), std::move(keep)});
}

Napi::Value NormSquaresAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::TypedArray hidden = RequireTypedArray(info, 0, napi_float32_array, "hidden");
  Napi::TypedArray norm = RequireTypedArray(info, 1, napi_float32_array, "norm");
  if (!info[2].IsNumber() || !(info[2].As<Napi::Number>().DoubleValue() >= 0)) throw Napi::RangeError::New(env, "eps must be a number >= 0");
  const float eps = info[2].As<Napi::Number>().FloatValue();
  Napi::TypedArray sums = RequireTypedArray(info, 3, napi_float64_array, "sums");
  const size_t dim = norm.ElementLength();
  if (dim == 0 || hidden.ElementLength() % dim) throw Napi::RangeError::New(env, "hidden must hold whole rows of norm's length");
  if (sums.ElementLength() != dim) throw Napi::RangeError::New(env, "sums must hold one value per column (" + std::to_string(dim) + ")");
  const float *h = F32(hidden), *w = F32(norm);
  double* acc = reinterpret_cast<double*>(TypedArrayBytes(sums));
  const size_t rows = hidden.ElementLength() / dim;
  JobWork work = [h, w, acc, rows, dim, eps](JobContext& ctx) -> JobResult {
    std::vector<float> xn(dim);
    for (size_t r = 0; r < rows; ++r) {
      if (r % 256 == 0) ctx.throwIfCancelled();
      rms_norm(h + r * dim, 1, dim, dim, w, eps, xn.data(), dim);
      add_squares(xn.data(), 1, dim, dim, acc);
    }
    return nullptr;
  };
  return StartJob(env, std::move(work), {env.Undefined(), {hidden, norm, sums}});
}

}  // namespace

// Row gemm_panels (kernel_row.h): { x, rows, w, cols, bias?, y } -> y = x·wᵀ (+ bias) over every
// panel; x: rows × k, w: cols × k row-major (packed into panels here), y: rows × cols.
unsigned RunRow_gemm_panels(NamedArgs& a, const KernelTable& kt) {
  Napi::Env env = a.Env();
  Napi::TypedArray x = a.array("x", napi_float32_array);
  const size_t rows = size_t(a.integer("rows", 1, kMaxDim));
  Napi::TypedArray w = a.array("w", napi_float32_array);
  const size_t cols = size_t(a.integer("cols", 1, kMaxDim));
  if (x.ElementLength() % rows) throw Napi::RangeError::New(env, "x must hold rows × k values");
  const size_t k = x.ElementLength() / rows;
  if (w.ElementLength() != cols * k) throw Napi::RangeError::New(env, "w must hold cols × k values");
  const float* bias = nullptr;
  if (a.has("bias")) {
    Napi::TypedArray b = a.array("bias", napi_float32_array);
    if (b.ElementLength() != cols) throw Napi::RangeError::New(env, "bias must hold cols values");
    bias = F32(b);
  }
  Napi::TypedArray y = a.array("y", napi_float32_array);
  if (y.ElementLength() != rows * cols) throw Napi::RangeError::New(env, "y must hold rows × cols values");
  RequireDisjoint(y, x, "y and x");
  JobContext ctx;
  PackedMatrix m;
  m.pack(F32(w), cols, k, 1, ctx);
  kt.gemm_panels(m.args(F32(x), rows, k, bias, reinterpret_cast<float*>(TypedArrayBytes(y)), cols, false), 0, panelCount(cols));
  return 0;
}

void RegisterLlama(Napi::Env env, Napi::Object exports) {
  exports.Set("llamaLayerAsync", Napi::Function::New(env, LayerAsync, "llamaLayerAsync"));
  exports.Set("llamaScoreAsync", Napi::Function::New(env, ScoreAsync, "llamaScoreAsync"));
  exports.Set("llamaNormSquaresAsync", Napi::Function::New(env, NormSquaresAsync, "llamaNormSquaresAsync"));
}

}  // namespace tz
