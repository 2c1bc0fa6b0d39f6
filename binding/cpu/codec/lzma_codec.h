// The LZMA stage: liblzma in the xz container format, so every compressed piece carries xz's own
// integrity check (CRC64) on top of the container's checksums.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tz {

// Decoder memory cap: presets 0-9 need at most 65 MiB; anything asking for more is refused
// rather than allocated (a crafted header could otherwise ask for gigabytes).
constexpr uint64_t kXzMemLimit = uint64_t(256) << 20;

constexpr uint32_t kXzExtreme = 0x80000000u;  // LZMA_PRESET_EXTREME

struct XzOptions {
  uint32_t preset = 6;  // 0-9, optionally | kXzExtreme
  // The weights profile: preset 1's 1 MiB dictionary with the normal (optimal-parsing) mode,
  // the HC3 match finder, nice_len 8 and search depth 1. On bf16 exponent planes it compresses
  // better than preset 6 at about 12x its speed; on packed codes it matches preset 6 (measured
  // figures in docs/METHODS.md). `preset` is ignored when set.
  bool weightsProfile = false;
};

// Compresses n bytes into one complete .xz stream (CRC64 check).
std::vector<uint8_t> xz_encode(const uint8_t* src, size_t n, const XzOptions& options);

// Decodes one or more concatenated .xz streams into exactly `expected` bytes at dst. Throws
// std::runtime_error on corrupt data, a failed check, trailing bytes or any other size.
void xz_decode(const uint8_t* src, size_t n, uint8_t* dst, size_t expected);

}  // namespace tz
