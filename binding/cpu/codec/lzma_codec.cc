#include "lzma_codec.h"

#include <lzma.h>

#include <stdexcept>

namespace tz {

namespace {

const char* LzmaMessage(lzma_ret r) {
  switch (r) {
    case LZMA_MEM_ERROR: return "out of memory";
    case LZMA_MEMLIMIT_ERROR: return "stream needs more memory than allowed";
    case LZMA_FORMAT_ERROR: return "not xz data";
    case LZMA_OPTIONS_ERROR: return "unsupported xz options";
    case LZMA_DATA_ERROR: return "corrupt xz data";
    case LZMA_BUF_ERROR: return "truncated xz data or wrong decoded size";
    case LZMA_PROG_ERROR: return "invalid arguments";
    case LZMA_OK: return "truncated xz data";  // LZMA_FINISH without reaching the stream end
    default: return "unexpected liblzma error";
  }
}

}  // namespace

std::vector<uint8_t> xz_encode(const uint8_t* src, size_t n, const XzOptions& options) {
  lzma_options_lzma lz;
  if (lzma_lzma_preset(&lz, options.weightsProfile ? 1 : options.preset))
    throw std::runtime_error("xz compression: unsupported preset " + std::to_string(options.preset));
  if (options.weightsProfile) {
    lz.mode = LZMA_MODE_NORMAL;
    lz.mf = LZMA_MF_HC3;
    lz.nice_len = 8;
    lz.depth = 1;
  }
  const lzma_filter filters[] = {{LZMA_FILTER_LZMA2, &lz}, {LZMA_VLI_UNKNOWN, nullptr}};
  std::vector<uint8_t> out(lzma_stream_buffer_bound(n));
  size_t pos = 0;
  const lzma_ret r = lzma_stream_buffer_encode(const_cast<lzma_filter*>(filters), LZMA_CHECK_CRC64, nullptr, src, n, out.data(), &pos, out.size());
  if (r != LZMA_OK) throw std::runtime_error(std::string("xz compression failed: ") + LzmaMessage(r));
  out.resize(pos);
  return out;
}

void xz_decode(const uint8_t* src, size_t n, uint8_t* dst, size_t expected) {
  // The streaming decoder with LZMA_CONCATENATED accepts several .xz streams back to back and
  // reports trailing garbage; it never writes past `expected` bytes.
  lzma_stream s = LZMA_STREAM_INIT;
  lzma_ret r = lzma_stream_decoder(&s, kXzMemLimit, LZMA_CONCATENATED);
  if (r != LZMA_OK) throw std::runtime_error(std::string("xz decoder: ") + LzmaMessage(r));
  s.next_in = src;
  s.avail_in = n;
  s.next_out = dst;
  s.avail_out = expected;
  r = lzma_code(&s, LZMA_FINISH);
  const size_t produced = expected - s.avail_out;
  const bool leftoverOutput = r == LZMA_OK && s.avail_out == 0 && s.avail_in > 0;
  lzma_end(&s);
  if (r == LZMA_STREAM_END && produced == expected) return;
  if (r == LZMA_STREAM_END)
    throw std::runtime_error("xz data decodes to " + std::to_string(produced) + " bytes, expected " + std::to_string(expected));
  if (leftoverOutput) throw std::runtime_error("xz data decodes to more than the expected " + std::to_string(expected) + " bytes");
  throw std::runtime_error(std::string("xz decoding failed: ") + LzmaMessage(r));
}


}  // namespace tz
