// The entropy stage and byte planes: encodePieces / decodePieces (jobs, parallel across pieces;
// codecs 'rans' and 'xz'; the backend table's rans encode and rans decode), bytePlanes
// (synchronous), and the kernel rows rans_encode_block and rans_decode_block.
#include <zlib.h>  // Node's own zlib (its headers ship with Node)

#include <algorithm>
#include <cstring>
#include <memory>

#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/codec/lzma_codec.h"
#include "cpu/codec/rans.h"
#include "named_args.h"
#include "kernel_row.h"
#include "native_job.h"
#include "cpu/runtime/parallel.h"

namespace tz {

namespace {

enum class Codec { Xz, Rans, Raw };

// 'raw' only where allowRaw (decodePieces' pieces that are checked, not decoded).
Codec ParseCodec(Napi::Env env, const Napi::Value& v, bool allowRaw = false) {
  const std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (name == "xz") return Codec::Xz;
  if (name == "rans") return Codec::Rans;
  if (name == "raw" && allowRaw) return Codec::Raw;
  throw Napi::TypeError::New(env, allowRaw ? "codec must be 'rans', 'xz' or 'raw'" : "codec must be 'rans' or 'xz'");
}

// A piece's bytes and the CRC-32 its record gives.
struct CheckedPiece {
  const uint8_t* src;
  size_t bytes;
  uint32_t crc32;
};

// The CRC-32 of each piece on the job's threads: segments of 4 MiB in parallel, joined with
// crc32_combine (zlib's, as linked into Node).
std::vector<uint32_t> PieceChecksums(const std::vector<std::pair<const uint8_t*, size_t>>& pieces, unsigned threads, JobContext& ctx) {
  constexpr size_t kSegment = 4 << 20;
  std::vector<std::pair<size_t, size_t>> tasks;  // (piece, segment)
  for (size_t i = 0; i < pieces.size(); ++i)
    for (size_t s = 0; s == 0 || s * kSegment < pieces[i].second; ++s) tasks.push_back({i, s});
  std::vector<uLong> crcs(tasks.size());
  parallel_for(tasks.size(), 1, threads, ctx, [&](size_t t, size_t) {
    const auto [i, s] = tasks[t];
    const size_t begin = s * kSegment, n = std::min(kSegment, pieces[i].second - begin);
    crcs[t] = crc32_z(0, pieces[i].first + begin, n);
  }, false);
  std::vector<uint32_t> out(pieces.size());
  for (size_t t = 0; t < tasks.size();) {
    const size_t i = tasks[t].first;
    uLong crc = crcs[t];
    for (++t; t < tasks.size() && tasks[t].first == i; ++t) crc = crc32_combine(crc, crcs[t], z_off_t(std::min(kSegment, pieces[i].second - tasks[t].second * kSegment)));
    out[i] = uint32_t(crc);
  }
  return out;
}

// Checks every piece against its CRC-32 on the job's threads, before anything decodes. Throws
// "piece i: checksum mismatch" for the first bad piece.
void CheckPieces(const std::vector<CheckedPiece>& pieces, unsigned threads, JobContext& ctx) {
  std::vector<std::pair<const uint8_t*, size_t>> spans;
  for (const auto& p : pieces) spans.push_back({p.src, p.bytes});
  const std::vector<uint32_t> crcs = PieceChecksums(spans, threads, ctx);
  for (size_t i = 0; i < pieces.size(); ++i)
    if (crcs[i] != pieces[i].crc32) throw std::runtime_error("piece " + std::to_string(i) + ": checksum mismatch");
}

// Elements to be split into byte planes (RunPlanes' layout) that are pieces of an encodePieces
// call: its pieces first .. first + width - 1.
struct PlaneSplit {
  const uint8_t* src;
  size_t n;
  unsigned width;
  bool rotate;
  std::vector<uint8_t*> planes;
};

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

// options.splits = [{ src, width, rotate?, first }]: pieces first .. first + width - 1 are to be
// filled with the byte planes of src (RunPlanes' layout) before they are coded; taken[i] tells
// whether piece i is such a plane. Each src goes to memory, read.
std::vector<PlaneSplit> ParseSplits(Napi::Env env, const Napi::Object& options, const std::vector<Napi::TypedArray>& pieces,
                                   std::vector<bool>& taken, JobMemory& memory, std::vector<Napi::Object>& keepAlive) {
  std::vector<PlaneSplit> out;
  taken.assign(pieces.size(), false);
  const Napi::Value v = options.Get("splits");
  if (v.IsUndefined()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(env, "splits must be an array of { src, width, rotate?, first }");
  const Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string at = "splits[" + std::to_string(i) + "]";
    if (!a.Get(i).IsObject()) throw Napi::TypeError::New(env, at + " must be an object { src, width, rotate?, first }");
    const Napi::Object o = a.Get(i).As<Napi::Object>();
    if (!o.Get("src").IsTypedArray() || o.Get("src").As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      throw Napi::TypeError::New(env, at + ".src must be a Uint8Array");
    const Napi::TypedArray src = o.Get("src").As<Napi::TypedArray>();
    const unsigned width = unsigned(OptionalInt(o, "width", 0, 1, 8));
    if (width != 1 && width != 2 && width != 4 && width != 8) throw Napi::RangeError::New(env, at + ".width must be 1, 2, 4 or 8");
    const int64_t first = OptionalInt(o, "first", -1, 0, int64_t(pieces.size()));
    if (first < 0 || size_t(first) + width > pieces.size()) throw Napi::RangeError::New(env, at + ": its planes must be pieces of this call");
    if (src.ByteLength() % width) throw Napi::RangeError::New(env, at + ".src must hold whole elements");
    PlaneSplit split{TypedArrayBytes(src), src.ByteLength() / width, width, o.Get("rotate").ToBoolean(), {}};
    for (unsigned k = 0; k < width; ++k) {
      const Napi::TypedArray& plane = pieces[size_t(first) + k];
      if (taken[size_t(first) + k]) throw Napi::RangeError::New(env, at + ": piece " + std::to_string(first + k) + " is the plane of another split");
      taken[size_t(first) + k] = true;
      if (plane.ByteLength() != split.n) throw Napi::RangeError::New(env, at + ": piece " + std::to_string(first + k) + " is not one byte per element");
      split.planes.push_back(TypedArrayBytes(plane));
    }
    memory.read(src, memory.group(at + ".src"));
    keepAlive.push_back(src);
    out.push_back(std::move(split));
  }
  return out;
}

// fn(item, begin, count) over windows of 1 Mi elements of every item (items[i] elements each),
// on the job's threads: how byte planes are split and merged.
template <typename F>
void ForPlaneWindows(const std::vector<size_t>& items, unsigned threads, JobContext& ctx, const F& fn) {
  constexpr size_t kWindow = 1 << 20;
  std::vector<std::pair<size_t, size_t>> tasks;  // (item, window)
  for (size_t i = 0; i < items.size(); ++i)
    for (size_t w = 0; w * kWindow < items[i]; ++w) tasks.push_back({i, w});
  parallel_for(tasks.size(), 1, threads, ctx, [&](size_t t, size_t) {
    const auto [i, w] = tasks[t];
    fn(i, w * kWindow, std::min(kWindow, items[i] - w * kWindow));
  }, false);
}

void SplitPlanes(const std::vector<PlaneSplit>& splits, unsigned threads, JobContext& ctx) {
  std::vector<size_t> items;
  for (const PlaneSplit& s : splits) items.push_back(s.n);
  const KernelTable& k = kernels();
  ForPlaneWindows(items, threads, ctx, [&](size_t i, size_t begin, size_t count) {
    const PlaneSplit& s = splits[i];
    std::vector<uint8_t*> planes(s.width);
    for (unsigned p = 0; p < s.width; ++p) planes[p] = s.planes[p] + begin;
    k.split_planes(s.src + begin * s.width, count, s.width, s.rotate, planes.data());
  });
}

// encodePieces(pieces, outputs, { codec: 'rans' | 'xz', models, preset, extreme, weights, probe,
//   splits, threads, device }, onProgress) -> { promise: { sizes: (number | null)[], crc32:
//   number[] }, cancel }; piece i coded is written to the start of outputs[i] (the caller's
//   memory, reused call after call: no fresh pages, no copy on the JS thread), sizes[i] bytes, or
//   sizes[i] null = store the piece raw (a piece is coded only when that saves 1 %, so an output as
//   large as its piece always suffices); crc32[i]: the CRC-32 of what is stored (the coded bytes,
//   or the piece). models are rans's; preset, extreme, weights and probe xz's; splits
//   (ParseSplits) fill pieces first. The rANS blocks run where `device` places the capability (xz
//   on the CPU), to the same frames.
Napi::Value EncodePieces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::TypedArray> arrays = RequireTypedArrayList(info, 0, napi_uint8_array, "pieces");
  std::vector<Napi::TypedArray> outputs = RequireTypedArrayList(info, 1, napi_uint8_array, "outputs");
  if (outputs.size() != arrays.size()) throw Napi::RangeError::New(env, "pieces and outputs differ in count");
  Napi::Object options = OptionalObject(info, 2, "options");
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
  std::vector<Napi::Object> keepAlive(arrays.begin(), arrays.end());
  keepAlive.insert(keepAlive.end(), outputs.begin(), outputs.end());
  // Split planes are written first, the outputs last; pieces and splits' sources are only read.
  JobMemory memory;
  std::vector<bool> isPlane;
  auto splits = std::make_shared<const std::vector<PlaneSplit>>(ParseSplits(env, options, arrays, isPlane, memory, keepAlive));
  const size_t planesGroup = memory.group("split planes"), piecesGroup = memory.group("pieces"), outputsGroup = memory.group("outputs");
  for (size_t i = 0; i < arrays.size(); ++i) {
    if (isPlane[i]) memory.write(arrays[i], planesGroup);
    else memory.read(arrays[i], piecesGroup);
    memory.write(outputs[i], outputsGroup);
  }
  memory.check(env);
  auto results = std::make_shared<std::vector<std::vector<uint8_t>>>(arrays.size());
  auto dst = std::make_shared<std::vector<std::pair<uint8_t*, size_t>>>();
  for (const Napi::TypedArray& out : outputs) dst->push_back({TypedArrayBytes(out), out.ByteLength()});
  const EncodePiecesCall c{pieces, codec == Codec::Xz, xz, probe, results};
  const Capability<EncodePiecesCall>* row = &backend_table().ransEncode;
  const Placement p = Place(*row, DeviceRequest(NamedArgs(info, 2)), c);  // options is an object: it holds codec
  JobWork work = [row, p, c, splits, dst, threads](JobContext& ctx) -> JobResult {
    SplitPlanes(*splits, threads, ctx);
    Run(*row, p, c, threads, ctx);
    const auto& results = *c.results;
    for (size_t i = 0; i < results.size(); ++i)
      if (results[i].size() > (*dst)[i].second)
        throw std::runtime_error("outputs[" + std::to_string(i) + "] holds " + std::to_string((*dst)[i].second) + " bytes; piece " + std::to_string(i) + " coded takes " + std::to_string(results[i].size()));
    // What is stored, copied out and checksummed on the job's threads: the coded bytes, or the piece.
    std::vector<std::pair<const uint8_t*, size_t>> stored;
    for (size_t i = 0; i < results.size(); ++i)
      stored.push_back(results[i].empty() ? std::pair{(*c.pieces)[i].src, (*c.pieces)[i].bytes} : std::pair{(*dst)[i].first, results[i].size()});
    parallel_for(results.size(), 1, threads, ctx, [&](size_t i, size_t) {
      if (!results[i].empty()) std::memcpy((*dst)[i].first, results[i].data(), results[i].size());
    }, false);
    auto crcs = std::make_shared<std::vector<uint32_t>>(PieceChecksums(stored, threads, ctx));
    // Only the sizes go on: the coded bytes are in the outputs, freed here rather than with the job.
    auto coded = std::make_shared<std::vector<size_t>>();
    for (auto& r : *c.results) coded->push_back(r.size()), r = {};
    return [coded, crcs](Napi::Env env) -> Napi::Value {
      Napi::Array sizes = Napi::Array::New(env, coded->size());
      Napi::Array crc32 = Napi::Array::New(env, coded->size());
      for (size_t i = 0; i < coded->size(); ++i) {
        sizes.Set(uint32_t(i), (*coded)[i] ? Napi::Number::New(env, double((*coded)[i])) : env.Null());
        crc32.Set(uint32_t(i), Napi::Number::New(env, (*crcs)[i]));
      }
      Napi::Object out = Napi::Object::New(env);
      out.Set("sizes", sizes);
      out.Set("crc32", crc32);
      return out;
    };
  };
  return StartJob(env, std::move(work), {info.Length() > 3 ? info[3] : env.Undefined(), keepAlive});
}

// The planes of a decodePieces call merged into elements once decoded (RunPlanes' layout).
struct PlaneMerge {
  std::vector<const uint8_t*> planes;
  size_t n;
  unsigned width;
  bool rotate;
  uint8_t* dst;
};

// options.merge = { width, rotate?, dst }: the pieces, in order, are dst's `width` byte planes
// (a raw piece's plane is its input, a coded one's its output); null without merge.
std::shared_ptr<const PlaneMerge> ParseMerge(Napi::Env env, const Napi::Object& options, const std::vector<Napi::TypedArray>& in,
                                             const std::vector<Napi::TypedArray>& out, const Napi::Array& codecs) {
  if (options.Get("merge").IsUndefined()) return nullptr;
  if (!options.Get("merge").IsObject()) throw Napi::TypeError::New(env, "merge must be an object { width, rotate?, dst }");
  Napi::Object m = options.Get("merge").As<Napi::Object>();
  const unsigned width = unsigned(OptionalInt(m, "width", 0, 1, 8));
  if (width != 1 && width != 2 && width != 4 && width != 8) throw Napi::RangeError::New(env, "merge.width must be 1, 2, 4 or 8");
  if (!m.Get("dst").IsTypedArray() || m.Get("dst").As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(env, "merge.dst must be a Uint8Array");
  Napi::TypedArray dst = m.Get("dst").As<Napi::TypedArray>();
  if (in.size() != width || dst.ByteLength() % width) throw Napi::RangeError::New(env, "merge: one piece per plane, and dst a whole number of elements");
  auto merge = std::make_shared<PlaneMerge>();
  merge->n = dst.ByteLength() / width;
  merge->width = width;
  merge->rotate = m.Get("rotate").ToBoolean();
  merge->dst = TypedArrayBytes(dst);
  for (size_t i = 0; i < width; ++i) {
    const bool raw = codecs.Get(uint32_t(i)).As<Napi::String>().Utf8Value() == "raw";
    const Napi::TypedArray& plane = raw ? in[i] : out[i];
    if (plane.ByteLength() != merge->n) throw Napi::RangeError::New(env, "merge: piece " + std::to_string(i) + " is not one byte per element");
    merge->planes.push_back(TypedArrayBytes(plane));
  }
  return merge;
}

void MergePlanes(const PlaneMerge& m, unsigned threads, JobContext& ctx) {
  const KernelTable& k = kernels();
  ForPlaneWindows({m.n}, threads, ctx, [&](size_t, size_t begin, size_t count) {
    std::vector<const uint8_t*> planes(m.width);
    for (unsigned p = 0; p < m.width; ++p) planes[p] = m.planes[p] + begin;
    k.merge_planes(planes.data(), count, m.width, m.rotate, m.dst + begin * m.width);
  });
}

// decodePieces(pieces, outputs, { codecs, crc32?, merge?, threads, device }, onProgress): piece i, coded
// with codecs[i] ('rans' or 'xz'), must decode to exactly its output's length; a 'raw' piece is
// only checked (its output is empty). With crc32 (one per piece), every piece is first checked
// against it ("piece i: checksum mismatch", i counting every piece). Decode errors name the piece's
// index among the coded ones. With merge (ParseMerge), the decoded pieces are then merged as the
// byte planes of merge.dst. The rANS blocks run where `device` places the capability (xz pieces
// and constant frames on the CPU).
Napi::Value DecodePieces(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::TypedArray> in = RequireTypedArrayList(info, 0, napi_uint8_array, "pieces");
  std::vector<Napi::TypedArray> out = RequireTypedArrayList(info, 1, napi_uint8_array, "outputs");
  if (in.size() != out.size()) throw Napi::RangeError::New(env, "pieces and outputs differ in count");
  Napi::Object options = OptionalObject(info, 2, "options");
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  if (!options.Get("codecs").IsArray() || options.Get("codecs").As<Napi::Array>().Length() != in.size())
    throw Napi::TypeError::New(env, "codecs must be an array of one codec per piece");
  Napi::Array codecNames = options.Get("codecs").As<Napi::Array>();
  const Napi::Value crcValue = options.Get("crc32");
  if (!crcValue.IsUndefined() && (!crcValue.IsArray() || crcValue.As<Napi::Array>().Length() != in.size()))
    throw Napi::TypeError::New(env, "crc32 must be an array of one checksum per piece");
  auto checks = std::make_shared<std::vector<CheckedPiece>>();
  auto pieces = std::make_shared<std::vector<PiecesCall::Piece>>();
  for (uint32_t i = 0; i < codecNames.Length(); ++i) {
    const Codec codec = ParseCodec(env, codecNames.Get(i), true);
    if (codec == Codec::Raw && out[i].ByteLength()) throw Napi::RangeError::New(env, "outputs[" + std::to_string(i) + "] of a raw piece must be empty");
    if (crcValue.IsArray()) {
      const Napi::Value v = crcValue.As<Napi::Array>().Get(i);
      const double crc = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (!(crc >= 0 && crc <= 4294967295.0) || crc != double(uint32_t(crc))) throw Napi::TypeError::New(env, "crc32[" + std::to_string(i) + "] must be an unsigned 32-bit integer");
      checks->push_back({TypedArrayBytes(in[i]), in[i].ByteLength(), uint32_t(crc)});
    }
    if (codec != Codec::Raw) pieces->push_back({TypedArrayBytes(in[i]), in[i].ByteLength(), TypedArrayBytes(out[i]), out[i].ByteLength(), codec == Codec::Xz});
  }
  const PiecesCall c{pieces};
  const std::shared_ptr<const PlaneMerge> merge = ParseMerge(env, options, in, out, codecNames);
  Napi::TypedArray mergeDst;  // checked by ParseMerge
  if (merge) mergeDst = options.Get("merge").As<Napi::Object>().Get("dst").As<Napi::TypedArray>();
  // The decode writes the outputs, the merge merge.dst; the pieces are only read.
  JobMemory memory;
  const size_t piecesGroup = memory.group("pieces"), outputsGroup = memory.group("outputs");
  for (size_t i = 0; i < in.size(); ++i) {
    memory.read(in[i], piecesGroup);
    memory.write(out[i], outputsGroup);
  }
  if (merge) memory.write(mergeDst, memory.group("merge.dst"));
  memory.check(env);
  const Capability<PiecesCall>* row = &backend_table().ransDecode;
  const Placement p = Place(*row, DeviceRequest(NamedArgs(info, 2)), c);  // options is an object: it holds codecs
  JobWork work = [row, p, c, checks, merge, threads](JobContext& ctx) -> JobResult {
    CheckPieces(*checks, threads, ctx);
    if (!c.pieces->empty()) Run(*row, p, c, threads, ctx);
    if (merge) MergePlanes(*merge, threads, ctx);
    return nullptr;
  };
  std::vector<Napi::Object> keepAlive(in.begin(), in.end());
  keepAlive.insert(keepAlive.end(), out.begin(), out.end());
  if (merge) keepAlive.push_back(mergeDst);
  return StartJob(env, std::move(work), {info.Length() > 3 ? info[3] : env.Undefined(), keepAlive});
}

// The planes side of bytePlanes: one Uint8Array holding the planes back to back, or an array of
// `width` Uint8Arrays; each plane must hold n bytes. The arrays go to keep, for the overlap check.
std::vector<uint8_t*> PlanePointers(NamedArgs& a, const char* key, unsigned width, size_t bytes, std::vector<Napi::TypedArray>& keep) {
  Napi::Env env = a.Env();
  const size_t n = bytes / width;
  std::vector<uint8_t*> planes(width);
  if (a.get(key).IsArray()) {
    keep = RequireTypedArrayList(env, a.get(key), napi_uint8_array, key);
    if (keep.size() != width) throw Napi::RangeError::New(env, std::string(key) + " must hold one plane per byte of an element");
    for (unsigned k = 0; k < width; ++k) {
      if (keep[k].ByteLength() != n) throw Napi::RangeError::New(env, std::string(key) + ": each plane must hold one byte per element");
      planes[k] = TypedArrayBytes(keep[k]);
    }
  } else {
    keep = {a.array(key, napi_uint8_array)};
    if (keep[0].ByteLength() != bytes) throw Napi::RangeError::New(env, "src and dst must have the same length, a multiple of width");
    for (unsigned k = 0; k < width; ++k) planes[k] = TypedArrayBytes(keep[0]) + k * n;
  }
  return planes;
}

// The arguments of bytePlanes and of the rows split_planes and merge_planes: { src, width,
// rotate?, dst }; the elements (src to split, dst to merge into) are one Uint8Array whose length
// is a multiple of width (1, 2, 4 or 8); the planes are one Uint8Array of the same length or an
// array of width planes.
unsigned RunPlanes(NamedArgs& a, const KernelTable& k, bool split) {
  Napi::Env env = a.Env();
  const unsigned width = unsigned(a.integer("width", 1, 8));
  const bool rotate = a.has("rotate") && a.get("rotate").ToBoolean();
  if (width != 1 && width != 2 && width != 4 && width != 8) throw Napi::RangeError::New(env, "width must be 1, 2, 4 or 8");
  Napi::TypedArray elements = a.array(split ? "src" : "dst", napi_uint8_array);
  if (elements.ByteLength() % width) throw Napi::RangeError::New(env, "src and dst must have the same length, a multiple of width");
  std::vector<Napi::TypedArray> planeArrays;
  const std::vector<uint8_t*> planes = PlanePointers(a, split ? "dst" : "src", width, elements.ByteLength(), planeArrays);
  for (const auto& p : planeArrays) RequireDisjoint(elements, p, "src and dst");
  const size_t n = elements.ByteLength() / width;
  if (split)
    k.split_planes(TypedArrayBytes(elements), n, width, rotate, planes.data());
  else
    k.merge_planes(planes.data(), n, width, rotate, TypedArrayBytes(elements));
  return 0;
}

// bytePlanes({ mode: 'split' | 'merge', src, width, rotate?, dst }) on the table in use (RunPlanes).
Napi::Value BytePlanes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedArgs a(info, 0);
  const std::string mode = a.string("mode");
  if (mode != "split" && mode != "merge") throw Napi::TypeError::New(env, "mode must be 'split' or 'merge', got '" + mode + "'");
  RunPlanes(a, kernels(), mode == "split");
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

unsigned RunRow_split_planes(NamedArgs& a, const KernelTable& k) { return RunPlanes(a, k, true); }
unsigned RunRow_merge_planes(NamedArgs& a, const KernelTable& k) { return RunPlanes(a, k, false); }

void RegisterCodec(Napi::Env env, Napi::Object exports) {
  exports.Set("encodePieces", Napi::Function::New(env, EncodePieces, "encodePieces"));
  exports.Set("decodePieces", Napi::Function::New(env, DecodePieces, "decodePieces"));
  exports.Set("bytePlanes", Napi::Function::New(env, BytePlanes, "bytePlanes"));
}

}  // namespace tz
