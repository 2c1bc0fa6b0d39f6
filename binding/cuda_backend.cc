#include "cuda_backend.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "cpu/codec/bitpack.h"
#include "cpu/codec/lzma_codec.h"
#include "cpu/runtime/kernels.h"
#include "cpu/runtime/parallel.h"
#include "cpu/quant/rtn.h"
#include "cpu/quant/seedlm_tables.h"
#include "cpu/quant/ternary.h"
#include "cpu/quant/vptq.h"
#include "cpu_backend.h"
#include "cuda_call.h"

namespace tz::cuda_backend {

void convert(int gpu, const ConvertCall& c, unsigned, JobContext& ctx) {
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().convert(gpu, c.kind, c.src, c.dst, c.n, &job), "conversion");
}

namespace {

// A scale the GPU wrote as f16 Inf (or NaN) is refused with the CPU encoder's error, which the
// reference's scale function throws for the group's statistic recomputed here.
template <class Refuse>
void RefuseOverflow(const uint16_t* scales, size_t n, size_t group, Refuse refuse) {
  for (size_t g = 0, groups = (n + group - 1) / group; g < groups; ++g)
    if ((scales[g] & 0x7C00u) == 0x7C00u) refuse(g * group, std::min(group, n - g * group));
}

// 16-bit weights <-> f32 on the host, with the table's conversions (exact widening; the decoders'
// rounding of their f32 values, ternary.h).
void Widen(FloatType type, const void* src, float* dst, size_t n, unsigned threads, JobContext& ctx) {
  const KernelTable& k = kernels();
  const uint16_t* s = static_cast<const uint16_t*>(src);
  parallel_for(n, size_t(1) << 20, threads, ctx, [&](size_t b, size_t e) {
    type == FloatType::BF16 ? k.bf16_to_f32(s + b, dst + b, e - b) : k.f16_to_f32(s + b, dst + b, e - b);
  }, false);
}

void Narrow(FloatType type, const float* src, void* dst, size_t n, unsigned threads, JobContext& ctx) {
  const KernelTable& k = kernels();
  uint16_t* d = static_cast<uint16_t*>(dst);
  parallel_for(n, size_t(1) << 20, threads, ctx, [&](size_t b, size_t e) {
    type == FloatType::BF16 ? k.f32_to_bf16(src + b, d + b, e - b) : k.f32_to_f16(src + b, d + b, e - b);
  }, false);
}

}  // namespace

void rtn_encode(int gpu, const RtnCall& c, unsigned, JobContext& ctx) {
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().rtnEncode(gpu, c.w, c.n, c.bits, c.group, c.packed, c.scales, &job), "rtn encode");
  RefuseOverflow(c.scales, c.n, c.group, [&](size_t start, size_t len) {
    float amax = 0.0f;
    for (size_t i = 0; i < len; ++i) amax = std::max(amax, std::fabs(c.w[start + i]));
    rtn_scale_bits(amax, c.bits);
  });
}

void rtn_decode(int gpu, const RtnCall& c, unsigned, JobContext& ctx) {
  const tzc_job job = CudaJob(ctx);
  unsigned fault = 0;
  CheckCuda(Cuda().rtnDecode(gpu, c.packed, c.scales, c.n, c.bits, c.group, c.w, &fault, &job), "rtn decode");
  CheckRtnFault(fault, c.bits);
}

// The CUDA kernels read and write f32: 16-bit weights are widened before and the decoded values
// rounded after, on the host.
void ternary_encode(int gpu, const TernaryCall& c, unsigned threads, JobContext& ctx) {
  std::vector<float> wide;
  const float* w = static_cast<const float*>(c.w);
  if (c.type != FloatType::F32) {
    wide.resize(c.n);
    Widen(c.type, c.w, wide.data(), c.n, threads, ctx);
    w = wide.data();
  }
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().ternaryEncode(gpu, w, c.n, c.group, c.packing, c.tensorScale, c.rounds, c.packed, c.scales, &job), "ternary encode");
  if (c.tensorScale < 0)
    RefuseOverflow(c.scales, c.n, c.group, [&](size_t start, size_t len) {
      ternary_scale_bits(ternary_refine(w + start, len, ternary_absmean(w + start, len), c.rounds));
    });
}

