#include "cpu_backend.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <numeric>
#include <vector>

#include "cpu/codec/lzma_codec.h"
#include "cpu/runtime/parallel.h"
#include "cpu/quant/rtn_weighted.h"
#include "cpu/quant/seedlm_tables.h"
#include "cpu/quant/ternary.h"
#include "cpu/quant/ternary_weighted.h"
#include "cuda/tensorzip_cuda.h"

namespace tz::cpu_backend {

namespace {

// `chunk` elements per unit of parallel work, rounded down to whole `unit`s (at least one).
size_t Chunk(size_t unit, size_t target) { return unit * std::max<size_t>(1, target / unit); }

size_t Size(int kind, bool source) {
  const bool wide = source ? (kind == TZC_F32_TO_BF16 || kind == TZC_F32_TO_F16) : (kind == TZC_BF16_TO_F32 || kind == TZC_F16_TO_F32);
  return wide ? 4 : 2;
}

void ConvertRange(const KernelTable& k, int kind, const void* src, void* dst, size_t n) {
  switch (kind) {
    case TZC_F32_TO_BF16: return k.f32_to_bf16(static_cast<const float*>(src), static_cast<uint16_t*>(dst), n);
    case TZC_BF16_TO_F32: return k.bf16_to_f32(static_cast<const uint16_t*>(src), static_cast<float*>(dst), n);
    case TZC_F32_TO_F16: return k.f32_to_f16(static_cast<const float*>(src), static_cast<uint16_t*>(dst), n);
    case TZC_F16_TO_F32: return k.f16_to_f32(static_cast<const uint16_t*>(src), static_cast<float*>(dst), n);
  }
}

// Chunks of whole groups that also start on a packing block: a multiple of lcm(group, block).
size_t TernaryChunk(const TernaryCall& c) {
  const size_t block = ternary_block(c.packing);
  return Chunk(c.tensorScale >= 0 ? block : std::lcm(c.group, block), size_t(1) << 18);
}

void TernaryDecode(const KernelTable& k, const TernaryCall& c, unsigned threads, JobContext& ctx, bool reportProgress) {
  parallel_for(c.n, TernaryChunk(c), threads, ctx, [&](size_t b, size_t e) {
    const uint16_t* scales = c.tensorScale >= 0 ? c.scales : c.scales + b / c.group;
    uint8_t* out = static_cast<uint8_t*>(c.w) + b * float_type_bytes(c.type);
    CheckTernaryFault(k.ternary_decode(c.packed + b / ternary_per_byte(c.packing), scales, e - b, c.group, c.packing, c.tensorScale, out, c.type), c.packing);
  }, reportProgress);
}

// Blocks [first, first + count); the last block of the tensor may be partial (zero-padded here).
template <bool Search>
void SeedlmBlocks(const KernelTable& k, const SeedlmCall& c, size_t first, size_t count) {
  const unsigned C = c.t->C, P = c.t->P;
  const size_t whole = std::min(count, c.weights / C - std::min(first, c.weights / C));  // full blocks in range
  uint16_t* seeds = c.seeds + first;
  uint8_t* fields = c.fields + first * (P + 1);
  float* w = c.w + first * C;
  if (Search) k.seedlm_search(*c.t, w, whole, c.eMin, c.keep, seeds, fields);
  else tz::seedlm_decode(*c.t, c.eMin, seeds, fields, whole, w);
  if (whole == count) return;
  float padded[kSeedlmMaxC] = {};
  const size_t tail = c.weights - (first + whole) * C;
  if (Search) {
    std::memcpy(padded, w + whole * C, tail * sizeof(float));
    k.seedlm_search(*c.t, padded, 1, c.eMin, c.keep, seeds + whole, fields + whole * (P + 1));
  } else {
    tz::seedlm_decode(*c.t, c.eMin, seeds + whole, fields + whole * (P + 1), 1, padded);
    std::memcpy(w + whole * C, padded, tail * sizeof(float));
  }
}

}  // namespace

void convert(const KernelTable& k, const ConvertCall& c, unsigned threads, JobContext& ctx) {
  const size_t in = Size(c.kind, true), out = Size(c.kind, false);
  // 1 Mi elements per chunk: large enough to amortise scheduling, small enough for prompt
  // cancellation and smooth progress.
  parallel_for(c.n, size_t(1) << 20, threads, ctx, [&](size_t b, size_t e) {
    ConvertRange(k, c.kind, static_cast<const uint8_t*>(c.src) + b * in, static_cast<uint8_t*>(c.dst) + b * out, e - b);
  });
}

// Chunks of whole groups, hence (group % 8 == 0) starting on a byte of the codes. The weighted
// search tries many scales per group, so its chunks are smaller (progress and cancellation stay
// prompt).
void rtn_encode(const KernelTable& k, const RtnCall& c, unsigned threads, JobContext& ctx) {
  parallel_for(c.n, Chunk(c.group, c.importance ? size_t(1) << 16 : size_t(1) << 18), threads, ctx, [&](size_t b, size_t e) {
    uint8_t* packed = c.packed + b * c.bits / 8;
    uint16_t* scales = c.scales + b / c.group;
    if (c.importance) rtn_encode_weighted(c.w + b, c.importance + b, e - b, c.bits, c.group, packed, scales);
    else k.rtn_encode(c.w + b, e - b, c.bits, c.group, packed, scales);
  });
}

void rtn_decode(const KernelTable& k, const RtnCall& c, unsigned threads, JobContext& ctx) {
  parallel_for(c.n, Chunk(c.group, size_t(1) << 18), threads, ctx, [&](size_t b, size_t e) {
    CheckRtnFault(k.rtn_decode(c.packed + b * c.bits / 8, c.scales + b / c.group, e - b, c.bits, c.group, c.w + b), c.bits);
  });
}

void ternary_encode(const KernelTable& k, const TernaryCall& c, unsigned threads, JobContext& ctx) {
  parallel_for(c.n, TernaryChunk(c), threads, ctx, [&](size_t b, size_t e) {
    uint8_t* packed = c.packed + b / ternary_per_byte(c.packing);
    uint16_t* scales = c.tensorScale >= 0 ? c.scales : c.scales + b / c.group;
    const uint8_t* w = static_cast<const uint8_t*>(c.w) + b * float_type_bytes(c.type);
    if (c.importance) ternary_encode_weighted(w, c.type, e - b, c.group, c.packing, c.rounds, c.importance + b, packed, scales);
    else k.ternary_encode(w, c.type, e - b, c.group, c.packing, c.tensorScale, c.rounds, packed, scales);
  });
}

void ternary_decode(const KernelTable& k, const TernaryCall& c, unsigned threads, JobContext& ctx) { TernaryDecode(k, c, threads, ctx, true); }

// 64 blocks per chunk: milliseconds each, so progress and cancellation stay prompt.
void seedlm_search(const KernelTable& k, const SeedlmCall& c, unsigned threads, JobContext& ctx) {
  parallel_for(c.blocks, 64, threads, ctx, [&](size_t b, size_t e) { SeedlmBlocks<true>(k, c, b, e - b); });
}

void seedlm_decode(const KernelTable& k, const SeedlmCall& c, unsigned threads, JobContext& ctx) {
  parallel_for(c.blocks, size_t(1) << 16, threads, ctx, [&](size_t b, size_t e) { SeedlmBlocks<false>(k, c, b, e - b); });
}

void kmeans_assign(const KernelTable& k, const KmeansAssignCall& c, unsigned threads, JobContext& ctx) {
  kmeans_assign_all(k, *c.c, c.x, c.n, c.labels, threads, ctx);
}

void kmeans_lloyd(const KernelTable& k, const KmeansLloydCall& c, unsigned threads, JobContext& ctx) {
  tz::kmeans_lloyd(k, c.x, c.n, c.v, c.w, c.k, c.maxIterations, c.tolerance, threads, ctx, *c.r);
}

void vptq_encode(const KernelTable& k, const VptqCall& c, unsigned threads, JobContext& ctx) {
  KmeansCentroids c1, c2;
  c1.set(c.l.v, c.k1, c.c1);
  if (c.c2) c2.set(c.l.v, c.k2, c.c2);
  tz::vptq_encode(k, c.l, c.w, c1, c.c2 ? &c2 : nullptr, c.l1, c.l2, c.recon, threads, ctx);
}

void vptq_decode(const KernelTable&, const VptqCall& c, unsigned threads, JobContext& ctx) {
  tz::vptq_decode(c.l, c.c1, c.c2, c.l1, c.l2, c.w, threads, ctx);
}

// Whole blocks per chunk; a chunk's blocks may span rows, each row's multipliers start over.
void hadamard(const KernelTable& k, const HadamardCall& c, unsigned threads, JobContext& ctx) {
  parallel_for(c.n, Chunk(c.block, size_t(1) << 16), threads, ctx, [&](size_t b, size_t e) {
    for (size_t at = b; at < e;) {
      const size_t col = at % c.period, len = std::min(e - at, c.period - col);
      k.hadamard_blocks(c.x + at, len, c.block, c.m + col, c.inverse);
      at += len;
    }
  });
}

// The frames are read first; then each of their blocks, and each xz piece, is one task, so that a
// single large piece decodes on every thread. Progress counts tasks.
void decode_pieces(const KernelTable& k, const PiecesCall& c, unsigned threads, JobContext& ctx) {
  const auto& pieces = *c.pieces;
  const std::vector<RansFrame> frames = ParseRansPieces(c);
  std::vector<std::pair<size_t, size_t>> tasks;  // (piece, block)
  for (size_t i = 0; i < pieces.size(); ++i) {
    const size_t blocks = pieces[i].xz ? 1 : rans_block_count(frames[i]);
    for (size_t j = 0; j < blocks; ++j) tasks.push_back({i, j});
  }
  std::atomic<uint64_t> done{0};
  parallel_for(tasks.size(), 1, threads, ctx, [&](size_t t, size_t) {
    const auto [i, block] = tasks[t];
    const PiecesCall::Piece& p = pieces[i];
    try {
      if (p.xz) xz_decode(p.src, p.srcBytes, p.dst, p.dstBytes);
      else rans_decode_block_of(k, frames[i], block, p.dst);
    } catch (const std::exception& e) {
      throw PieceError(i, e);
    }
    ctx.progress(++done, tasks.size());
  }, false);
}

std::vector<RansPlan> plan_rans_pieces(const EncodePiecesCall& c, unsigned threads, JobContext& ctx, std::atomic<uint64_t>& done, uint64_t total) {
  const auto& pieces = *c.pieces;
  auto& results = *c.results;
  std::vector<RansPlan> plans(pieces.size());
  parallel_for(pieces.size(), 1, threads, ctx, [&](size_t i, size_t) {
    const EncodePiecesCall::Piece& p = pieces[i];
    if (!p.bytes) return;
    plans[i] = rans_plan(p.src, p.bytes, p.model);
    if (plans[i].coded) return;
    results[i] = std::move(plans[i].frame);
    if (results[i].empty() || !PieceWorthCoding(results[i].size(), p.bytes)) results[i] = {};
    ctx.progress(done += p.bytes, total);
  }, false);
  return plans;
}

// xz: one task a piece; with probe, a large piece is first coded on its first kXzProbeBytes, and
// stored raw if that does not save 1 % (weight mantissa planes). rANS: every piece planned (its
// histogram) in parallel, then every block of every coded piece in parallel (a batch of one large
// piece keeps every thread busy), then each frame finished from its blocks, the bytes
// rans_encode writes. Progress counts the pieces' bytes, a coded piece's spread over its blocks.
void encode_pieces(const KernelTable&, const EncodePiecesCall& c, unsigned threads, JobContext& ctx) {
  constexpr size_t kXzProbeBytes = 256 << 10;
  const auto& pieces = *c.pieces;
  auto& results = *c.results;
  uint64_t total = 0;
  for (const auto& p : pieces) total += p.bytes;
  std::atomic<uint64_t> done{0};
  if (c.xz) {
    parallel_for(pieces.size(), 1, threads, ctx, [&](size_t b, size_t) {
      const EncodePiecesCall::Piece& p = pieces[b];
      bool attempt = p.bytes > 0;
      if (attempt && c.probe && p.bytes > 4 * kXzProbeBytes) attempt = PieceWorthCoding(xz_encode(p.src, kXzProbeBytes, c.xzOptions).size(), kXzProbeBytes);
      if (attempt) {
        ctx.throwIfCancelled();
        results[b] = xz_encode(p.src, p.bytes, c.xzOptions);
        if (results[b].empty() || !PieceWorthCoding(results[b].size(), p.bytes)) results[b] = {};
      }
      ctx.progress(done += p.bytes, total);
    });
    return;
  }
  std::vector<RansPlan> plans = plan_rans_pieces(c, threads, ctx, done, total);
  std::vector<std::pair<size_t, size_t>> tasks;  // (piece, block)
  std::vector<size_t> firstTask(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    firstTask[i] = tasks.size();
    for (size_t b = 0; b < plans[i].blocks(); ++b) tasks.push_back({i, b});
  }
  std::vector<std::vector<uint8_t>> blocks(tasks.size());
  parallel_for(tasks.size(), 1, threads, ctx, [&](size_t t, size_t) {
    const auto [i, b] = tasks[t];
    const RansPlan& p = plans[i];
    rans_encode_block(p.tables.data(), p.contexts, p.symbols() + b * p.blockSymbols, p.block_symbols(b), blocks[t]);
    ctx.progress(done += uint64_t((unsigned __int128)pieces[i].bytes * p.block_symbols(b) / p.count), total);
  }, false);
  parallel_for(pieces.size(), 1, threads, ctx, [&](size_t i, size_t) {
    if (!plans[i].coded) return;
    results[i] = rans_finish(plans[i], [&](size_t b, std::vector<uint8_t>& out) {
      std::vector<uint8_t>& block = blocks[firstTask[i] + b];
      out.insert(out.end(), block.begin(), block.end());
      block = {};
    });
    if (!PieceWorthCoding(results[i].size(), pieces[i].bytes)) results[i] = {};
  }, false);
  ctx.progress(total, total);
}

void widen(const KernelTable& k, FloatType type, const void* src, float* dst, size_t n, unsigned threads, JobContext& ctx) {
  parallel_for(n, size_t(1) << 18, threads, ctx, [&](size_t b, size_t e) {
    const uint16_t* s = static_cast<const uint16_t*>(src) + b;
    if (type == FloatType::BF16) k.bf16_to_f32(s, dst + b, e - b);
    else k.f16_to_f32(s, dst + b, e - b);
  }, false);
}

void narrow(const KernelTable& k, FloatType type, const float* src, void* dst, size_t n, unsigned threads, JobContext& ctx) {
  parallel_for(n, size_t(1) << 18, threads, ctx, [&](size_t b, size_t e) {
    uint16_t* d = static_cast<uint16_t*>(dst) + b;
    if (type == FloatType::BF16) k.f32_to_bf16(src + b, d, e - b);
    else k.f32_to_f16(src + b, d, e - b);
  }, false);
}

ErrorSums rtn_measure(const KernelTable& k, const RtnCall& c, const void* original, FloatType type, unsigned threads, JobContext& ctx) {
  std::vector<uint8_t> recon(c.n * float_type_bytes(type));
  parallel_for(c.n, Chunk(c.group, size_t(1) << 16), threads, ctx, [&](size_t b, size_t e) {
    // 16-bit types: each range decoded to f32 in a buffer of its own, then rounded.
    std::vector<float> wide(type == FloatType::F32 ? 0 : e - b);
    float* out = type == FloatType::F32 ? reinterpret_cast<float*>(recon.data()) + b : wide.data();
    CheckRtnFault(k.rtn_decode(c.packed + b * c.bits / 8, c.scales + b / c.group, e - b, c.bits, c.group, out), c.bits);
    if (type == FloatType::BF16) k.f32_to_bf16(out, reinterpret_cast<uint16_t*>(recon.data()) + b, e - b);
    else if (type == FloatType::F16) k.f32_to_f16(out, reinterpret_cast<uint16_t*>(recon.data()) + b, e - b);
  }, false);
  return error_sums(original, recon.data(), type, c.n, threads, &ctx);
}

ErrorSums ternary_measure(const KernelTable& k, const TernaryCall& c, unsigned threads, JobContext& ctx) {
  std::vector<uint8_t> recon(c.n * float_type_bytes(c.type));
  TernaryCall d = c;
  d.w = recon.data();
  TernaryDecode(k, d, threads, ctx, false);
  return error_sums(c.w, recon.data(), c.type, c.n, threads, &ctx);
}

}  // namespace tz::cpu_backend
