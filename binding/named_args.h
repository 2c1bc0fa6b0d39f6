// The arguments of a native entry point taken by name from one object, checked as args.h checks
// positional ones (messages name the key). Every typed array read is kept for the job (keep()),
// which reads or writes it on another thread.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tz {

class NamedArgs {
 public:
  // info[i] must be an object.
  NamedArgs(const Napi::CallbackInfo& info, size_t i);

  Napi::Env Env() const { return object_.Env(); }
  const Napi::Object& object() const { return object_; }
  // obj[key] is neither undefined nor null.
  bool has(const char* key) const;
  Napi::Value get(const char* key) const { return object_.Get(key); }

  // A typed array of exactly `type`.
  Napi::TypedArray array(const char* key, napi_typedarray_type type);
  // The same, or an empty handle (IsEmpty()) when absent.
  Napi::TypedArray optionalArray(const char* key, napi_typedarray_type type);
  // An integer in [min, max]; optionalInteger: `fallback` when absent.
  int64_t integer(const char* key, int64_t min, int64_t max) const;
  int64_t optionalInteger(const char* key, int64_t fallback, int64_t min, int64_t max) const;
  double number(const char* key) const;
  std::string string(const char* key) const;
  // `threads` (0: all cores).
  unsigned threads() const { return unsigned(optionalInteger("threads", 0, 0, 1024)); }
  // A Float32Array of one finite value >= 0 per `item` (n of them), or nullptr when absent:
  // the weighted encoders' importance, k-means point weights.
  const float* nonNegative(const char* key, size_t n, const char* item);

  std::vector<Napi::Object>& keep() { return keep_; }

 private:
  Napi::Object object_;
  std::vector<Napi::Object> keep_;
};

}  // namespace tz
