// The entropy stage and byte planes: encodePieces / decodePieces (jobs, parallel across pieces;
// codecs 'rans' and 'xz'; the backend table's rans encode and rans decode), bytePlanes
// (synchronous), and the kernel rows rans_encode_block and rans_decode_block.
#include <memory>

#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/codec/byte_planes.h"
#include "cpu/codec/lzma_codec.h"
#include "cpu/codec/rans.h"
#include "named_args.h"
#include "kernel_row.h"
#include "native_job.h"

namespace tz {

namespace {

enum class Codec { Xz, Rans };

Codec ParseCodec(Napi::Env env, const Napi::Value& v) {
  const std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (name == "xz") return Codec::Xz;
  if (name == "rans") return Codec::Rans;
  throw Napi::TypeError::New(env, "codec must be 'rans' or 'xz'");
}

// The rANS model of each piece: models[i] = { bits?, contexts? } (rans.h RansModel), or all defaults.
std::vector<RansModel> ParseModels(Napi::Env env, const Napi::Object& options, size_t pieces) {
  std::vector<RansModel> out(pieces);
  const Napi::Value v = options.Get("models");
  if (v.IsUndefined()) return out;
  if (!v.IsArray() || v.As<Napi::Array>().Length() != pieces) throw Napi::TypeError::New(env, "models must be an array of one model per piece");
  const Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < pieces; ++i) {
    if (!a.Get(i).IsObject()) throw Napi::TypeError::New(env, "models[" + std::to_string(i) + "] must be an object");
    const Napi::Object m = a.Get(i).As<Napi::Object>();
    out[i].bits = unsigned(OptionalInt(m, "bits", 8, 1, 8));
    out[i].contexts = unsigned(OptionalInt(m, "contexts", 1, 1, kRansMaxContexts));
    if (out[i].contexts & (out[i].contexts - 1)) throw Napi::RangeError::New(env, "models[" + std::to_string(i) + "].contexts must be 1, 2, 4 or 8");
  }
  return out;
}

// encodePieces(pieces, { codec: 'rans' | 'xz', models, preset, extreme, weights, probe, threads,
//   device }, onProgress) -> { promise: (Uint8Array | null)[], cancel }; null = store raw. models
//   are rans's; preset, extreme, weights and probe xz's. The rANS blocks run where `device` places
//   the capability (xz on the CPU), to the same frames.
Napi::Value EncodePieces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::TypedArray> arrays = RequireTypedArrayList(info, 0, napi_uint8_array, "pieces");
  Napi::Object options = OptionalObject(info, 1, "options");
  const Codec codec = ParseCodec(env, options.Get("codec"));
  XzOptions xz;
  xz.preset = uint32_t(OptionalInt(options, "preset", 6, 0, 9));
  if (options.Get("extreme").ToBoolean()) xz.preset |= kXzExtreme;
  xz.weightsProfile = options.Get("weights").ToBoolean();
  const bool probe = options.Get("probe").ToBoolean();
  const std::vector<RansModel> models = ParseModels(env, options, arrays.size());
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  auto pieces = std::make_shared<std::vector<EncodePiecesCall::Piece>>();
  for (size_t i = 0; i < arrays.size(); ++i) pieces->push_back({TypedArrayBytes(arrays[i]), arrays[i].ByteLength(), models[i]});
  auto results = std::make_shared<std::vector<std::vector<uint8_t>>>(arrays.size());
  const EncodePiecesCall c{pieces, codec == Codec::Xz, xz, probe, results};
  const Capability<EncodePiecesCall>* row = &backend_table().ransEncode;
  const Placement p = Place(*row, DeviceRequest(NamedArgs(info, 1)), c);  // options is an object: it holds codec
  JobWork work = [row, p, c, threads](JobContext& ctx) -> JobResult {
    Run(*row, p, c, threads, ctx);
    return [results = c.results](Napi::Env env) -> Napi::Value {
      Napi::Array out = Napi::Array::New(env, results->size());
      for (size_t i = 0; i < results->size(); ++i) {
        const auto& r = (*results)[i];
        out.Set(uint32_t(i), r.empty() ? env.Null() : Napi::Value(Napi::Buffer<uint8_t>::Copy(env, r.data(), r.size())));
      }
      return out;
    };
  };
  std::vector<Napi::Object> keepAlive(arrays.begin(), arrays.end());
  return StartJob(env, std::move(work), {info.Length() > 2 ? info[2] : env.Undefined(), keepAlive});
}

