// vptq entry points (layout in cpu/vptq.h), arguments by name:
//   vptqGather({ weights, cols, v, scale?, bias? }) -> Float32Array of the chunk's vectors
//   vptqEncode({ weights, cols, v, scale?, bias?, codebook, residual?, indices, indices2?, recon,
//     threads?, device? }, onProgress): the indices streams and the reconstruction
//   vptqDecode({ out, cols, v, scale?, bias?, codebook, residual?, indices, indices2?, threads?,
//     device? }, onProgress)
//   device: where the job runs (backend_table.h), with the same result.
// weights/out: Float32Array of rows x cols; codebooks: Float32Array of k x v, k a power of two;
// scale and bias one value per column, both or neither; indices (indices2: into the residual
// codebook, given exactly with one): Uint8Array of one log2(k)-bit label per vector, packed LSB
// first (cpu/codec/bitpack.h) as the container stores them, so every label read is below k.
#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/codec/bitpack.h"
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

// A codebook: k x v values, k a power of two, 1 <= k <= 2^16.
size_t Codebook(NamedArgs& a, const char* key, unsigned v, const float*& out) {
  Napi::TypedArray t = a.array(key, napi_float32_array);
  const size_t n = t.ElementLength(), k = n / v;
  if (!n || n % v || k > kMaxCentroids || (k & (k - 1)))
    throw Napi::RangeError::New(a.Env(), std::string(key) + " must hold a power of two from 1 to 65536 vectors of dimension " + std::to_string(v));
  out = F32(t);
  return k;
}

unsigned Log2(size_t k) {
  unsigned b = 0;
  while ((size_t(1) << b) < k) ++b;
  return b;
}

// A packed indices stream: one log2(k)-bit label per vector (k 1: no bits, an empty stream).
struct Indices {
  uint8_t* bytes = nullptr;
  unsigned bits = 0;
};

Indices PackedIndices(NamedArgs& a, const char* key, size_t vectors, size_t k) {
  Napi::TypedArray t = a.array(key, napi_uint8_array);
  const unsigned bits = Log2(k);
  if (t.ByteLength() != packed_bytes(vectors, bits))
    throw Napi::RangeError::New(a.Env(), std::string(key) + " must hold " + std::to_string(packed_bytes(vectors, bits)) + " bytes (" + std::to_string(vectors) +
                                             " labels of " + std::to_string(bits) + " bits), got " + std::to_string(t.ByteLength()));
  return {TypedArrayBytes(t), bits};
}

// The call's labels live in `labels` (one buffer, shared with the job), unpacked from and packed
// into the streams on the job's thread.
struct Labelled {
  VptqCall c{};
  Indices i1, i2;
  std::shared_ptr<std::vector<uint32_t>> labels;

  void unpack() const {
    unpack_codes(i1.bytes, c.l.vectors(), i1.bits, c.l1);
    if (c.l2) unpack_codes(i2.bytes, c.l.vectors(), i2.bits, c.l2);
  }
  void pack() const {
    pack_codes(c.l1, c.l.vectors(), i1.bits, i1.bytes);
    if (c.l2) pack_codes(c.l2, c.l.vectors(), i2.bits, i2.bytes);
  }
};

// codebook, residual?, indices, indices2?
Labelled ParseCodebooks(NamedArgs& a, const Layout& r) {
  Labelled t;
  VptqCall& c = t.c;
  c.l = r.l;
  c.w = r.w;
  c.k1 = unsigned(Codebook(a, "codebook", c.l.v, c.c1));
  const bool residual = a.has("residual");
  if (residual != a.has("indices2")) throw Napi::TypeError::New(a.Env(), "indices2 must be given exactly when a residual codebook is");
  if (residual) c.k2 = unsigned(Codebook(a, "residual", c.l.v, c.c2));
  const size_t n = c.l.vectors();
  t.i1 = PackedIndices(a, "indices", n, c.k1);
  if (residual) t.i2 = PackedIndices(a, "indices2", n, c.k2);
  t.labels = std::make_shared<std::vector<uint32_t>>(residual ? 2 * n : n);
  c.l1 = t.labels->data();
  if (residual) c.l2 = t.labels->data() + n;
  return t;
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
  Labelled t = ParseCodebooks(a, r);
  if (Encode) {
    Napi::TypedArray recon = a.array("recon", napi_float32_array);
    if (recon.ElementLength() != r.l.rows * r.l.cols) throw Napi::RangeError::New(info.Env(), "recon must be as long as weights");
    RequireDisjoint(recon, r.array, "recon and weights");
    t.c.recon = reinterpret_cast<float*>(TypedArrayBytes(recon));
  }
  const Capability<VptqCall>& row = Encode ? backend_table().vptqEncode : backend_table().vptqDecode;
  return StartCapabilityJob(info, a, row, t.c, [t](JobContext&, const std::function<void()>& run) -> JobResult {
    if (!Encode) t.unpack();
    run();
    if (Encode) t.pack();
    return nullptr;
  });
}

}  // namespace

void RegisterVptq(Napi::Env env, Napi::Object exports) {
  exports.Set("vptqGather", Napi::Function::New(env, Gather, "vptqGather"));
  exports.Set("vptqEncode", Napi::Function::New(env, Vptq<true>, "vptqEncode"));
  exports.Set("vptqDecode", Napi::Function::New(env, Vptq<false>, "vptqDecode"));
}

}  // namespace tz
