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

// Compresses n bytes into one complete .xz stream at `preset` (0-9, optionally | kXzExtreme).
std::vector<uint8_t> xz_encode(const uint8_t* src, size_t n, uint32_t preset);

// Decodes one or more concatenated .xz streams into exactly `expected` bytes at dst. Throws
// std::runtime_error on corrupt data, a failed check, trailing bytes or any other size.
void xz_decode(const uint8_t* src, size_t n, uint8_t* dst, size_t expected);

std::string lzma_version();

}  // namespace tz