void ternary_decode(int gpu, const TernaryCall& c, unsigned threads, JobContext& ctx) {
  std::vector<float> wide(c.type == FloatType::F32 ? 0 : c.n);
  float* out = c.type == FloatType::F32 ? static_cast<float*>(c.w) : wide.data();
  const tzc_job job = CudaJob(ctx);
  unsigned fault = 0;
  CheckCuda(Cuda().ternaryDecode(gpu, c.packed, c.scales, c.n, c.group, c.packing, c.tensorScale, out, &fault, &job), "ternary decode");
  CheckTernaryFault(fault, c.packing);
  if (c.type != FloatType::F32) Narrow(c.type, out, c.w, c.n, threads, ctx);
}

// The exhaustive search gives each block's seed and exponent; each block's fields then follow
// from them on the host, as the CPU search derives them.
void seedlm_search(int gpu, const SeedlmCall& c, unsigned, JobContext& ctx) {
  const unsigned C = c.t->C, P = c.t->P;
  // The last block zero-padded, as the CPU search pads it.
  std::vector<float> padded;
  const float* w = c.w;
  if (c.weights % C) {
    padded.assign(c.blocks * C, 0.0f);
    std::memcpy(padded.data(), c.w, c.weights * sizeof(float));
    w = padded.data();
  }
  std::vector<int32_t> exponents(c.blocks);
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().seedlmSearch(gpu, C, P, c.t->perSeed.data(), w, c.blocks, c.eMin, c.seeds, exponents.data(), &job), "the seedlm search");
  for (size_t b = 0; b < c.blocks; ++b) seedlm_fields(*c.t, w + b * C, c.seeds[b], exponents[b], c.eMin, c.fields + b * (P + 1));
}

void kmeans_assign(int gpu, const KmeansAssignCall& c, unsigned, JobContext& ctx) {
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().kmeansAssign(gpu, c.x, c.n, c.c->v, c.c->c.data(), c.c->k, c.labels, &job), "k-means assignment");
}

void kmeans_lloyd(int gpu, const KmeansLloydCall& c, unsigned, JobContext& ctx) {
  std::vector<double> objective(c.maxIterations);
  unsigned iterations = 0, repaired = 0;
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().kmeansLloyd(gpu, c.x, c.n, c.v, c.w, c.k, c.maxIterations, c.tolerance, c.r->centroids.data(), objective.data(), &iterations,
                               &repaired, &job),
            "k-means");
  c.r->objective.assign(objective.begin(), objective.begin() + std::min<size_t>(iterations, objective.size()));
  c.r->repaired = repaired;
}

// Every vector's label (and its residual's) in one assignment each, then the reconstruction as
// the decoder makes it, which is what the CPU's vptq_encode computes.
void vptq_encode(int gpu, const VptqCall& c, unsigned threads, JobContext& ctx) {
  const VptqLayout& l = c.l;
  const size_t n = l.vectors();
  std::vector<float> x(n * l.v);
  vptq_gather(l, c.w, 0, n, x.data());
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().kmeansAssign(gpu, x.data(), n, l.v, c.c1, c.k1, c.l1, &job), "the vptq assignment");
  if (c.c2) {
    for (size_t i = 0; i < n; ++i)
      for (unsigned t = 0; t < l.v; ++t) x[i * l.v + t] -= c.c1[size_t(c.l1[i]) * l.v + t];
    CheckCuda(Cuda().kmeansAssign(gpu, x.data(), n, l.v, c.c2, c.k2, c.l2, &job), "the vptq residual assignment");
  }
  vptq_decode(l, c.c1, c.c2, c.l1, c.l2, c.recon, threads, ctx);
}

// The rotation in place, with the multipliers the binding computed (hadamard_multipliers).
void hadamard(int gpu, const HadamardCall& c, unsigned, JobContext& ctx) {
  const tzc_job job = CudaJob(ctx);
  CheckCuda(Cuda().hadamard(gpu, c.x, c.n, c.period, c.block, c.m, c.inverse, &job), "the hadamard rotation");
}

namespace {

// The library's progress (blocks decoded) after `before` tasks done on the CPU, of `total`.
struct OffsetProgress {
  JobContext* ctx;
  uint64_t before, total;
};

tzc_job OffsetJob(OffsetProgress& o) {
  return tzc_job{&o, [](void* u) { return int(static_cast<OffsetProgress*>(u)->ctx->cancelled()); },
                 [](void* u, uint64_t d, uint64_t) {
                   const auto* o = static_cast<OffsetProgress*>(u);
                   o->ctx->progress(o->before + d, o->total);
                 }};
}

}  // namespace

