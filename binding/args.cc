#include "args.h"

#include <algorithm>
#include <cmath>

namespace tz {

const char* TypedArrayTypeName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "typed array";
  }
}

Napi::TypedArray RequireTypedArray(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type,
                                   const char* what) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsTypedArray())
    throw Napi::TypeError::New(env, std::string(what) + " must be a " + TypedArrayTypeName(type));
  Napi::TypedArray a = info[i].As<Napi::TypedArray>();
  if (a.TypedArrayType() != type)
    throw Napi::TypeError::New(env, std::string(what) + " must be a " + TypedArrayTypeName(type) + ", got " +
                                        TypedArrayTypeName(a.TypedArrayType()));
  // Guard against views that do not fit their buffer (cannot happen for live arrays, but a
  // detached buffer reports length 0 while the view object survives).
  const size_t bytes = a.ByteLength();
  if (a.ByteOffset() + bytes > a.ArrayBuffer().ByteLength())
    throw Napi::RangeError::New(env, std::string(what) + " lies outside its ArrayBuffer");
  return a;
}

std::string RequireString(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || !info[i].IsString())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::vector<Napi::TypedArray> RequireTypedArrayList(const Napi::CallbackInfo& info, size_t i, napi_typedarray_type type,
                                                    const char* what) {
  return RequireTypedArrayList(info.Env(), i < info.Length() ? info[i] : info.Env().Undefined(), type, what);
}

std::vector<Napi::TypedArray> RequireTypedArrayList(Napi::Env env, const Napi::Value& value, napi_typedarray_type type, const char* what) {
  if (!value.IsArray()) throw Napi::TypeError::New(env, std::string(what) + " must be an array of " + TypedArrayTypeName(type));
  Napi::Array list = value.As<Napi::Array>();
  std::vector<Napi::TypedArray> out;
  for (uint32_t k = 0; k < list.Length(); ++k) {
    Napi::Value v = list.Get(k);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
      throw Napi::TypeError::New(env, std::string(what) + "[" + std::to_string(k) + "] must be a " + TypedArrayTypeName(type));
    out.push_back(v.As<Napi::TypedArray>());
  }
  return out;
}

int64_t RequireInt(const Napi::CallbackInfo& info, size_t i, const char* what, int64_t min, int64_t max) {
  const double d = i < info.Length() && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d != std::floor(d) || d < double(min) || d > double(max))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be an integer in [" + std::to_string(min) + ", " +
                                                std::to_string(max) + "]");
  return int64_t(d);
}

const KernelTable& RequireKernelPath(const Napi::CallbackInfo& info, size_t i) {
  const std::string path = i < info.Length() && !info[i].IsUndefined() ? RequireString(info, i, "path") : "auto";
  if (path == "auto") return kernels();
  if (path == "scalar") return scalar_kernels();
  if (path == "avx2") {
    if (const KernelTable* t = avx2_kernels()) return *t;
    throw Napi::Error::New(info.Env(), "the AVX2 kernel path is not available on this CPU");
  }
  throw Napi::TypeError::New(info.Env(), "path must be 'auto', 'scalar' or 'avx2'");
}

Napi::Object OptionalObject(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (i >= info.Length() || info[i].IsUndefined() || info[i].IsNull()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject()) throw Napi::TypeError::New(info.Env(), std::string(what) + " must be an object");
  return info[i].As<Napi::Object>();
}

int64_t OptionalInt(const Napi::Object& options, const char* key, int64_t fallback, int64_t min, int64_t max) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d != std::floor(d) || d < double(min) || d > double(max))
    throw Napi::RangeError::New(options.Env(), std::string("option ") + key + " must be an integer in [" +
                                                   std::to_string(min) + ", " + std::to_string(max) + "]");
  return int64_t(d);
}

std::string OptionalString(const Napi::Object& options, const char* key, const std::string& fallback) {
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(options.Env(), std::string("option ") + key + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

uint8_t* TypedArrayBytes(const Napi::TypedArray& a) {
  return static_cast<uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset();
}

void RequireDisjoint(const Napi::TypedArray& a, const Napi::TypedArray& b, const char* what) {
  const uint8_t *pa = TypedArrayBytes(a), *pb = TypedArrayBytes(b);
  if (pa < pb + b.ByteLength() && pb < pa + a.ByteLength() && a.ByteLength() && b.ByteLength())
    throw Napi::RangeError::New(a.Env(), std::string(what) + " must not overlap");
}

size_t JobMemory::group(std::string name) {
  groups_.push_back(std::move(name));
  return groups_.size() - 1;
}

void JobMemory::add(const Napi::TypedArray& a, size_t group, bool written) {
  if (a.ByteLength()) ranges_.push_back({TypedArrayBytes(a), TypedArrayBytes(a) + a.ByteLength(), group, written});
}

// In order of start, a range overlaps an earlier one exactly when it starts before the furthest
// end so far: any earlier range for a range written, an earlier written one for a range read.
void JobMemory::check(Napi::Env env) const {
  std::vector<const Range*> order;
  for (const Range& r : ranges_) order.push_back(&r);
  std::sort(order.begin(), order.end(), [](const Range* a, const Range* b) { return a->begin < b->begin; });
  const Range *furthest = nullptr, *furthestWritten = nullptr;
  for (const Range* r : order) {
    const Range* earlier = r->written ? furthest : furthestWritten;
    if (earlier && earlier->end > r->begin) {
      const size_t a = std::min(earlier->group, r->group), b = std::max(earlier->group, r->group);
      throw Napi::RangeError::New(env, groups_[a] + (a == b ? "" : " and " + groups_[b]) + " must not overlap");
    }
    if (!furthest || r->end > furthest->end) furthest = r;
    if (r->written && (!furthestWritten || r->end > furthestWritten->end)) furthestWritten = r;
  }
}

}  // namespace tz
