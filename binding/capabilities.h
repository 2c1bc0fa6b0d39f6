// What each capability of the backend table (backend_table.h) is asked to compute: plain pointers
// and sizes, parsed and checked on the JS thread by the family's binding, then run on a job thread
// by the CPU or the CUDA implementation. Output arrays are written in place.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <vector>

#include "cpu/codec/lzma_codec.h"
#include "cpu/codec/rans.h"
#include "cpu/runtime/float_bits.h"
#include "cpu/quant/kmeans.h"
#include "cpu/quant/vptq.h"

namespace tz {

struct SeedlmTables;

// kind: TZC_F32_TO_BF16, TZC_BF16_TO_F32, TZC_F32_TO_F16 or TZC_F16_TO_F32 (cuda/tensorzip_cuda.h).
struct ConvertCall {
  int kind;
  const void* src;
  void* dst;
  size_t n;
};

// rtn (cpu/rtn.h): w holds the weights (encode) or receives them (decode).
struct RtnCall {
  float* w;
  uint8_t* packed;
  uint16_t* scales;
  size_t n, group;
  unsigned bits;
  const float* importance;  // encode only: one value >= 0 per weight, or nullptr
};

// ternary (cpu/ternary.h): w as `type`; tensorScale >= 0: one scale, else one f16 scale per group.
struct TernaryCall {
  void* w;
  FloatType type;
  uint8_t* packed;
  uint16_t* scales;
  size_t n, group;
  unsigned packing, rounds;
  float tensorScale;
  const float* importance;  // encode only, group scales only: one value >= 0 per weight, or nullptr
};

// seedlm (cpu/seedlm.h): `blocks` blocks of t->C weights, the last zero-padded past `weights`.
struct SeedlmCall {
  float* w;
  uint16_t* seeds;
  uint8_t* fields;
  size_t blocks, weights;
  const SeedlmTables* t;
  int eMin;
  unsigned keep;  // search only: 0 exhaustive, K the approximate mode
};

// k-means (cpu/kmeans.h): the label of each of n points for centroids c (k x v, as passed).
struct KmeansAssignCall {
  std::shared_ptr<const KmeansCentroids> c;
  const float* x;
  size_t n;
  uint32_t* labels;
};

// kmeans_lloyd's iterations on (x, n, w) from r->centroids, into *r.
struct KmeansLloydCall {
  const float* x;
  size_t n;
  unsigned v;
  const float* w;
  unsigned k, maxIterations;
  double tolerance;
  KmeansResult* r;
};

// vptq (cpu/vptq.h): encode writes labels and recon from w; decode writes w from the labels.
struct VptqCall {
  VptqLayout l;
  float* w;
  const float* c1;  // k1 x v
  const float* c2;  // k2 x v, or null without a residual codebook (l2 null too)
  unsigned k1, k2;
  uint32_t* l1;
  uint32_t* l2;
  float* recon;  // encode only
};

// The rotation of :rot (cpu/quant/hadamard.h): n values in place, rows of `period` values (the
// matrix's columns, a multiple of block), m the period's multipliers.
struct HadamardCall {
  float* x;
  size_t n, period, block;
  const float* m;
  unsigned inverse;
};

// decodePieces (cpu/codec/rans.h, cpu/codec/lzma_codec.h): each piece, a rANS frame or an xz
// stream, decoded into exactly its output. The frames are read on the job's thread
// (ParseRansPieces), where a malformed one fails the job.
struct PiecesCall {
  struct Piece {
    const uint8_t* src;
    size_t srcBytes;
    uint8_t* dst;
    size_t dstBytes;
    bool xz;
  };
  std::shared_ptr<const std::vector<Piece>> pieces;
};

// encodePieces (cpu/codec/rans.h, cpu/codec/lzma_codec.h): each piece coded as one rANS frame
// (its model) or, xz, as one xz stream; results[i] stays empty where the piece is stored raw (it
// is empty, or coding it would not save 1 %: PieceWorthCoding).
struct EncodePiecesCall {
  struct Piece {
    const uint8_t* src;
    size_t bytes;
    RansModel model;
  };
  std::shared_ptr<const std::vector<Piece>> pieces;
  bool xz;
  XzOptions xzOptions;
  bool probe;  // xz: a large piece is first coded on its first 256 KiB, and stored raw if that does not save 1 %
  std::shared_ptr<std::vector<std::vector<uint8_t>>> results;  // one per piece
};

// Whether a piece of `raw` bytes coded in `coded` bytes is kept coded: it saves at least 1 %
// (docs/METHODS.md, "The entropy stage").
inline bool PieceWorthCoding(size_t coded, size_t raw) { return coded * 100 <= raw * 99; }

// Piece i's error as decodePieces reports it on every device: "piece i: " and what went wrong.
std::runtime_error PieceError(size_t piece, const std::exception& e);
// The frame of each rANS piece of c (xz pieces: a default frame); throws PieceError.
std::vector<RansFrame> ParseRansPieces(const PiecesCall& c);

// The decoders' errors for a DecodeFault mask (cpu/decode_fault.h), the same on every device.
void CheckRtnFault(unsigned fault, unsigned bits);
void CheckTernaryFault(unsigned fault, unsigned packing);

}  // namespace tz