// Every coded rANS block of the call in one tzc_rans_decode, staged in one source buffer (the
// frames' blocks) and one output buffer (each piece's symbols, or its codes packed, which take one
// byte more than the piece when its last code runs past the piece's end); constant frames and xz
// pieces on the CPU first. A block the GPU flags, or a last code with bits past the piece's end,
// throws what the CPU implementation throws for it. Progress counts tasks as the CPU's does.
void decode_pieces(int gpu, const PiecesCall& c, unsigned threads, JobContext& ctx) {
  const auto& pieces = *c.pieces;
  const std::vector<RansFrame> frames = ParseRansPieces(c);
  std::vector<size_t> onCpu, coded;
  std::vector<tzc_rans_block> blocks;
  std::vector<RansTable> tables;
  std::vector<uint64_t> out(pieces.size());  // where each coded piece's output starts in dst
  uint64_t srcBytes = 0, dstBytes = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const RansFrame& f = frames[i];
    if (pieces[i].xz || f.constant) {
      onCpu.push_back(i);
      continue;
    }
    if (f.blocks.empty()) continue;  // an empty piece
    coded.push_back(i);
    out[i] = dstBytes;
    for (size_t j = 0; j < f.blocks.size(); ++j) {
      const uint64_t first = j * f.blockSymbols;  // a multiple of 8: its codes start on a byte
      blocks.push_back({srcBytes, f.blocks[j].second, dstBytes + first * f.bits / 8, std::min<uint64_t>(f.blockSymbols, f.symbols - first),
                        uint32_t(tables.size()), f.contexts, f.bits, 0});
      srcBytes += f.blocks[j].second;
    }
    tables.insert(tables.end(), f.tables.begin(), f.tables.end());
    dstBytes += f.bits == 8 ? f.symbols : packed_bytes(f.symbols, f.bits);
  }
  const uint64_t total = onCpu.size() + blocks.size();
  std::atomic<uint64_t> done{0};
  parallel_for(onCpu.size(), 1, threads, ctx, [&](size_t t, size_t) {
    const PiecesCall::Piece& p = pieces[onCpu[t]];
    try {
      if (p.xz) xz_decode(p.src, p.srcBytes, p.dst, p.dstBytes);
      else rans_decode_block_of(kernels(), frames[onCpu[t]], 0, p.dst);
    } catch (const std::exception& e) {
      throw PieceError(onCpu[t], e);
    }
    ctx.progress(++done, total);
  }, false);
  if (blocks.empty()) return;
  // A frame's blocks lie one after another: one copy a piece.
  std::vector<uint8_t> src(srcBytes), dst(dstBytes), faults(blocks.size());
  size_t at = 0;
  for (const size_t i : coded) {
    const auto& first = frames[i].blocks.front();
    const auto& last = frames[i].blocks.back();
    const size_t bytes = size_t(last.first + last.second - first.first);
    std::memcpy(src.data() + at, first.first, bytes);
    at += bytes;
  }
  OffsetProgress o{&ctx, onCpu.size(), total};
  const tzc_job job = OffsetJob(o);
  CheckCuda(Cuda().ransDecode(gpu, src.data(), srcBytes, blocks.data(), blocks.size(), reinterpret_cast<const uint32_t*>(tables.data()), tables.size(),
                              dst.data(), dstBytes, faults.data(), &job),
            "rANS decode");
  size_t b = 0;
  for (const size_t i : coded) {
    const RansFrame& f = frames[i];
    for (size_t j = 0; j < f.blocks.size(); ++j, ++b)
      if (faults[b]) throw PieceError(i, rans_block_error(j));
    const uint64_t written = f.bits == 8 ? f.symbols : packed_bytes(f.symbols, f.bits);
    if (written > f.bytes && dst[out[i] + f.bytes] != 0) throw PieceError(i, rans_trailing_error());
  }
  parallel_for(coded.size(), 1, threads, ctx, [&](size_t t, size_t) {
    const size_t i = coded[t];
    std::memcpy(pieces[i].dst, dst.data() + out[i], frames[i].bytes);
  }, false);
}

