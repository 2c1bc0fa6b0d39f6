#include "named_args.h"

#include <cmath>

#include "args.h"

namespace tz {

NamedArgs::NamedArgs(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsObject() || info[i].IsArray() || info[i].IsTypedArray())
    throw Napi::TypeError::New(info.Env(), "the arguments must be an object of named values");
  object_ = info[i].As<Napi::Object>();
}

bool NamedArgs::has(const char* key) const {
  const Napi::Value v = object_.Get(key);
  return !v.IsUndefined() && !v.IsNull();
}

Napi::TypedArray NamedArgs::array(const char* key, napi_typedarray_type type) {
  const Napi::Value v = object_.Get(key);
  if (!v.IsTypedArray()) throw Napi::TypeError::New(Env(), std::string(key) + " must be a " + TypedArrayTypeName(type));
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  if (a.TypedArrayType() != type)
    throw Napi::TypeError::New(Env(), std::string(key) + " must be a " + TypedArrayTypeName(type) + ", got " + TypedArrayTypeName(a.TypedArrayType()));
  // A detached buffer reports length 0 while the view object survives.
  if (a.ByteOffset() + a.ByteLength() > a.ArrayBuffer().ByteLength()) throw Napi::RangeError::New(Env(), std::string(key) + " lies outside its ArrayBuffer");
  keep_.push_back(a);
  return a;
}

Napi::TypedArray NamedArgs::optionalArray(const char* key, napi_typedarray_type type) {
  return has(key) ? array(key, type) : Napi::TypedArray();
}

int64_t NamedArgs::integer(const char* key, int64_t min, int64_t max) const {
  const Napi::Value v = object_.Get(key);
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!std::isfinite(d) || d != std::floor(d) || d < double(min) || d > double(max))
    throw Napi::RangeError::New(Env(), std::string(key) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return int64_t(d);
}

int64_t NamedArgs::optionalInteger(const char* key, int64_t fallback, int64_t min, int64_t max) const {
  return object_.Get(key).IsUndefined() ? fallback : integer(key, min, max);
}

double NamedArgs::number(const char* key) const {
  const Napi::Value v = object_.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::string NamedArgs::string(const char* key) const {
  const Napi::Value v = object_.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

const float* NamedArgs::nonNegative(const char* key, size_t n, const char* item) {
  if (!has(key)) return nullptr;
  Napi::TypedArray a = array(key, napi_float32_array);
  if (a.ElementLength() != n)
    throw Napi::RangeError::New(Env(), std::string(key) + " must hold one value per " + item + " (" + std::to_string(n) + ")");
  const float* v = reinterpret_cast<const float*>(TypedArrayBytes(a));
  for (size_t j = 0; j < n; ++j)
    if (!(v[j] >= 0) || !std::isfinite(v[j])) throw Napi::RangeError::New(Env(), std::string(key) + " must be finite and >= 0");
  return v;
}

}  // namespace tz