// decodePieces(pieces, outputs, { codecs, threads, device }, onProgress): piece i, coded with
// codecs[i] ('rans' or 'xz'), must decode to exactly its output's length. Rejects naming the piece
// index on corrupt data. The rANS blocks run where `device` places the capability (xz pieces and
// constant frames on the CPU).
Napi::Value DecodePieces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::TypedArray> in = RequireTypedArrayList(info, 0, napi_uint8_array, "pieces");
  std::vector<Napi::TypedArray> out = RequireTypedArrayList(info, 1, napi_uint8_array, "outputs");
  if (in.size() != out.size()) throw Napi::RangeError::New(env, "pieces and outputs differ in count");
  for (size_t i = 0; i < in.size(); ++i)
    for (size_t j = 0; j < out.size(); ++j) RequireDisjoint(in[i], out[j], "pieces and outputs");
  Napi::Object options = OptionalObject(info, 2, "options");
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  if (!options.Get("codecs").IsArray() || options.Get("codecs").As<Napi::Array>().Length() != in.size())
    throw Napi::TypeError::New(env, "codecs must be an array of one codec per piece");
  Napi::Array codecNames = options.Get("codecs").As<Napi::Array>();
  auto pieces = std::make_shared<std::vector<PiecesCall::Piece>>();
  for (uint32_t i = 0; i < codecNames.Length(); ++i)
    pieces->push_back({TypedArrayBytes(in[i]), in[i].ByteLength(), TypedArrayBytes(out[i]), out[i].ByteLength(), ParseCodec(env, codecNames.Get(i)) == Codec::Xz});
  const PiecesCall c{pieces};
  const Capability<PiecesCall>* row = &backend_table().ransDecode;
  const Placement p = Place(*row, DeviceRequest(NamedArgs(info, 2)), c);  // options is an object: it holds codecs
  JobWork work = [row, p, c, threads](JobContext& ctx) -> JobResult {
    Run(*row, p, c, threads, ctx);
    return nullptr;
  };
  std::vector<Napi::Object> keepAlive(in.begin(), in.end());
  keepAlive.insert(keepAlive.end(), out.begin(), out.end());
  return StartJob(env, std::move(work), {info.Length() > 3 ? info[3] : env.Undefined(), keepAlive});
}

// bytePlanes({ mode: 'split' | 'merge', src, width, rotate?, dst }): src and dst are Uint8Arrays
// of equal length, a multiple of width (1, 2, 4 or 8).
Napi::Value BytePlanes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedArgs a(info, 0);
  const std::string mode = a.string("mode");
  if (mode != "split" && mode != "merge") throw Napi::TypeError::New(env, "mode must be 'split' or 'merge', got '" + mode + "'");
  Napi::TypedArray src = a.array("src", napi_uint8_array);
  const unsigned width = unsigned(a.integer("width", 1, 8));
  const bool rotate = a.has("rotate") && a.get("rotate").ToBoolean();
  Napi::TypedArray dst = a.array("dst", napi_uint8_array);
  if (width != 1 && width != 2 && width != 4 && width != 8) throw Napi::RangeError::New(env, "width must be 1, 2, 4 or 8");
  if (src.ByteLength() != dst.ByteLength() || src.ByteLength() % width)
    throw Napi::RangeError::New(env, "src and dst must have the same length, a multiple of width");
  RequireDisjoint(src, dst, "src and dst");
  const size_t n = src.ByteLength() / width;
  (mode == "split" ? split_planes : merge_planes)(TypedArrayBytes(src), n, width, rotate, TypedArrayBytes(dst));
  return env.Undefined();
}

}  // namespace