namespace {

// The job's progress in bytes while the library codes blocks: at[d] of total once d are coded.
struct BlockProgress {
  JobContext* ctx;
  const std::vector<uint64_t>* at;
  uint64_t total;
};

tzc_job BlockJob(BlockProgress& o) {
  return tzc_job{&o, [](void* u) { return int(static_cast<BlockProgress*>(u)->ctx->cancelled()); },
                 [](void* u, uint64_t d, uint64_t) {
                   const auto* o = static_cast<BlockProgress*>(u);
                   if (d < o->at->size()) o->ctx->progress((*o->at)[d], o->total);
                 }};
}

}  // namespace

// Each piece planned on the CPU as rans_encode plans it (constant and raw pieces end there), then
// every block of every coded piece in one tzc_rans_encode, the symbols staged in one buffer (one
// copy a piece), and each frame finished from its blocks' states and words as rans_encode
// finishes it. xz calls run on the CPU. Progress counts the pieces' bytes as the CPU's does, a
// coded piece's spread over its blocks.
void encode_pieces(int gpu, const EncodePiecesCall& c, unsigned threads, JobContext& ctx) {
  if (c.xz) return cpu_backend::encode_pieces(kernels(), c, threads, ctx);
  const auto& pieces = *c.pieces;
  auto& results = *c.results;
  uint64_t total = 0;
  for (const auto& p : pieces) total += p.bytes;
  std::atomic<uint64_t> done{0};
  std::vector<RansPlan> plans = cpu_backend::plan_rans_pieces(c, threads, ctx, done, total);
  std::vector<size_t> coded;
  std::vector<tzc_rans_enc_block> blocks;
  std::vector<tzc_rans_enc_table> tables;
  std::vector<uint64_t> firstBlock(pieces.size()), at(pieces.size());  // at: where a piece's symbols are staged
  std::vector<uint64_t> progressAt{done.load()};
  uint64_t symbolBytes = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const RansPlan& p = plans[i];
    if (!p.coded) continue;
    coded.push_back(i);
    at[i] = symbolBytes;
    firstBlock[i] = blocks.size();
    const uint32_t table = uint32_t(tables.size());
    for (const RansEncTable& t : p.tables) {
      tzc_rans_enc_table e;
      std::memcpy(e.freq_cum, t.freqCum, sizeof(e.freq_cum));
      std::memcpy(e.inverse, t.inverse, sizeof(e.inverse));
      tables.push_back(e);
    }
    const uint64_t before = progressAt.back();
    for (size_t b = 0; b < p.blocks(); ++b) {
      const uint64_t first = b * p.blockSymbols, m = p.block_symbols(b);
      blocks.push_back({symbolBytes + first, m, table, p.contexts});
      progressAt.push_back(before + uint64_t((unsigned __int128)pieces[i].bytes * (first + m) / p.count));
    }
    symbolBytes += p.count;
  }
  if (!blocks.empty()) {
    // Not zeroed: the library reads every staged symbol, and only the words it reports are read.
    std::unique_ptr<uint8_t[]> symbols(new uint8_t[symbolBytes]);
    std::unique_ptr<uint16_t[]> words(new uint16_t[symbolBytes]);
    parallel_for(coded.size(), 1, threads, ctx, [&](size_t t, size_t) {
      RansPlan& p = plans[coded[t]];
      std::memcpy(symbols.get() + at[coded[t]], p.symbols(), p.count);
      p.unpacked = {};
    }, false);
    std::vector<uint32_t> states(size_t(kRansLanes) * blocks.size());
    std::vector<uint64_t> counts(blocks.size());
    BlockProgress o{&ctx, &progressAt, total};
    const tzc_job job = BlockJob(o);
    CheckCuda(Cuda().ransEncode(gpu, symbols.get(), symbolBytes, blocks.data(), blocks.size(), tables.data(), tables.size(), states.data(), words.get(),
                                counts.data(), &job),
              "rANS encode");
    symbols.reset();
    parallel_for(coded.size(), 1, threads, ctx, [&](size_t t, size_t) {
      const size_t i = coded[t];
      results[i] = rans_finish(plans[i], [&](size_t b, std::vector<uint8_t>& out) {
        const size_t k = firstBlock[i] + b;
        const tzc_rans_enc_block& r = blocks[k];
        rans_append_block(states.data() + size_t(kRansLanes) * k, words.get() + r.symbols_at + r.symbols - counts[k], counts[k], out);
      });
      if (!PieceWorthCoding(results[i].size(), pieces[i].bytes)) results[i] = {};
    }, false);
  }
  ctx.progress(total, total);
}

}  // namespace tz::cuda_backend
