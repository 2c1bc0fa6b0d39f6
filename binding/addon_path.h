// Where this addon lives, and keeping it loaded.
#pragma once
#include <string>

namespace tz {

// Path of tensorzip.node, found from one of its own symbols ("" if unknown).
std::string AddonPath();

// Marks the addon never to be unloaded. Node unloads an addon when the last environment that
// loaded it (e.g. a terminated Worker) is gone, but job threads may still be returning through
// its code and the process-wide state (kernel table, CUDA library handle) must stay valid.
void PinAddon();

}  // namespace tz
