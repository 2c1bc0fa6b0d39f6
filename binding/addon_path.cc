#include "addon_path.h"

#include <dlfcn.h>

namespace tz {

std::string AddonPath() {
  Dl_info info;
  if (!dladdr(reinterpret_cast<void*>(&AddonPath), &info) || !info.dli_fname) return "";
  return info.dli_fname;
}

void PinAddon() {
  static const bool pinned = [] {
    const std::string path = AddonPath();
    // RTLD_NOLOAD: only take another reference to the loaded object; RTLD_NODELETE: keep it.
    return !path.empty() && dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != nullptr;
  }();
  (void)pinned;
}

}  // namespace tz
