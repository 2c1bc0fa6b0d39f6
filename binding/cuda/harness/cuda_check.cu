// Standalone CUDA check (no Node): runs every CUDA kernel on fresh random inputs, through its
// launcher and the C ABI entry the addon calls, compares the results (and the decoders' fault
// masks) with the CPU scalar reference bit for bit, and times the kernels with CUDA events
// against the device's own copy bandwidth measured in the same run.
//
// Exit codes: 0 all checks pass, 1 a check failed, 2 no usable CUDA device (reason printed).
// Usage: tensorzip_cuda_check [--elements N] [--seed S] [--device D] [--kmeans-iterations I]
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "../../cpu/runtime/job_context.h"
#include "../../cpu/runtime/kernels.h"
#include "../../cpu/codec/bitpack.h"
#include "../../cpu/codec/rans.h"
#include "../../cpu/quant/hadamard.h"
#include "../../cpu/quant/kmeans.h"
#include "../../cpu/quant/rtn.h"
#include "../../cpu/quant/seedlm_tables.h"
#include "../../cpu/quant/ternary.h"
#include "../convert_kernels.cuh"
#include "../hadamard_kernels.cuh"
#include "../rans_blocks.h"
#include "../rans_kernels.cuh"
#include "../rtn_kernels.cuh"
#include "../ternary_kernels.cuh"
#include "../tensorzip_cuda.h"

