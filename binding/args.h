// Argument checks for the Node-API entry points. Native code never trusts a type, length or
// offset from JS: everything is validated here and a TypeError/RangeError is thrown otherwise.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "cpu/runtime/kernels.h"

namespace tz {

const char* TypedArrayTypeName(napi_typedarray_type t);

// info[i] must be a TypedArray of exactly `type`; `what` names it in the error.
Napi::TypedArray RequireTypedArray(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type,
                                   const char* what);
std::string RequireString(const Napi::CallbackInfo& info, size_t i, const char* what);
// info[i] must be an Array whose every element is a TypedArray of exactly `type`.
std::vector<Napi::TypedArray> RequireTypedArrayList(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type,
                                                    const char* what);
std::vector<Napi::TypedArray> RequireTypedArrayList(Napi::Env env, const Napi::Value& value, napi_typedarray_type type, const char* what);
// info[i]: an integer in [min, max].
int64_t RequireInt(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t min, int64_t max);
// info[i]: undefined/'auto' (the table chosen at load), 'scalar' or 'avx2' (testing).
const KernelTable& RequireKernelPath(const Napi::CallbackInfo& info, size_t i);
// info[i] may be undefined/null (returns an empty object) or must be an object.
Napi::Object OptionalObject(const Napi::CallbackInfo& info, size_t i, const char* what);
// options[key]: undefined -> fallback; otherwise an integer in [min, max].
int64_t OptionalInt(const Napi::Object& options, const char* key, int64_t fallback, int64_t min, int64_t max);
std::string OptionalString(const Napi::Object& options, const char* key, const std::string& fallback);

// Start of a typed array's bytes (its buffer's data + byteOffset).
uint8_t* TypedArrayBytes(const Napi::TypedArray& a);
// Throws a RangeError when the byte ranges of two typed arrays overlap.
void RequireDisjoint(const Napi::TypedArray& a, const Napi::TypedArray& b, const char* what);

// The memory one job reads and writes, checked at once: a range written may overlap no other
// range, read or written; ranges only read may overlap each other. Ranges belong to named groups,
// and the error names the two groups ("<a> and <b> must not overlap", or "<a> must not overlap").
// One sort and one sweep: a batch of thousands of pieces costs O(n log n), not every pair.
class JobMemory {
 public:
  size_t group(std::string name);  // a new group, its name as errors give it
  void read(const Napi::TypedArray& a, size_t group) { add(a, group, false); }
  void write(const Napi::TypedArray& a, size_t group) { add(a, group, true); }
  void check(Napi::Env env) const;

 private:
  struct Range {
    const uint8_t* begin;
    const uint8_t* end;
    size_t group;
    bool written;
  };
  void add(const Napi::TypedArray& a, size_t group, bool written);
  std::vector<std::string> groups_;
  std::vector<Range> ranges_;
};

}  // namespace tz
