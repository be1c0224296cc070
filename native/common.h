// Shared helpers for both addons: guestkit_hash (native/sha256) and guestkit_guestfs
// (native/guestfs). Each concern builds into its own .node so hashing never links libguestfs.
#pragma once

#include <napi.h>

#include <string>

namespace guestkit {

// Each addon's module init registers its concern's exports.
void InitSha256(Napi::Env env, Napi::Object exports);
void InitGuestfs(Napi::Env env, Napi::Object exports);

// napi_unwrap hands back the native pointer of *any* wrapped object, so a method called with a
// foreign `this` (GuestfsHandle.prototype.cat.call(new Sha256())) would read one class as
// another. Every object a native class creates is tagged in its constructor, and every method
// checks the tag of `this` before unwrapping it.
inline bool HasTag(Napi::Value v, const napi_type_tag& tag) {
  if (!v.IsObject() && !v.IsExternal()) return false;
  bool tagged = false;
  return napi_check_object_type_tag(v.Env(), v, &tag, &tagged) == napi_ok && tagged;
}

// The C++ object behind `this`, or a TypeError when `this` is not one of T's objects.
template <typename T>
T* UnwrapThis(const Napi::CallbackInfo& info, const char* method) {
  Napi::Value self = info.This();
  if (!HasTag(self, T::kTypeTag)) {
    throw Napi::TypeError::New(info.Env(), std::string(T::kClassName) + ".prototype." + method +
                                               " called on an object that is not a " + T::kClassName);
  }
  return Napi::ObjectWrap<T>::Unwrap(self.As<Napi::Object>());
}

// A prototype method (or getter) that checks `this` before calling T::*M. Napi::ObjectWrap's own
// InstanceMethod unwraps without any check, so native classes register their methods through
// these instead (CheckedMethod, CheckedGetter).
template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo&)>
Napi::Value CheckedCall(const Napi::CallbackInfo& info) {
  const char* name = static_cast<const char*>(info.Data());
  return (UnwrapThis<T>(info, name)->*M)(info);
}

// Install on the class's prototype after DefineClass (which then gets no instance members).
template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo&)>
Napi::PropertyDescriptor CheckedMethod(Napi::Env env, const char* name) {
  return Napi::PropertyDescriptor::Value(
      name, Napi::Function::New(env, CheckedCall<T, M>, name, const_cast<char*>(name)), napi_default_method);
}

template <typename T, Napi::Value (T::*M)(const Napi::CallbackInfo&)>
Napi::PropertyDescriptor CheckedGetter(const char* name) {
  return Napi::PropertyDescriptor::Accessor<CheckedCall<T, M>>(name, napi_configurable, const_cast<char*>(name));
}

}  // namespace guestkit