namespace {

#define CHECK_CUDA(expr)                                                                  \
  do {                                                                                    \
    const cudaError_t e_ = (expr);                                                        \
    if (e_ != cudaSuccess) {                                                              \
      std::fprintf(stderr, "%s failed: %s\n", #expr, cudaGetErrorString(e_));             \
      std::exit(1);                                                                       \
    }                                                                                     \
  } while (0)

struct Row {
  std::string kernel;
  size_t n;
  size_t mismatches;
  std::string firstMismatch;
  double ms;        // median kernel time
  double gbps;      // bytes read + written per second / 1e9
  double pctCopy;   // of device copy bandwidth
};

struct Timer {
  cudaEvent_t a, b;
  Timer() { CHECK_CUDA(cudaEventCreate(&a)); CHECK_CUDA(cudaEventCreate(&b)); }
  ~Timer() { cudaEventDestroy(a); cudaEventDestroy(b); }
  template <class F>
  double medianMs(int reps, F&& f) {
    std::vector<double> t;
    f();  // warm-up
    CHECK_CUDA(cudaDeviceSynchronize());
    for (int r = 0; r < reps; ++r) {
      CHECK_CUDA(cudaEventRecord(a));
      f();
      CHECK_CUDA(cudaEventRecord(b));
      CHECK_CUDA(cudaEventSynchronize(b));
      float ms = 0;
      CHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
      t.push_back(ms);
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
  }
};

// Random bit patterns (every class of value: NaN payloads, Inf, subnormals, zeros) with a
// share of exact rounding ties and a fixed list of special values at the front.
std::vector<uint32_t> randomF32Bits(size_t n, std::mt19937_64& rng) {
  static const uint32_t specials[] = {0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000,
                                      0x7F800001, 0xFFBFFFFF, 0x00000001, 0x807FFFFF, 0x3F808000,
                                      0x3F818000, 0x477FF000, 0x477FEFFF, 0x7F7FFFFF, 0x33000000,
                                      0x33000001, 0x387FE000, 0x38800000, 0x3F801000, 0x3F803000};
  std::vector<uint32_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t x = static_cast<uint32_t>(rng());
    switch (rng() % 8) {
      case 0: x = (x & 0xFFFF0000u) | 0x8000u; break;  // bf16 tie
      case 1: x = (x & 0xFFFFE000u) | 0x1000u; break;  // f16 tie
      case 2: x = (x & 0x807FFFFFu) | ((100u + (x >> 24) % 50u) << 23); break;  // f16 range
      default: break;
    }
    v[i] = i < sizeof(specials) / 4 ? specials[i] : x;
  }
  return v;
}

std::vector<uint16_t> randomU16(size_t n, std::mt19937_64& rng) {
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = static_cast<uint16_t>(rng());
  return v;
}

struct Kind {
  const char* name;
  int id;
  void (*reference)(const void*, void*, size_t);
};

template <class In, class Out, void (*F)(const In*, Out*, size_t)>
void ref(const void* s, void* d, size_t n) {
  F(static_cast<const In*>(s), static_cast<Out*>(d), n);
}

// A quantizer's GPU outputs against the scalar reference's (packed codes, the first nScales
// scales, n decoded values) and its fault on valid input: how many differ, the first named.
size_t codec_mismatches(const std::vector<uint8_t>& gotPacked, const std::vector<uint8_t>& wantPacked, const uint16_t* gotScales, const uint16_t* wantScales,
                        size_t nScales, const float* gotOut, const float* wantOut, size_t n, unsigned gotFault, std::string& first) {
  size_t bad = 0;
  for (size_t i = 0; i < wantPacked.size(); ++i)
    if (gotPacked[i] != wantPacked[i] && bad++ == 0) first = "packed[" + std::to_string(i) + "]";
  for (size_t i = 0; i < nScales; ++i)
    if (gotScales[i] != wantScales[i] && bad++ == 0) first = "scale[" + std::to_string(i) + "]";
  if (std::memcmp(gotOut, wantOut, n * 4) != 0 && bad++ == 0) first = "decoded values";
  if (gotFault != 0 && bad++ == 0) first = "fault " + std::to_string(gotFault) + " on valid input";
  return bad;
}

// A rANS test piece of `bytes` bytes: codes of `bits` bits (packed LSB first; 8: the bytes) with a
// geometric law whose spread differs per context (symbol i in context i mod contexts), or, skewed,
// one value 99.9 % of the time and any other now and then.
std::vector<uint8_t> ransPiece(size_t bytes, unsigned bits, unsigned contexts, bool skewed, std::mt19937_64& rng) {
  const size_t n = tz::rans_symbols(bytes, bits);
  const unsigned top = (1u << bits) - 1;
  std::vector<uint8_t> codes(n);
  for (size_t i = 0; i < n; ++i) {
    if (skewed) {
      codes[i] = uint8_t(rng() % 1000 ? 0x3C & top : rng() & top);
      continue;
    }
    const unsigned c = unsigned(i % contexts);
    unsigned v = 0;
    while (v < top && rng() % (4 + c) <= c) ++v;  // P(v + 1 | v) = (1 + c) / (4 + c)
    codes[i] = uint8_t((v + 5 * c) & top);
  }
  std::vector<uint8_t> out(tz::packed_bytes(n, bits));
  tz::pack_codes(codes.data(), n, bits, out.data());
  out.resize(bytes);  // the last code's bits past the end are zero
  return out;
}

// A coded frame, parsed, with what the scalar reference decodes from it: the piece's bytes, and
// per block 1 where it throws (the block does not decode), else 0.
struct RansCase {
  std::string name;
  size_t bytes = 0;
  std::vector<uint8_t> frame;
  tz::RansFrame f;
  std::vector<uint8_t> want, verdicts;
  void reference() {
    want.assign(bytes, 0);
    verdicts.assign(f.blocks.size(), 0);
    for (size_t b = 0; b < f.blocks.size(); ++b) {
      try {
        tz::rans_decode_block_of(tz::scalar_kernels(), f, b, want.data());
      } catch (const tz::RansError&) {
        verdicts[b] = 1;
      }
    }
  }
};

// The staging the addon does (cuda_backend.cc, decode_pieces): every block of the frames in one
// source buffer (here after one spare byte, so that blocks and words start on odd addresses), the
// outputs one after another, the tables in frame order.
struct RansCall {
  std::vector<uint8_t> src{0x5A};
  std::vector<tzc_rans_block> blocks;
  std::vector<uint32_t> tables;
  std::vector<uint64_t> out;  // each frame's output
  uint64_t dstBytes = 0;
  void add(const tz::RansFrame& f) {
    out.push_back(dstBytes);
    const uint32_t table = uint32_t(tables.size() / tz::kRansScale);
    for (const tz::RansTable& t : f.tables) tables.insert(tables.end(), t.slot, t.slot + tz::kRansScale);
    for (size_t j = 0; j < f.blocks.size(); ++j) {
      const uint64_t first = j * f.blockSymbols;
      blocks.push_back({src.size(), f.blocks[j].second, dstBytes + first * f.bits / 8, std::min<uint64_t>(f.blockSymbols, f.symbols - first), table,
                        f.contexts, f.bits, 0});
      src.insert(src.end(), f.blocks[j].first, f.blocks[j].first + f.blocks[j].second);
    }
    dstBytes += f.bits == 8 ? f.symbols : tz::packed_bytes(f.symbols, f.bits);
  }
};

struct RansOutput {
  std::vector<uint8_t> dst, faults;
};

// The call through the launcher on device buffers, timed over `reps` launches (ms: the median).
RansOutput ransLaunch(const RansCall& c, Timer& timer, int reps, double& ms) {
  uint8_t *dSrc = nullptr, *dDst = nullptr, *dFaults = nullptr;
  uint32_t* dTables = nullptr;
  tzc_rans_block* dBlocks = nullptr;
  CHECK_CUDA(cudaMalloc(&dSrc, c.src.size()));
  CHECK_CUDA(cudaMalloc(&dDst, std::max<uint64_t>(1, c.dstBytes)));
  CHECK_CUDA(cudaMalloc(&dFaults, c.blocks.size()));
  CHECK_CUDA(cudaMalloc(&dTables, c.tables.size() * 4));
  CHECK_CUDA(cudaMalloc(&dBlocks, c.blocks.size() * sizeof(tzc_rans_block)));
  CHECK_CUDA(cudaMemcpy(dSrc, c.src.data(), c.src.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dTables, c.tables.data(), c.tables.size() * 4, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dBlocks, c.blocks.data(), c.blocks.size() * sizeof(tzc_rans_block), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dFaults, 0xEE, c.blocks.size()));  // every verdict must be written
  ms = timer.medianMs(reps, [&] { CHECK_CUDA(tz::cuda::launch_rans_decode(dSrc, dBlocks, c.blocks.size(), dTables, dDst, dFaults, nullptr)); });
  RansOutput o{std::vector<uint8_t>(c.dstBytes), std::vector<uint8_t>(c.blocks.size())};
  CHECK_CUDA(cudaMemcpy(o.dst.data(), dDst, c.dstBytes, cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(o.faults.data(), dFaults, c.blocks.size(), cudaMemcpyDeviceToHost));
  cudaFree(dSrc);
  cudaFree(dDst);
  cudaFree(dFaults);
  cudaFree(dTables);
  cudaFree(dBlocks);
  return o;
}

// An output against the reference: each block's verdict, and where every block of a frame
// decodes, its bytes and a zero past the piece's end. Returns the mismatches, the first named.
size_t ransMismatches(const std::vector<const RansCase*>& cases, const RansCall& c, const RansOutput& o, std::string& first) {
  size_t bad = 0, b = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const RansCase& r = *cases[k];
    bool decodes = true;
    for (size_t j = 0; j < r.verdicts.size(); ++j, ++b) {
      decodes = decodes && !r.verdicts[j];
      if (o.faults[b] != r.verdicts[j] && bad++ == 0)
        first = r.name + " block " + std::to_string(j) + ": fault " + std::to_string(o.faults[b]) + ", want " + std::to_string(r.verdicts[j]);
    }
    if (!decodes) continue;
    const uint8_t* got = o.dst.data() + c.out[k];
    for (size_t i = 0; i < r.bytes; ++i)
      if (got[i] != r.want[i] && bad++ == 0) first = r.name + " byte " + std::to_string(i);
    const uint64_t end = k + 1 < cases.size() ? c.out[k + 1] : c.dstBytes;
    if (c.out[k] + r.bytes < end && got[r.bytes] != 0 && bad++ == 0) first = r.name + ": bits set past the piece's end";
  }
  return bad;
}


// The same call through the C ABI: a failed call or a mismatch with the reference counts against
// the row; returns the output (empty when the call failed).
RansOutput ransThroughAbi(int device, const std::vector<const RansCase*>& cases, const RansCall& call, Row& row) {
  RansOutput abi{std::vector<uint8_t>(call.dstBytes), std::vector<uint8_t>(call.blocks.size())};
  if (tzc_rans_decode(device, call.src.data(), call.src.size(), call.blocks.data(), call.blocks.size(), call.tables.data(), call.tables.size() / tz::kRansScale,
                      abi.dst.data(), call.dstBytes, abi.faults.data(), nullptr) != TZC_OK) {
    if (row.mismatches++ == 0) row.firstMismatch = std::string("tzc_rans_decode: ") + tzc_last_error();
    return {};
  }
  std::string first;
  if (ransMismatches(cases, call, abi, first) && row.mismatches++ == 0) row.firstMismatch = "through the C ABI: " + first;
  return abi;
}

// Encoder pieces planned as rans_encode plans them and staged as the addon stages them
// (cuda_backend.cc, encode_pieces): the symbols one after another (here after one spare byte, so
// that blocks start on odd addresses), each frame's tables after the last's.
struct RansEncCall {
  std::vector<uint8_t> symbols{0x5A};
  std::vector<tzc_rans_enc_block> blocks;
  std::vector<tzc_rans_enc_table> tables;
  std::vector<size_t> first;  // each plan's first block
  void add(const tz::RansPlan& p) {
    first.push_back(blocks.size());
    const uint32_t table = uint32_t(tables.size());
    for (const tz::RansEncTable& t : p.tables) {
      tzc_rans_enc_table e;
      std::memcpy(e.freq_cum, t.freqCum, sizeof(e.freq_cum));
      std::memcpy(e.inverse, t.inverse, sizeof(e.inverse));
      tables.push_back(e);
    }
    for (size_t b = 0; b < p.blocks(); ++b) blocks.push_back({symbols.size() + b * p.blockSymbols, p.block_symbols(b), table, p.contexts});
    symbols.insert(symbols.end(), p.symbols(), p.symbols() + p.count);
  }
};

// One block as the scalar reference encodes it.
struct RansEncBlock {
  uint32_t states[tz::kRansLanes];
  std::vector<uint16_t> words;
};

std::vector<RansEncBlock> ransEncReference(const RansEncCall& c) {
  std::vector<RansEncBlock> out(c.blocks.size());
  std::vector<tz::RansEncTable> t(tz::kRansMaxContexts);
  std::vector<uint16_t> words;
  for (size_t k = 0; k < c.blocks.size(); ++k) {
    const tzc_rans_enc_block& b = c.blocks[k];
    for (unsigned j = 0; j < b.contexts; ++j) {
      std::memcpy(t[j].freqCum, c.tables[b.table + j].freq_cum, sizeof(t[j].freqCum));
      std::memcpy(t[j].inverse, c.tables[b.table + j].inverse, sizeof(t[j].inverse));
    }
    words.resize(b.symbols + 8);
    const size_t n =
        tz::scalar_kernels().rans_encode_block(t.data(), b.contexts, c.symbols.data() + b.symbols_at, b.symbols, out[k].states, words.data() + words.size());
    out[k].words.assign(words.end() - n, words.end());
  }
  return out;
}

struct RansEncOutput {
  std::vector<uint32_t> states;
  std::vector<uint16_t> words;  // one a symbol, as the call's regions
  std::vector<uint64_t> counts;
};

// The call through the launcher on device buffers, timed over `reps` launches (ms: the median).
RansEncOutput ransEncLaunch(const RansEncCall& c, Timer& timer, int reps, double& ms) {
  uint8_t* dSymbols = nullptr;
  uint16_t* dWords = nullptr;
  uint32_t* dStates = nullptr;
  uint64_t* dCounts = nullptr;
  tzc_rans_enc_block* dBlocks = nullptr;
  tzc_rans_enc_table* dTables = nullptr;
  const size_t blocks = c.blocks.size();
  CHECK_CUDA(cudaMalloc(&dSymbols, c.symbols.size()));
  CHECK_CUDA(cudaMalloc(&dWords, 2 * c.symbols.size()));
  CHECK_CUDA(cudaMalloc(&dStates, blocks * tz::kRansStateBytes));
  CHECK_CUDA(cudaMalloc(&dCounts, blocks * 8));
  CHECK_CUDA(cudaMalloc(&dBlocks, blocks * sizeof(tzc_rans_enc_block)));
  CHECK_CUDA(cudaMalloc(&dTables, c.tables.size() * sizeof(tzc_rans_enc_table)));
  CHECK_CUDA(cudaMemcpy(dSymbols, c.symbols.data(), c.symbols.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dBlocks, c.blocks.data(), blocks * sizeof(tzc_rans_enc_block), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dTables, c.tables.data(), c.tables.size() * sizeof(tzc_rans_enc_table), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dStates, 0xEE, blocks * tz::kRansStateBytes));  // every state and count must be written
  CHECK_CUDA(cudaMemset(dCounts, 0xEE, blocks * 8));
  ms = timer.medianMs(reps, [&] { CHECK_CUDA(tz::cuda::launch_rans_encode(dSymbols, dBlocks, blocks, dTables, dStates, dWords, dCounts, nullptr)); });
  RansEncOutput o{std::vector<uint32_t>(blocks * tz::kRansLanes), std::vector<uint16_t>(c.symbols.size()), std::vector<uint64_t>(blocks)};
  CHECK_CUDA(cudaMemcpy(o.states.data(), dStates, blocks * tz::kRansStateBytes, cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(o.words.data(), dWords, 2 * c.symbols.size(), cudaMemcpyDeviceToHost));
  CHECK_CUDA(cudaMemcpy(o.counts.data(), dCounts, blocks * 8, cudaMemcpyDeviceToHost));
  cudaFree(dSymbols);
  cudaFree(dWords);
  cudaFree(dStates);
  cudaFree(dCounts);
  cudaFree(dBlocks);
  cudaFree(dTables);
  return o;
}

// An output against the reference (want[k]: block k's), block for block: states, word count and
// the words at the end of its region. Returns the mismatches, the first named.
size_t ransEncMismatches(const std::string& name, const RansEncCall& c, const std::vector<const RansEncBlock*>& want, const RansEncOutput& o,
                         std::string& first) {
  size_t bad = 0;
  for (size_t k = 0; k < c.blocks.size(); ++k) {
    const tzc_rans_enc_block& b = c.blocks[k];
    const RansEncBlock& w = *want[k];
    const auto named = [&](const std::string& what) { return name + " block " + std::to_string(k) + ": " + what; };
    if (std::memcmp(o.states.data() + tz::kRansLanes * k, w.states, tz::kRansStateBytes) != 0 && bad++ == 0) first = named("states");
    if (o.counts[k] != w.words.size()) {
      if (bad++ == 0) first = named(std::to_string(o.counts[k]) + " words, want " + std::to_string(w.words.size()));
      continue;
    }
    if (std::memcmp(o.words.data() + b.symbols_at + b.symbols - w.words.size(), w.words.data(), 2 * w.words.size()) != 0 && bad++ == 0) first = named("words");
  }
  return bad;
}

std::vector<const RansEncBlock*> pointers(const std::vector<RansEncBlock>& v) {
  std::vector<const RansEncBlock*> out;
  for (const RansEncBlock& b : v) out.push_back(&b);
  return out;
}

// The same call through the C ABI (rc: its return code).
RansEncOutput ransEncAbi(int device, const RansEncCall& c, int& rc) {
  RansEncOutput o{std::vector<uint32_t>(c.blocks.size() * tz::kRansLanes), std::vector<uint16_t>(c.symbols.size()), std::vector<uint64_t>(c.blocks.size())};
  rc = tzc_rans_encode(device, c.symbols.data(), c.symbols.size(), c.blocks.data(), c.blocks.size(), c.tables.data(), c.tables.size(), o.states.data(),
                       o.words.data(), o.counts.data(), nullptr);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = size_t(1) << 26;
  uint64_t seed = std::chrono::steady_clock::now().time_since_epoch().count();
  int device = 0;
  unsigned kmeansIterations = 10;  // of the timed published k-means case (then extrapolated to 101)
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--elements")) n = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--seed")) seed = std::strtoull(argv[i + 1], nullptr, 10);
    else if (!std::strcmp(argv[i], "--device")) device = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--kmeans-iterations")) kmeansIterations = unsigned(std::max(1, std::atoi(argv[i + 1])));
  }

