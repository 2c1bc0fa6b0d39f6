#include "cuda_loader.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <cstring>

#include "addon_path.h"

namespace tz {

namespace {

std::string DlError() {
  const char* e = dlerror();
  return e ? e : "unknown error";
}

// Directory holding this addon (tensorzip.node).
std::string AddonDirectory() {
  const std::string path = AddonPath();
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

bool IsOff(const char* v) {
  return v && (!std::strcmp(v, "off") || !std::strcmp(v, "OFF") || !std::strcmp(v, "0") || !std::strcmp(v, "false"));
}

// Returns an empty string when a driver with at least one device is present, else the reason.
std::string ProbeDriver() {
  const char* env = std::getenv("TENSORZIP_LIBCUDA");
  const std::string name = env && *env ? env : "libcuda.so.1";
  void* driver = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!driver) return "no NVIDIA driver: " + name + " could not be loaded (" + DlError() + ")";
  // The driver handle stays open for the life of the process; the CUDA runtime uses it too.
  using InitFn = int (*)(unsigned);
  using CountFn = int (*)(int*);
  auto cuInit = reinterpret_cast<InitFn>(dlsym(driver, "cuInit"));
  auto cuDeviceGetCount = reinterpret_cast<CountFn>(dlsym(driver, "cuDeviceGetCount"));
  if (!cuInit || !cuDeviceGetCount) return name + " is not a usable NVIDIA driver library (cuInit/cuDeviceGetCount missing)";
  if (const int e = cuInit(0)) return "NVIDIA driver present but cuInit failed (CUresult " + std::to_string(e) + ")";
  int count = 0;
  if (const int e = cuDeviceGetCount(&count)) return "NVIDIA driver present but cuDeviceGetCount failed (CUresult " + std::to_string(e) + ")";
  if (count <= 0) return "NVIDIA driver present but it reports no CUDA device";
  return "";
}

template <class F>
bool Bind(void* lib, const char* name, F& fn, std::string& reason, const std::string& path) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn) reason = path + " is not a tensorzip CUDA library (missing symbol " + name + ")";
  return fn != nullptr;
}

CudaBackend Load() {
  CudaBackend b;
  if (IsOff(std::getenv("TENSORZIP_CUDA"))) {
    b.reason = "disabled by TENSORZIP_CUDA=off";
    return b;
  }
  b.reason = ProbeDriver();
  if (!b.reason.empty()) return b;

  const char* env = std::getenv("TENSORZIP_CUDA_LIBRARY");
  const std::string path = env && *env ? env : AddonDirectory() + "/libtensorzip_cuda.so";
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    b.reason = "CUDA library " + path + " not found (this build of tensorzip has no CUDA support)";
    return b;
  }
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    b.reason = "could not load CUDA library " + path + ": " + DlError();
    return b;
  }
  int (*abiVersion)() = nullptr;
  int (*init)(int*) = nullptr;
  int (*deviceInfo)(int, tzc_device_props*) = nullptr;
  // The version first: a library of another ABI may lack this one's symbols, and saying so is clearer.
  if (!Bind(lib, "tzc_abi_version", abiVersion, b.reason, path)) return b;
  if (abiVersion() != TZC_ABI_VERSION) {
    b.reason = "CUDA library " + path + " has ABI version " + std::to_string(abiVersion()) + ", this addon needs " +
               std::to_string(TZC_ABI_VERSION) + " (mismatched build)";
    return b;
  }
  if (!Bind(lib, "tzc_last_error", b.lastError, b.reason, path) || !Bind(lib, "tzc_init", init, b.reason, path) ||
      !Bind(lib, "tzc_device_info", deviceInfo, b.reason, path) || !Bind(lib, "tzc_convert", b.convert, b.reason, path) ||
      !Bind(lib, "tzc_copy_bandwidth", b.copyBandwidth, b.reason, path) || !Bind(lib, "tzc_seedlm_search", b.seedlmSearch, b.reason, path) ||
      !Bind(lib, "tzc_rtn_encode", b.rtnEncode, b.reason, path) || !Bind(lib, "tzc_rtn_decode", b.rtnDecode, b.reason, path) ||
      !Bind(lib, "tzc_ternary_encode", b.ternaryEncode, b.reason, path) || !Bind(lib, "tzc_ternary_decode", b.ternaryDecode, b.reason, path) ||
      !Bind(lib, "tzc_kmeans_assign", b.kmeansAssign, b.reason, path) || !Bind(lib, "tzc_kmeans_lloyd", b.kmeansLloyd, b.reason, path) ||
      !Bind(lib, "tzc_hadamard", b.hadamard, b.reason, path) || !Bind(lib, "tzc_rans_decode", b.ransDecode, b.reason, path) ||
      !Bind(lib, "tzc_rans_encode", b.ransEncode, b.reason, path))
    return b;
  int count = 0;
  if (init(&count) != TZC_OK) {
    b.reason = std::string("CUDA runtime could not start: ") + b.lastError();
    return b;
  }
  if (count <= 0) {
    b.reason = "CUDA runtime reports no device";
    return b;
  }
  for (int i = 0; i < count; ++i) {
    tzc_device_props d;
    if (deviceInfo(i, &d) != TZC_OK) {
      b.reason = std::string("could not query CUDA device ") + std::to_string(i) + ": " + b.lastError();
      b.gpus.clear();
      return b;
    }
    b.gpus.push_back({d.name, d.major, d.minor, d.memory_bytes, d.multiprocessors});
  }
  b.library = path;
  b.available = true;
  b.reason.clear();
  return b;
}

}  // namespace

const CudaBackend& Cuda() {
  static const CudaBackend backend = Load();  // thread-safe one-time probe
  return backend;
}

}  // namespace tz
