#include "capabilities.h"

#include <stdexcept>
#include <string>

#include "cpu/quant/decode_fault.h"
#include "cpu/quant/rtn.h"

namespace tz {

std::runtime_error PieceError(size_t piece, const std::exception& e) { return std::runtime_error("piece " + std::to_string(piece) + ": " + e.what()); }

std::vector<RansFrame> ParseRansPieces(const PiecesCall& c) {
  const auto& pieces = *c.pieces;
  std::vector<RansFrame> frames(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (pieces[i].xz) continue;
    try {
      frames[i] = rans_parse(pieces[i].src, pieces[i].srcBytes, pieces[i].dstBytes);
    } catch (const std::exception& e) {
      throw PieceError(i, e);
    }
  }
  return frames;
}

void CheckRtnFault(unsigned fault, unsigned bits) {
  if (fault & kFaultCode)
    throw std::runtime_error("rtn: the stored codes hold a value above " + std::to_string(2 * rtn_qmax(bits)) + " (" + std::to_string(bits) +
                             "-bit codes run 0.." + std::to_string(2 * rtn_qmax(bits)) + ")");
  if (fault & kFaultScale) throw std::runtime_error("rtn: the stored scales hold a negative or non-finite value");
}

void CheckTernaryFault(unsigned fault, unsigned packing) {
  if (fault & kFaultCode)
    throw std::runtime_error(packing == 3 ? "ternary: the stored codes hold a byte above 242 (p3 packs 5 trits per byte, 0..242)"
                                          : "ternary: the stored codes hold a 2-bit code 3 (p2 codes run 0..2)");
  if (fault & kFaultScale) throw std::runtime_error("ternary: the stored scales hold a negative or non-finite value");
}

}  // namespace tz