// The frequency tables of a kernel row call: freq holds 256 values per context (1, 2, 4 or 8).
const uint16_t* RowFrequencies(NamedArgs& a, size_t& contexts) {
  Napi::TypedArray freq = a.array("freq", napi_uint16_array);
  contexts = freq.ElementLength() / 256;
  if (freq.ElementLength() % 256 || (contexts != 1 && contexts != 2 && contexts != 4 && contexts != 8))
    throw Napi::RangeError::New(a.Env(), "freq must hold 256 values per context, for 1, 2, 4 or 8 contexts");
  const uint16_t* f = reinterpret_cast<const uint16_t*>(TypedArrayBytes(freq));
  for (size_t c = 0; c < contexts; ++c) {
    uint32_t sum = 0;
    for (int s = 0; s < 256; ++s) sum += f[256 * c + s] < kRansScale ? f[256 * c + s] : kRansScale + 1;
    if (sum != kRansScale) throw Napi::RangeError::New(a.Env(), "each context's 256 frequencies must be below 4096 and sum to 4096");
  }
  return f;
}

// Row rans_encode_block: { symbols, freq, states (Uint32Array of 32), words (Uint16Array of
// symbols + 8) } -> 0; the words end at the end of `words`, and the slots below them are zeroed
// (the encoders leave unspecified values there).
unsigned RunRow_rans_encode_block(NamedArgs& a, const KernelTable& k) {
  Napi::TypedArray symbols = a.array("symbols", napi_uint8_array);
  Napi::TypedArray states = a.array("states", napi_uint32_array);
  Napi::TypedArray words = a.array("words", napi_uint16_array);
  size_t contexts;
  const uint16_t* f = RowFrequencies(a, contexts);
  const size_t n = symbols.ElementLength();
  if (states.ElementLength() != kRansLanes || words.ElementLength() != n + 8) throw Napi::RangeError::New(a.Env(), "states must hold 32 values and words one per symbol and 8 more");
  const uint8_t* sym = TypedArrayBytes(symbols);
  for (size_t i = 0; i < n; ++i)
    if (!f[256 * (i % contexts) + sym[i]]) throw Napi::RangeError::New(a.Env(), "symbol " + std::to_string(i) + " has frequency 0 in its context");
  std::vector<RansEncTable> tables(contexts);
  for (size_t c = 0; c < contexts; ++c) rans_build_enc_table(f + 256 * c, tables[c]);
  uint16_t* w = reinterpret_cast<uint16_t*>(TypedArrayBytes(words));
  const size_t count = k.rans_encode_block(tables.data(), unsigned(contexts), sym, n, reinterpret_cast<uint32_t*>(TypedArrayBytes(states)), w + n + 8);
  std::fill(w, w + n + 8 - count, uint16_t(0));
  return 0;
}

// Row rans_decode_block: { block, freq (Uint16Array of 256 per context: 1, 2, 4 or 8), out }
// -> 0, or 1 for a bad block.
unsigned RunRow_rans_decode_block(NamedArgs& a, const KernelTable& k) {
  Napi::TypedArray block = a.array("block", napi_uint8_array);
  Napi::TypedArray out = a.array("out", napi_uint8_array);
  size_t contexts;
  const uint16_t* f = RowFrequencies(a, contexts);
  std::vector<RansTable> tables(contexts);
  for (size_t c = 0; c < contexts; ++c) rans_build_table(f + 256 * c, tables[c]);
  if (block.ByteLength() < kRansStateBytes || (block.ByteLength() - kRansStateBytes) % 2)
    throw Napi::RangeError::New(a.Env(), "block must hold 128 bytes of states and whole words");
  return k.rans_decode_block(tables.data(), unsigned(contexts), TypedArrayBytes(block), block.ByteLength(), TypedArrayBytes(out), out.ByteLength());
}

void RegisterCodec(Napi::Env env, Napi::Object exports) {
  exports.Set("encodePieces", Napi::Function::New(env, EncodePieces, "encodePieces"));
  exports.Set("decodePieces", Napi::Function::New(env, DecodePieces, "decodePieces"));
  exports.Set("bytePlanes", Napi::Function::New(env, BytePlanes, "bytePlanes"));
}

}  // namespace tz