  int count = 0;
  if (tzc_init(&count) != TZC_OK) {
    std::printf("no CUDA device: %s\n", tzc_last_error());
    return 2;
  }
  if (count == 0 || device >= count) {
    std::printf("no CUDA device: %d device(s) found, device %d requested\n", count, device);
    return 2;
  }
  tzc_device_props info;
  if (tzc_device_info(device, &info) != TZC_OK) {
    std::printf("no CUDA device: %s\n", tzc_last_error());
    return 2;
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::printf("device %d: %s, compute capability %d.%d, %.1f GiB, %d SMs; driver %d, runtime %d\n",
              device, info.name, info.major, info.minor, info.memory_bytes / 1073741824.0,
              info.multiprocessors, driver, runtime);
  std::printf("elements per check: %zu, seed: %llu\n", n, static_cast<unsigned long long>(seed));
  CHECK_CUDA(cudaSetDevice(device));

  // Device copy bandwidth: the roofline for memory-bound kernels (bytes read + written).
  const size_t copyBytes = n * 4;
  void *dA = nullptr, *dB = nullptr;
  CHECK_CUDA(cudaMalloc(&dA, copyBytes));
  CHECK_CUDA(cudaMalloc(&dB, copyBytes));
  Timer timer;
  const double copyMs = timer.medianMs(20, [&] { CHECK_CUDA(cudaMemcpyAsync(dB, dA, copyBytes, cudaMemcpyDeviceToDevice)); });
  const double copyGBps = 2.0 * copyBytes / (copyMs * 1e6);
  std::printf("device copy bandwidth: %.1f GB/s (read + write, %zu MiB cudaMemcpy D2D)\n\n", copyGBps, copyBytes >> 20);

  std::mt19937_64 rng(seed);
  const Kind kinds[] = {
      {"f32_to_bf16", TZC_F32_TO_BF16, ref<float, uint16_t, tz::scalar::f32_to_bf16>},
      {"bf16_to_f32", TZC_BF16_TO_F32, ref<uint16_t, float, tz::scalar::bf16_to_f32>},
      {"f32_to_f16", TZC_F32_TO_F16, ref<float, uint16_t, tz::scalar::f32_to_f16>},
      {"f16_to_f32", TZC_F16_TO_F32, ref<uint16_t, float, tz::scalar::f16_to_f32>},
  };
  std::vector<Row> rows;
  for (const Kind& k : kinds) {
    const size_t inSize = tz::cuda::convert_src_size(k.id), outSize = tz::cuda::convert_dst_size(k.id);
    std::vector<uint8_t> in(n * inSize), expect(n * outSize), got(n * outSize), viaAbi(n * outSize);
    if (inSize == 4) {
      auto v = randomF32Bits(n, rng);
      std::memcpy(in.data(), v.data(), in.size());
    } else {
      auto v = randomU16(n, rng);
      std::memcpy(in.data(), v.data(), in.size());
    }
    k.reference(in.data(), expect.data(), n);

    CHECK_CUDA(cudaMemcpy(dA, in.data(), in.size(), cudaMemcpyHostToDevice));
    const double ms = timer.medianMs(20, [&] { CHECK_CUDA(tz::cuda::launch_convert(k.id, dA, dB, n, nullptr)); });
    CHECK_CUDA(cudaMemcpy(got.data(), dB, got.size(), cudaMemcpyDeviceToHost));
    // The host-buffer C ABI entry point the addon uses must agree too.
    const int abi = tzc_convert(device, k.id, in.data(), viaAbi.data(), n, nullptr);

    Row row{k.name, n, 0, "", ms, (in.size() + got.size()) / (ms * 1e6), 0};
    row.pctCopy = 100.0 * row.gbps / copyGBps;
    for (size_t i = 0; i < n; ++i) {
      const bool bad = std::memcmp(&got[i * outSize], &expect[i * outSize], outSize) != 0 ||
                       std::memcmp(&viaAbi[i * outSize], &expect[i * outSize], outSize) != 0;
      if (!bad) continue;
      if (row.mismatches++ == 0) {
        uint32_t a = 0, b = 0, c = 0;
        std::memcpy(&a, &in[i * inSize], inSize);
        std::memcpy(&b, &expect[i * outSize], outSize);
        std::memcpy(&c, &got[i * outSize], outSize);
        char buf[128];
        std::snprintf(buf, sizeof buf, "[%zu] in %08x cpu %08x gpu %08x", i, a, b, c);
        row.firstMismatch = buf;
      }
    }
    if (abi != TZC_OK) {
      row.mismatches = row.mismatches ? row.mismatches : 1;
      row.firstMismatch = std::string("tzc_convert: ") + tzc_last_error();
    }
    rows.push_back(row);
  }
  cudaFree(dA);
  cudaFree(dB);

  // rtn (binding/cpu/quant/rtn.h): encode (scales + packed codes) and decode, against the scalar
  // reference, through the launchers and the C ABI; N(0, 0.02) weights with outliers, an all-zero
  // group, exact rounding ties and subnormal scales; then a corrupt code and scale must be flagged
  // as the reference flags them.
  {
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> w(n);
    for (auto& x : w) x = normal(rng) * (rng() % 100 == 0 ? 8.0f : 1.0f);
    float *dW = nullptr, *dOut = nullptr;
    uint8_t* dPacked = nullptr;
    uint16_t* dScales = nullptr;
    unsigned* dFault = nullptr;
    CHECK_CUDA(cudaMalloc(&dW, n * 4));
    CHECK_CUDA(cudaMalloc(&dOut, n * 4));
    CHECK_CUDA(cudaMalloc(&dPacked, n));
    CHECK_CUDA(cudaMalloc(&dScales, n / 8 * 2 + 2));
    CHECK_CUDA(cudaMalloc(&dFault, 4));
    for (unsigned bits : {2u, 3u, 4u, 8u})
      for (size_t group : {size_t(32), size_t(128)}) {
        const int qmax = tz::rtn_qmax(bits);
        std::vector<float> x(w);
        for (size_t g = 0; g * group < n; g += 97) {  // edge groups, spread over the tensor
          const size_t from = g * group, to = std::min(n, from + group);
          for (size_t i = from; i < to; ++i)
            x[i] = (g / 97) % 3 == 0 ? 0.0f
                   : (g / 97) % 3 == 1 ? float((i % 2 ? int(i % (2 * qmax)) - qmax : int(i % (2 * qmax + 1)) - qmax)) * 0.0078125f + (i % 2 ? 0.00390625f : 0.0f)
                                       : x[i] * 1e-6f;
        }
        const size_t bytes = tz::packed_bytes(n, bits), groups = (n + group - 1) / group;
        std::vector<uint8_t> wantPacked(bytes), gotPacked(bytes), abiPacked(bytes);
        std::vector<uint16_t> wantScales(groups), gotScales(groups), abiScales(groups);
        std::vector<float> wantOut(n), gotOut(n), abiOut(n);
        tz::scalar::rtn_encode(x.data(), n, bits, group, wantPacked.data(), wantScales.data());
        tz::scalar::rtn_decode(wantPacked.data(), wantScales.data(), n, bits, group, wantOut.data());
        CHECK_CUDA(cudaMemcpy(dW, x.data(), n * 4, cudaMemcpyHostToDevice));
        CHECK_CUDA(cudaMemset(dFault, 0, 4));
        const double encMs = timer.medianMs(10, [&] { CHECK_CUDA(tz::cuda::launch_rtn_encode(dW, n, bits, group, dPacked, dScales, nullptr)); });
        const double decMs = timer.medianMs(10, [&] { CHECK_CUDA(tz::cuda::launch_rtn_decode(dPacked, dScales, n, bits, group, dOut, dFault, nullptr)); });
        unsigned gotFault = 0, abiFault = 1;
        CHECK_CUDA(cudaMemcpy(gotPacked.data(), dPacked, bytes, cudaMemcpyDeviceToHost));
        CHECK_CUDA(cudaMemcpy(gotScales.data(), dScales, groups * 2, cudaMemcpyDeviceToHost));
        CHECK_CUDA(cudaMemcpy(gotOut.data(), dOut, n * 4, cudaMemcpyDeviceToHost));
        CHECK_CUDA(cudaMemcpy(&gotFault, dFault, 4, cudaMemcpyDeviceToHost));
        std::string first;
        size_t bad = codec_mismatches(gotPacked, wantPacked, gotScales.data(), wantScales.data(), groups, gotOut.data(), wantOut.data(), n, gotFault, first);
        if (tzc_rtn_encode(device, x.data(), n, bits, group, abiPacked.data(), abiScales.data(), nullptr) != TZC_OK ||
            tzc_rtn_decode(device, abiPacked.data(), abiScales.data(), n, bits, group, abiOut.data(), &abiFault, nullptr) != TZC_OK) {
          if (bad++ == 0) first = std::string("tzc_rtn: ") + tzc_last_error();
        } else if ((abiPacked != wantPacked || abiScales != wantScales || std::memcmp(abiOut.data(), wantOut.data(), n * 4) != 0 || abiFault != 0) &&
                   bad++ == 0) {
          first = "tzc_rtn_encode/decode differ";
        }
        abiPacked[bytes / 2] = 0xff;  // codes 2^bits - 1 > 2·qmax
        abiScales[groups / 3] = 0x7e00;
        const unsigned wantFault = tz::scalar::rtn_decode(abiPacked.data(), abiScales.data(), n, bits, group, wantOut.data());
        if (tzc_rtn_decode(device, abiPacked.data(), abiScales.data(), n, bits, group, abiOut.data(), &abiFault, nullptr) != TZC_OK || abiFault != wantFault) {
          if (bad++ == 0) first = "corrupt input: fault " + std::to_string(abiFault) + ", want " + std::to_string(wantFault);
        }
        const std::string mode = std::to_string(bits) + "-bit g" + std::to_string(group);
        const double traffic = n * 4.0 + bytes + groups * 2.0;
        for (const auto& [what, ms] : {std::pair<const char*, double>{"enc", encMs}, {"dec", decMs}}) {
          Row row{std::string("rtn ") + what + " " + mode, n, bad, first, ms, traffic / (ms * 1e6), 0};
          row.pctCopy = 100.0 * row.gbps / copyGBps;
          rows.push_back(row);
        }
      }
    cudaFree(dW);
    cudaFree(dOut);
    cudaFree(dPacked);
    cudaFree(dScales);
    cudaFree(dFault);
  }

  // ternary (binding/cpu/quant/ternary.h): encode (scales + packed codes) and decode, against the
  // scalar reference, for both packings, f16 group scales and one per-tensor scale.
  {
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> w(n);
    for (auto& x : w) x = normal(rng) * (rng() % 100 == 0 ? 8.0f : 1.0f);
    const size_t group = 256, groups = (n + group - 1) / group;
    float *dW = nullptr, *dGammas = nullptr, *dOut = nullptr;
    uint8_t* dPacked = nullptr;
    uint16_t* dScales = nullptr;
    unsigned* dFault = nullptr;
    CHECK_CUDA(cudaMalloc(&dFault, 4));
    CHECK_CUDA(cudaMalloc(&dW, n * 4));
    CHECK_CUDA(cudaMalloc(&dOut, n * 4));
    CHECK_CUDA(cudaMalloc(&dGammas, groups * 4));
    CHECK_CUDA(cudaMalloc(&dScales, groups * 2));
    CHECK_CUDA(cudaMalloc(&dPacked, n));
    CHECK_CUDA(cudaMemcpy(dW, w.data(), n * 4, cudaMemcpyHostToDevice));
    for (unsigned packing : {3u, 2u})
      for (float tensorScale : {-1.0f, 0.016f})
        for (unsigned rounds : {0u, 3u}) {
        if (rounds && tensorScale >= 0) continue;
        const size_t bytes = tz::ternary_packed_bytes(n, packing), nScales = tensorScale < 0 ? groups : 0;
        std::vector<uint8_t> wantPacked(bytes), gotPacked(bytes);
        std::vector<uint16_t> wantScales(groups), gotScales(groups);
        std::vector<float> wantOut(n), gotOut(n);
        tz::scalar::ternary_encode(w.data(), tz::FloatType::F32, n, group, packing, tensorScale, rounds, wantPacked.data(), wantScales.data());
        tz::scalar::ternary_decode(wantPacked.data(), wantScales.data(), n, group, packing, tensorScale, wantOut.data(), tz::FloatType::F32);
        const double encMs = timer.medianMs(10, [&] {
          CHECK_CUDA(tz::cuda::launch_ternary_encode(dW, n, group, packing, tensorScale, rounds, dPacked, dScales, dGammas, nullptr));
        });
        CHECK_CUDA(cudaMemset(dFault, 0, 4));
        const double decMs = timer.medianMs(10, [&] {
          CHECK_CUDA(tz::cuda::launch_ternary_decode(dPacked, dScales, n, group, packing, tensorScale, dOut, dFault, nullptr));
        });
        unsigned gotFault = 0;
        CHECK_CUDA(cudaMemcpy(gotPacked.data(), dPacked, bytes, cudaMemcpyDeviceToHost));
        CHECK_CUDA(cudaMemcpy(gotScales.data(), dScales, nScales * 2, cudaMemcpyDeviceToHost));
        CHECK_CUDA(cudaMemcpy(gotOut.data(), dOut, n * 4, cudaMemcpyDeviceToHost));
        CHECK_CUDA(cudaMemcpy(&gotFault, dFault, 4, cudaMemcpyDeviceToHost));
        std::string first;
        size_t bad = codec_mismatches(gotPacked, wantPacked, gotScales.data(), wantScales.data(), nScales, gotOut.data(), wantOut.data(), n, gotFault, first);
        // The host-buffer C ABI entries the addon uses (staged in chunks) must agree too, and flag
        // a corrupt byte and scale as the reference does.
        std::vector<uint8_t> abiPacked(bytes);
        std::vector<uint16_t> abiScales(groups);
        std::vector<float> abiOut(n);
        unsigned abiFault = 1;
        if (tzc_ternary_encode(device, w.data(), n, group, packing, tensorScale, rounds, abiPacked.data(), abiScales.data(), nullptr) != TZC_OK ||
            tzc_ternary_decode(device, abiPacked.data(), abiScales.data(), n, group, packing, tensorScale, abiOut.data(), &abiFault, nullptr) != TZC_OK) {
          if (bad++ == 0) first = std::string("tzc_ternary: ") + tzc_last_error();
        } else if ((abiPacked != wantPacked || std::memcmp(abiScales.data(), wantScales.data(), nScales * 2) != 0 ||
                    std::memcmp(abiOut.data(), wantOut.data(), n * 4) != 0 || abiFault != 0) &&
                   bad++ == 0) {
          first = "tzc_ternary_encode/decode differ";
        }
        abiPacked[bytes / 2] = packing == 3 ? 250 : 0x03;
        if (nScales) abiScales[nScales / 3] = 0xfc00;
        const unsigned wantFault = tz::scalar::ternary_decode(abiPacked.data(), abiScales.data(), n, group, packing, tensorScale, wantOut.data(), tz::FloatType::F32);
        if (tzc_ternary_decode(device, abiPacked.data(), abiScales.data(), n, group, packing, tensorScale, abiOut.data(), &abiFault, nullptr) != TZC_OK ||
            abiFault != wantFault) {
          if (bad++ == 0) first = "corrupt input: fault " + std::to_string(abiFault) + ", want " + std::to_string(wantFault);
        }
        const std::string mode = std::string(packing == 3 ? "p3" : "p2") + (tensorScale < 0 ? " g256" : " tensor") + (rounds ? " opt" : "");
        const double traffic = n * 4.0 + bytes + nScales * 2.0;
        for (const auto& [what, ms] : {std::pair<const char*, double>{"enc", encMs}, {"dec", decMs}}) {
          Row row{std::string("ternary ") + what + " " + mode, n, bad, first, ms, traffic / (ms * 1e6), 0};
          row.pctCopy = 100.0 * row.gbps / copyGBps;
          rows.push_back(row);
        }
      }
    cudaFree(dW);
    cudaFree(dOut);
    cudaFree(dGammas);
    cudaFree(dScales);
    cudaFree(dPacked);
    cudaFree(dFault);
  }

  // seedlm (binding/cpu/quant/seedlm.h): the exhaustive search on N(0, 0.02) blocks. Seeds and
  // exponents must equal the scalar reference's on a sample (the reference takes ~20 ms a
  // block); then the search is timed on one 1536 x 8960 tensor. Operations per trial as in
  // lib/tools/bench/seedlm.bench.ts.
  std::vector<std::string> notes;
  for (const auto& [C, P] : {std::pair<unsigned, unsigned>{8, 3}, {12, 4}}) {
    const tz::SeedlmTables& t = tz::seedlm_tables(C, P);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    const size_t sample = 64, tensor = (size_t(1536) * 8960) / C;
    std::vector<float> w(tensor * C);
    for (auto& x : w) x = normal(rng);
    float absMax = 0;
    for (float x : w) absMax = std::max(absMax, std::fabs(x));
    const int eMin = tz::seedlm_exp_min(absMax);
    std::vector<uint16_t> wantSeeds(sample), gotSeeds(tensor);
    std::vector<uint8_t> wantFields(sample * (P + 1));
    std::vector<int32_t> gotExp(tensor);
    tz::scalar::seedlm_search(t, w.data(), sample, eMin, 0, wantSeeds.data(), wantFields.data());
    const auto start = std::chrono::steady_clock::now();
    const int rc = tzc_seedlm_search(device, C, P, t.perSeed.data(), w.data(), tensor, eMin, gotSeeds.data(), gotExp.data(), nullptr);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    Row row{"seedlm C" + std::to_string(C) + " P" + std::to_string(P), sample, 0, "", seconds * 1e3, 0, 0};
    if (rc != TZC_OK) {
      row.mismatches = 1;
      row.firstMismatch = std::string("tzc_seedlm_search: ") + tzc_last_error();
    }
    for (size_t b = 0; rc == TZC_OK && b < sample; ++b)
      if ((gotSeeds[b] != wantSeeds[b] || gotExp[b] - eMin != wantFields[b * (P + 1)]) && row.mismatches++ == 0)
        row.firstMismatch = "block " + std::to_string(b) + ": seed " + std::to_string(gotSeeds[b]) + " e " + std::to_string(gotExp[b]) + ", want seed " +
                            std::to_string(wantSeeds[b]) + " e " + std::to_string(eMin + wantFields[b * (P + 1)]);
    rows.push_back(row);
    const double trials = double(tensor) * 65535 / seconds, flops = trials * (2.0 * C * P + 3 * (2.0 * C * P + 4.0 * C));
    char line[320];
    std::snprintf(line, sizeof(line),
                  "seedlm C%u P%u: 1536x8960 tensor (%zu blocks) in %.2f s, uploads included: %.2f G seed trials/s, %.0f GFLOP/s; "
                  "a 1.78B-parameter model at this rate: %.0f s (extrapolated)",
                  C, P, tensor, seconds, trials / 1e9, flops / 1e9, seconds * 1.78e9 / (1536.0 * 8960));
    notes.push_back(line);
  }

  // k-means (binding/cpu/quant/kmeans.h): the CUDA Lloyd loop against kmeans_lloyd on the CPU from the
  // same initial centroids (the first k points). Planted, well-separated clusters and random
  // data: centroids must be identical, the final labels identical, objectives within 1e-5
  // relative (they are summed in another order). Then VPTQ's published case is timed: 7,340,032
  // points of d 8 into 65,536 centroids (130.6 s for 101 iterations with cuML), 10 iterations
  // timed and extrapolated to 101, unless --kmeans-iterations says otherwise.
  {
    struct Case {
      const char* name;
      size_t n;
      unsigned v, k, iterations;
      bool planted;
    };
    const tz::KernelTable& cpu = tz::avx2_kernels() ? *tz::avx2_kernels() : tz::scalar_kernels();
    for (const Case& c : {Case{"kmeans planted v8", 65536, 8, 256, 6, true}, Case{"kmeans random v6", 131072, 6, 1024, 5, false},
                          Case{"kmeans random v12", 50000, 12, 300, 4, false}}) {
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> x(c.n * c.v), centres(size_t(c.k) * c.v);
      for (auto& e : centres) e = normal(rng) * 100.0f;
      for (size_t i = 0; i < c.n; ++i)
        for (unsigned d = 0; d < c.v; ++d) x[i * c.v + d] = c.planted ? centres[(i % c.k) * c.v + d] + 0.01f * normal(rng) : normal(rng);
      tz::KmeansResult want;
      want.centroids.assign(x.begin(), x.begin() + size_t(c.k) * c.v);
      tz::JobContext ctx;
      tz::kmeans_lloyd(cpu, x.data(), c.n, c.v, nullptr, c.k, c.iterations, 0.0, 2, ctx, want);
      std::vector<float> got(x.begin(), x.begin() + size_t(c.k) * c.v);
      std::vector<double> objective(c.iterations);
      unsigned iterations = 0, repaired = 0;
      const auto start = std::chrono::steady_clock::now();
      int rc = tzc_kmeans_lloyd(device, x.data(), c.n, c.v, nullptr, c.k, c.iterations, 0.0, got.data(), objective.data(), &iterations, &repaired, nullptr);
      const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      Row row{c.name, c.n, 0, "", ms, 0, 0};
      std::vector<uint32_t> wantLabels(c.n), gotLabels(c.n);
      if (rc == TZC_OK) {
        tz::KmeansCentroids cc;
        cc.set(c.v, c.k, want.centroids.data());
        tz::kmeans_assign_all(cpu, cc, x.data(), c.n, wantLabels.data(), 2, ctx);
        rc = tzc_kmeans_assign(device, x.data(), c.n, c.v, got.data(), c.k, gotLabels.data(), nullptr);
      }
      if (rc != TZC_OK) {
        row.mismatches = 1;
        row.firstMismatch = std::string("tzc_kmeans: ") + tzc_last_error();
      } else {
        if (iterations != want.objective.size() && row.mismatches++ == 0)
          row.firstMismatch = std::to_string(iterations) + " iterations, want " + std::to_string(want.objective.size());
        for (unsigned it = 0; it < std::min<size_t>(iterations, want.objective.size()); ++it)
          if (std::fabs(objective[it] - want.objective[it]) > 1e-5 * std::fabs(want.objective[it]) && row.mismatches++ == 0)
            row.firstMismatch = "objective " + std::to_string(it) + ": " + std::to_string(objective[it]) + " vs " + std::to_string(want.objective[it]);
        if (std::memcmp(got.data(), want.centroids.data(), got.size() * 4) != 0 && row.mismatches++ == 0) row.firstMismatch = "centroids differ";
        for (size_t i = 0; i < c.n; ++i)
          if (gotLabels[i] != wantLabels[i] && row.mismatches++ == 0)
            row.firstMismatch = "label " + std::to_string(i) + ": " + std::to_string(gotLabels[i]) + " vs " + std::to_string(wantLabels[i]);
      }
      rows.push_back(row);
    }
    // VPTQ's published case.
    const size_t n = 7340032;
    const unsigned v = 8, k = 65536, iterations = kmeansIterations;
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> x(n * v);
    for (auto& e : x) e = normal(rng);
    std::vector<float> cent(x.begin(), x.begin() + size_t(k) * v);
    std::vector<double> objective(iterations);
    unsigned ran = 0, repaired = 0;
    const auto start = std::chrono::steady_clock::now();
    const int rc = tzc_kmeans_lloyd(device, x.data(), n, v, nullptr, k, iterations, 0.0, cent.data(), objective.data(), &ran, &repaired, nullptr);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    char line[400];
    if (rc != TZC_OK)
      std::snprintf(line, sizeof(line), "kmeans 7340032 x d8 -> 65536: failed: %s", tzc_last_error());
    else
      std::snprintf(line, sizeof(line),
                    "kmeans 7340032 x d8 -> 65536: %u iterations in %.2f s (upload included), %.0f GFLOP/s in assignment+update; "
                    "101 iterations at this rate: %.1f s%s (cuML, published: 130.6 s)",
                    ran, seconds, 2.0 * n * k * v * ran / seconds / 1e9, seconds * 101 / ran, ran == 101 ? "" : " (extrapolated)");
    notes.push_back(line);
  }

  // The rotation of :rot (binding/cpu/quant/hadamard.h): forward and inverse against the scalar
  // reference, bit for bit, for several periods, blocks and seeds, through the launcher (in two
  // pieces, the second starting inside a row, so the launcher's column offset and tiles that wrap
  // rows are exercised) and through the C ABI. The inverse is given the reference's forward
  // result. Finite inputs only: N(0, 0.02) with outliers, zeros of both signs, subnormals and
  // large values (an Inf or NaN input gives NaN outputs, whose payloads IEEE leaves open). Then
  // the C ABI must refuse the lengths the reference cannot rotate.
  {
    struct Case {
      size_t period, block;
      uint64_t seed;
    };
    static const float specials[] = {0.0f, -0.0f, 1e-40f, -1e-42f, 1.17549435e-38f, -2.5e-39f, 1e30f, -3e29f, 1.0f, -1.0f, 6.5e4f, 1e-3f};
    std::normal_distribution<float> normal(0.0f, 0.02f);
    for (const Case& c : {Case{4096, 4096, 1}, Case{12288, 4096, 2}, Case{4096, 2, 7}, Case{1536, 512, 0}, Case{8960, 256, 3},
                          Case{96, 32, 4294967295ull}, Case{24, 8, 5}, Case{8, 4, 9}, Case{2048, 16, 11}}) {
      const size_t nRows = std::max<size_t>(1, n / c.period), len = nRows * c.period;
      std::vector<float> x(len);
      for (size_t i = 0; i < len; ++i) x[i] = i < sizeof(specials) / 4 ? specials[i] : normal(rng) * (rng() % 100 == 0 ? 8.0f : 1.0f);
      for (size_t i = 0; i < len; i += 4099) x[i] = specials[rng() % (sizeof(specials) / 4)];  // spread over the rows
      const std::vector<float> m = tz::hadamard_multipliers(c.seed, c.period, c.block);
      std::vector<float> wantF(x), wantI;
      for (size_t r = 0; r < nRows; ++r) tz::scalar::hadamard_blocks(wantF.data() + r * c.period, c.period, c.block, m.data(), 0);
      wantI = wantF;
      for (size_t r = 0; r < nRows; ++r) tz::scalar::hadamard_blocks(wantI.data() + r * c.period, c.period, c.block, m.data(), 1);
      float *dX = nullptr, *dM = nullptr;
      CHECK_CUDA(cudaMalloc(&dX, len * 4));
      CHECK_CUDA(cudaMalloc(&dM, c.period * 4));
      CHECK_CUDA(cudaMemcpy(dM, m.data(), c.period * 4, cudaMemcpyHostToDevice));
      // The second piece starts on a block boundary inside a row where there is one.
      size_t cut = len / 2 / c.block * c.block;
      if (cut % c.period == 0 && c.period > c.block) cut += c.block;
      const auto launchPieces = [&](unsigned inverse) {
        CHECK_CUDA(tz::cuda::launch_hadamard(dX, cut, c.period, c.block, dM, 0, inverse, nullptr));
        CHECK_CUDA(tz::cuda::launch_hadamard(dX + cut, len - cut, c.period, c.block, dM, cut % c.period, inverse, nullptr));
      };
      std::vector<float> gotF(len), gotI(len), abiF(x), abiI(wantF);
      CHECK_CUDA(cudaMemcpy(dX, x.data(), len * 4, cudaMemcpyHostToDevice));
      launchPieces(0);
      CHECK_CUDA(cudaMemcpy(gotF.data(), dX, len * 4, cudaMemcpyDeviceToHost));
      CHECK_CUDA(cudaMemcpy(dX, wantF.data(), len * 4, cudaMemcpyHostToDevice));
      launchPieces(1);
      CHECK_CUDA(cudaMemcpy(gotI.data(), dX, len * 4, cudaMemcpyDeviceToHost));
      const int abiRc = tzc_hadamard(device, abiF.data(), len, c.period, c.block, m.data(), 0, nullptr) == TZC_OK &&
                                tzc_hadamard(device, abiI.data(), len, c.period, c.block, m.data(), 1, nullptr) == TZC_OK
                            ? TZC_OK
                            : TZC_ERROR;
      // Timed on the device buffer (an orthogonal map: repeating it keeps the values' scale).
      const double fwdMs = timer.medianMs(10, [&] { CHECK_CUDA(tz::cuda::launch_hadamard(dX, len, c.period, c.block, dM, 0, 0, nullptr)); });
      const double invMs = timer.medianMs(10, [&] { CHECK_CUDA(tz::cuda::launch_hadamard(dX, len, c.period, c.block, dM, 0, 1, nullptr)); });
      cudaFree(dX);
      cudaFree(dM);
      const std::string mode = std::to_string(c.period) + "/" + std::to_string(c.block) + " s" + std::to_string(c.seed);
      for (const auto& [what, ms, got, abi, want] :
           {std::tuple<const char*, double, const std::vector<float>*, const std::vector<float>*, const std::vector<float>*>{"fwd", fwdMs, &gotF, &abiF, &wantF},
            {"inv", invMs, &gotI, &abiI, &wantI}}) {
        Row row{std::string("rot ") + what + " " + mode, len, 0, "", ms, 2.0 * len * 4 / (ms * 1e6), 0};
        row.pctCopy = 100.0 * row.gbps / copyGBps;
        for (size_t i = 0; i < len; ++i) {
          uint32_t a = 0, b = 0, e = 0;
          std::memcpy(&a, &(*got)[i], 4);
          std::memcpy(&b, &(*abi)[i], 4);
          std::memcpy(&e, &(*want)[i], 4);
          if ((a != e || b != e) && row.mismatches++ == 0) {
            char buf[128];
            std::snprintf(buf, sizeof buf, "[%zu] cpu %08x launcher %08x abi %08x", i, e, a, b);
            row.firstMismatch = buf;
          }
        }
        if (abiRc != TZC_OK) {
          row.mismatches = row.mismatches ? row.mismatches : 1;
          row.firstMismatch = std::string("tzc_hadamard: ") + tzc_last_error();
        }
        rows.push_back(row);
      }
    }
    // Lengths the reference cannot rotate: a block that is no power of two from 2 to 4096, a
    // period that is no multiple of the block, n that is no multiple of the period.
    std::vector<float> x(96), m(96, 1.0f);
    Row row{"rot refusals", 4, 0, "", 0, 0, 0};
    for (const auto& [nn, period, block] : {std::tuple<uint64_t, uint64_t, uint64_t>{96, 96, 24}, {8192, 8192, 8192}, {96, 96, 1}, {80, 40, 16}, {96, 64, 16}}) {
      const bool refused = tzc_hadamard(device, x.data(), nn, period, block, m.data(), 0, nullptr) == TZC_ERROR &&
                           std::strstr(tzc_last_error(), "tzc_hadamard: ") != nullptr;
      if (!refused && row.mismatches++ == 0)
        row.firstMismatch = "n " + std::to_string(nn) + " period " + std::to_string(period) + " block " + std::to_string(block) + " not refused";
    }
    rows.push_back(row);
  }

  // rANS (binding/cpu/codec/rans.h): frames the CPU encoder writes, decoded through the launcher
  // and through the C ABI, against the scalar reference (rans_decode_block_of): 8-bit symbols in 1,
  // 2 and 8 contexts, packed 2-, 3-, 4- and 5-bit codes (the last with a partial byte past the piece,
  // in blocks of 1000 symbols: no multiple of 32), a skewed distribution; then every frame in one
  // call (tables of several frames and sizes in one thread block), a corrupted frame whose bad
  // blocks must be flagged as the reference flags them and no other, and the refusals. GB/s:
  // decoded bytes per second.
  {
    const size_t blockSymbols = std::max<size_t>(1024, std::min<size_t>(size_t(1) << 18, n / 8) / 8 * 8);
    struct Spec {
      const char* name;
      unsigned bits, contexts;
      bool skewed;
      size_t blockSymbols;
    };
    std::vector<std::unique_ptr<RansCase>> cases;
    for (const Spec& sp : {Spec{"8b c1", 8, 1, false, blockSymbols}, Spec{"8b c2", 8, 2, false, blockSymbols}, Spec{"8b c8", 8, 8, false, blockSymbols},
                           Spec{"2b c1", 2, 1, false, blockSymbols}, Spec{"3b c4", 3, 4, false, blockSymbols}, Spec{"4b c2", 4, 2, false, blockSymbols},
                           Spec{"5b c2 b1000", 5, 2, false, 1000}, Spec{"8b skewed", 8, 1, true, blockSymbols}}) {
      auto r = std::make_unique<RansCase>();
      r->name = std::string("rans ") + sp.name;
      r->bytes = sp.bits == 8 ? n : n * sp.bits / 8 + 1;
      const std::vector<uint8_t> piece = ransPiece(r->bytes, sp.bits, sp.contexts, sp.skewed, rng);
      r->frame = tz::rans_encode(piece.data(), piece.size(), tz::RansModel{sp.bits, sp.contexts}, sp.blockSymbols);
      Row row{r->name, r->bytes, 0, "", 0, 0, 0};
      if (r->frame.size() < 2 || r->frame[1] != tz::kRansCoded) {
        row.mismatches = 1;
        row.firstMismatch = "the encoder wrote no coded frame";
        rows.push_back(row);
        continue;
      }
      r->f = tz::rans_parse(r->frame.data(), r->frame.size(), r->bytes);
      r->reference();
      if (std::memcmp(r->want.data(), piece.data(), r->bytes) != 0) row.mismatches++, row.firstMismatch = "the reference does not give the piece back";
      RansCall call;
      call.add(r->f);
      double ms = 0;
      const RansOutput launched = ransLaunch(call, timer, 5, ms);
      row.mismatches += ransMismatches({r.get()}, call, launched, row.firstMismatch);
      ransThroughAbi(device, {r.get()}, call, row);
      row.ms = ms;
      row.gbps = r->bytes / (ms * 1e6);
      rows.push_back(row);
      cases.push_back(std::move(r));
    }

    // Every frame in one call, through the C ABI (staged in batches) and the launcher; the
    // throughput of a model-sized call: the frames decoded 4 times over in one launch.
    std::vector<const RansCase*> all;
    RansCall mixed, repeated;
    for (const auto& r : cases) all.push_back(r.get()), mixed.add(r->f);
    std::vector<const RansCase*> four;
    for (int k = 0; k < 4 && !cases.empty(); ++k) four.push_back(cases[0].get()), repeated.add(cases[0]->f);
    if (!all.empty()) {
      Row row{"rans all frames, 1 call", mixed.dstBytes, 0, "", 0, 0, 0};
      double ms = 0;
      row.mismatches = ransMismatches(all, mixed, ransLaunch(mixed, timer, 3, ms), row.firstMismatch);
      RansOutput abi{std::vector<uint8_t>(mixed.dstBytes), std::vector<uint8_t>(mixed.blocks.size())};
      const auto start = std::chrono::steady_clock::now();
      const int rc = tzc_rans_decode(device, mixed.src.data(), mixed.src.size(), mixed.blocks.data(), mixed.blocks.size(), mixed.tables.data(),
                                     mixed.tables.size() / tz::kRansScale, abi.dst.data(), mixed.dstBytes, abi.faults.data(), nullptr);
      const double abiSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::string first;
      if (rc != TZC_OK) {
        if (row.mismatches++ == 0) row.firstMismatch = std::string("tzc_rans_decode: ") + tzc_last_error();
      } else if (ransMismatches(all, mixed, abi, first) && row.mismatches++ == 0) {
        row.firstMismatch = "through the C ABI: " + first;
      }
      row.ms = ms;
      row.gbps = mixed.dstBytes / (ms * 1e6);
      rows.push_back(row);
      Row tput{"rans throughput 8b c1", repeated.dstBytes, 0, "", 0, 0, 0};
      tput.mismatches = ransMismatches(four, repeated, ransLaunch(repeated, timer, 5, ms), tput.firstMismatch);
      tput.ms = ms;
      tput.gbps = repeated.dstBytes / (ms * 1e6);
      rows.push_back(tput);
      char line[400];
      std::snprintf(line, sizeof(line),
                    "rans decode: %zu blocks of %zu 8-bit symbols (1 context) in one launch: %.1f GB/s of decoded bytes; all %zu frames (%zu blocks) "
                    "through tzc_rans_decode from host buffers, transfers included: %.2f GB/s",
                    repeated.blocks.size(), blockSymbols, tput.gbps, all.size(), mixed.blocks.size(), mixed.dstBytes / abiSeconds / 1e9);
      notes.push_back(line);
    }

    // A corrupted frame: a word flipped in block 1, a state byte in the last block, and block 2 a
    // word short (its size in the frame's table cut by 2). The reference's verdicts must be the
    // GPU's, block for block, and the blocks that decode must still decode right.
    if (!cases.empty() && cases[0]->f.blocks.size() >= 4) {
      RansCase bad;
      bad.name = "rans corrupted";
      bad.bytes = cases[0]->bytes;
      bad.frame = cases[0]->frame;
      bad.f = tz::rans_parse(bad.frame.data(), bad.frame.size(), bad.bytes);
      const auto at = [&](size_t b) { return size_t(bad.f.blocks[b].first - bad.frame.data()); };
      bad.frame[at(1) + tz::kRansStateBytes + (bad.f.blocks[1].second - tz::kRansStateBytes) / 2] ^= 0x10;
      bad.frame[at(bad.f.blocks.size() - 1) + 5] ^= 0x01;
      bad.f.blocks[2].second -= 2;
      bad.reference();
      RansCall call;
      call.add(bad.f);
      double ms = 0;
      Row row{"rans corrupted", bad.bytes, 0, "", 0, 0, 0};
      size_t faults = 0;
      for (uint8_t v : bad.verdicts) faults += v;
      if (faults < 3 && row.mismatches++ == 0) row.firstMismatch = "the reference flags " + std::to_string(faults) + " blocks, want 3";
      row.mismatches += ransMismatches({&bad}, call, ransLaunch(call, timer, 1, ms), row.firstMismatch);
      const RansOutput abi = ransThroughAbi(device, {&bad}, call, row);
      if (!abi.faults.empty()) {
        // The blocks that decode must match the reference even in a frame that does not.
        for (size_t j = 0, b = 0; j < bad.verdicts.size(); ++j, ++b) {
          if (bad.verdicts[j]) continue;
          const tzc_rans_block& blk = call.blocks[b];
          const uint64_t len = std::min<uint64_t>(tz::cuda::rans_output_bytes(blk), bad.bytes - (blk.dst - call.out[0]));
          if (std::memcmp(abi.dst.data() + blk.dst, bad.want.data() + (blk.dst - call.out[0]), len) != 0 && row.mismatches++ == 0)
            row.firstMismatch = "block " + std::to_string(j) + " decodes otherwise";
        }
      }
      rows.push_back(row);
    }

    // Blocks the C ABI cannot decode within its buffers: refused before any is decoded.
    {
      std::vector<uint8_t> src(256, 0), dst(64), faults(1);
      std::vector<uint32_t> tables(2 * tz::kRansScale, 0);
      Row row{"rans refusals", 6, 0, "", 0, 0, 0};
      const tzc_rans_block good{0, 130, 0, 64, 0, 1, 8, 0};
      std::vector<tzc_rans_block> badBlocks(6, good);
      badBlocks[0].bits = 9;
      badBlocks[1].contexts = 3;
      badBlocks[2].table = 1, badBlocks[2].contexts = 2;
      badBlocks[3].bytes = 129;
      badBlocks[4].src = 200;
      badBlocks[5].symbols = 65;
      for (size_t k = 0; k < badBlocks.size(); ++k) {
        const bool refused = tzc_rans_decode(device, src.data(), src.size(), &badBlocks[k], 1, tables.data(), 2, dst.data(), dst.size(), faults.data(), nullptr) ==
                                 TZC_ERROR &&
                             std::strstr(tzc_last_error(), "tzc_rans_decode: block 0: ") != nullptr;
        if (!refused && row.mismatches++ == 0) row.firstMismatch = "case " + std::to_string(k) + " not refused";
      }
      rows.push_back(row);
    }
  }

  // rANS encoder: pieces of every code width (1 to 8 bits) in 1, 2, 4 and 8 contexts, planned by
  // rans_plan and staged as the addon stages them, in blocks of a power of two or (2 contexts) of
  // no multiple of 32 symbols (a partial last step), one call per width, through the launcher and the C
  // ABI against the scalar reference's states, word counts and words; each frame finished from the
  // C ABI's output (rans_finish) must be rans_encode's, byte for byte. Then every piece in one call
  // (thread blocks mixing frames' tables), the refusals, and the throughput of a model-sized call.
  // GB/s: symbols coded per second.
  {
    const size_t blockSymbols = std::max<size_t>(1024, std::min<size_t>(size_t(1) << 18, n / 8) / 8 * 8);
    const size_t pieceSymbols = std::max<size_t>(200000, n / 8);
    struct EncCase {
      std::vector<uint8_t> piece;
      tz::RansModel model;
      size_t blockSymbols;
      tz::RansPlan plan;
    };
    std::vector<std::unique_ptr<EncCase>> cases;
    RansEncCall all;
    for (unsigned bits = 1; bits <= 8; ++bits) {
      Row row{"rans enc " + std::to_string(bits) + "b c1/2/4/8", 0, 0, "", 0, 0, 0};
      RansEncCall call;
      std::vector<EncCase*> mine;
      for (const unsigned contexts : {1u, 2u, 4u, 8u}) {
        auto e = std::make_unique<EncCase>();
        const size_t bytes = pieceSymbols * bits / 8 + contexts;
        e->piece = ransPiece(bytes, bits, contexts, bits == 8 && contexts == 2, rng);
        e->model = tz::RansModel{bits, contexts};
        // Narrow codes save too little to pay for the states and tables of small blocks (the
        // first block of a large piece is judged alone).
        const size_t wide = bits < 4 ? 8 * blockSymbols : blockSymbols;
        e->blockSymbols = contexts != 2 ? wide : bits >= 4 ? 1000 : wide + 8;
        e->plan = tz::rans_plan(e->piece.data(), bytes, e->model, e->blockSymbols);
        row.n += tz::rans_symbols(bytes, bits);
        if (!e->plan.coded) {
          if (row.mismatches++ == 0) row.firstMismatch = std::to_string(contexts) + " contexts: the plan codes nothing";
          continue;
        }
        call.add(e->plan);
        all.add(e->plan);
        mine.push_back(e.get());
        cases.push_back(std::move(e));
      }
      const std::vector<RansEncBlock> want = ransEncReference(call);
      double ms = 0;
      row.mismatches += ransEncMismatches("launcher", call, pointers(want), ransEncLaunch(call, timer, 3, ms), row.firstMismatch);
      int rc = TZC_OK;
      const RansEncOutput abi = ransEncAbi(device, call, rc);
      if (rc != TZC_OK) {
        if (row.mismatches++ == 0) row.firstMismatch = std::string("tzc_rans_encode: ") + tzc_last_error();
      } else {
        row.mismatches += ransEncMismatches("C ABI", call, pointers(want), abi, row.firstMismatch);
        for (size_t k = 0; k < mine.size(); ++k) {
          tz::RansPlan plan = mine[k]->plan;
          const std::vector<uint8_t> frame = tz::rans_finish(plan, [&](size_t b, std::vector<uint8_t>& out) {
            const size_t i = call.first[k] + b;
            const tzc_rans_enc_block& r = call.blocks[i];
            tz::rans_append_block(abi.states.data() + tz::kRansLanes * i, abi.words.data() + r.symbols_at + r.symbols - abi.counts[i], abi.counts[i], out);
          });
          if (frame != tz::rans_encode(mine[k]->piece.data(), mine[k]->piece.size(), mine[k]->model, mine[k]->blockSymbols) && row.mismatches++ == 0)
            row.firstMismatch = std::to_string(mine[k]->model.contexts) + " contexts: the frame is not rans_encode's";
        }
      }
      row.ms = ms;
      row.gbps = row.n / (ms * 1e6);
      rows.push_back(row);
    }

    if (!all.blocks.empty()) {
      Row row{"rans enc all, 1 call", all.symbols.size() - 1, 0, "", 0, 0, 0};
      const std::vector<RansEncBlock> want = ransEncReference(all);
      double ms = 0;
      row.mismatches = ransEncMismatches("launcher", all, pointers(want), ransEncLaunch(all, timer, 3, ms), row.firstMismatch);
      int rc = TZC_OK;
      const RansEncOutput abi = ransEncAbi(device, all, rc);
      if (rc != TZC_OK) {
        if (row.mismatches++ == 0) row.firstMismatch = std::string("tzc_rans_encode: ") + tzc_last_error();
      } else {
        row.mismatches += ransEncMismatches("C ABI", all, pointers(want), abi, row.firstMismatch);
      }
      row.ms = ms;
      row.gbps = row.n / (ms * 1e6);
      rows.push_back(row);
    }

    // The throughput of a model-sized call: one piece of n 8-bit symbols, 1 context, staged 4
    // times, in one launch; and through the C ABI from host buffers, transfers included.
    {
      std::vector<uint8_t> piece = ransPiece(n, 8, 1, false, rng);
      const tz::RansPlan plan = tz::rans_plan(piece.data(), n, tz::RansModel{8, 1});
      Row row{"rans enc throughput 8b", 4 * n, 0, "", 0, 0, 0};
      if (!plan.coded) {
        row.mismatches = 1, row.firstMismatch = "the plan codes nothing";
      } else {
        RansEncCall one, four;
        one.add(plan);
        for (int k = 0; k < 4; ++k) four.add(plan);
        const std::vector<RansEncBlock> want = ransEncReference(one);
        std::vector<const RansEncBlock*> wantFour;
        for (int k = 0; k < 4; ++k)
          for (const RansEncBlock& b : want) wantFour.push_back(&b);
        double ms = 0;
        row.mismatches = ransEncMismatches("launcher", four, wantFour, ransEncLaunch(four, timer, 5, ms), row.firstMismatch);
        int rc = TZC_OK;
        const auto start = std::chrono::steady_clock::now();
        const RansEncOutput abi = ransEncAbi(device, four, rc);
        const double abiSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (rc != TZC_OK) {
          if (row.mismatches++ == 0) row.firstMismatch = std::string("tzc_rans_encode: ") + tzc_last_error();
        } else {
          row.mismatches += ransEncMismatches("C ABI", four, wantFour, abi, row.firstMismatch);
        }
        row.ms = ms;
        row.gbps = row.n / (ms * 1e6);
        char line[300];
        std::snprintf(line, sizeof(line),
                      "rans encode: %zu blocks of %zu 8-bit symbols (1 context) in one launch: %.1f GB/s of symbols; through tzc_rans_encode from "
                      "host buffers, transfers included: %.2f GB/s",
                      four.blocks.size(), tz::kRansBlockSymbols, row.gbps, row.n / abiSeconds / 1e9);
        notes.push_back(line);
      }
      rows.push_back(row);
    }

    // Blocks the C ABI cannot encode within its buffers, or whose regions overlap: refused before
    // any is encoded.
    {
      std::vector<uint8_t> symbols(256, 0);
      std::vector<tzc_rans_enc_table> tables(2);
      std::vector<uint32_t> states(64);
      std::vector<uint16_t> words(256);
      std::vector<uint64_t> counts(2);
      const tzc_rans_enc_block good{0, 64, 0, 1};
      struct Bad {
        std::vector<tzc_rans_enc_block> blocks;
        uint64_t symbolBytes;
        const char* says;
      };
      std::vector<Bad> bad(6, Bad{{good}, 256, "tzc_rans_encode: block 0: "});
      bad[0].blocks[0].contexts = 3;
      bad[1].blocks[0].table = 1, bad[1].blocks[0].contexts = 2;
      bad[2].blocks[0].symbols_at = 200;
      bad[3].blocks[0].symbols = uint64_t(1) << 32, bad[3].symbolBytes = uint64_t(1) << 40;  // refused before anything is read
      bad[4].blocks = {good, tzc_rans_enc_block{63, 10, 0, 1}}, bad[4].says = "tzc_rans_encode: blocks 0 and 1 overlap";
      bad[5].blocks = {tzc_rans_enc_block{10, 0, 0, 1}, tzc_rans_enc_block{250, 7, 0, 1}}, bad[5].says = "tzc_rans_encode: block 1: ";
      Row row{"rans enc refusals", bad.size(), 0, "", 0, 0, 0};
      for (size_t k = 0; k < bad.size(); ++k) {
        const bool refused = tzc_rans_encode(device, symbols.data(), bad[k].symbolBytes, bad[k].blocks.data(), bad[k].blocks.size(), tables.data(),
                                             tables.size(), states.data(), words.data(), counts.data(), nullptr) == TZC_ERROR &&
                             std::strstr(tzc_last_error(), bad[k].says) != nullptr;
        if (!refused && row.mismatches++ == 0) row.firstMismatch = "case " + std::to_string(k) + " not refused";
      }
      rows.push_back(row);
    }
  }

  bool ok = true;
  std::printf("%-22s %12s %8s %10s %10s %9s  %s\n", "kernel", "elements", "result", "ms", "GB/s", "% copy", "first mismatch");
  for (const Row& r : rows) {
    ok = ok && r.mismatches == 0;
    std::printf("%-22s %12zu %8s %10.3f %10.1f %8.1f%%  %s\n", r.kernel.c_str(), r.n,
                r.mismatches ? "FAIL" : "pass", r.ms, r.gbps, r.pctCopy, r.firstMismatch.c_str());
  }
  for (const std::string& note : notes) std::printf("%s\n", note.c_str());
  std::printf("\n%s\n", ok ? "all CUDA checks passed" : "CUDA checks FAILED");
  return ok ? 0 : 1;
}
