// Registration of the libguestfs binding: the GuestfsHandle class and its action methods.
#include "guestfs/handle.h"

#include <cerrno>

#include "common.h"

namespace guestkit::gfs {

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info);  // runtime.cc

namespace {
Config ParseConfig(Napi::Env env, Napi::Value v) {
  Config c;
  if (v.IsUndefined()) return c;
  if (!v.IsObject()) throw Napi::TypeError::New(env, "GuestfsHandle options must be an object");
  Napi::Object o = v.As<Napi::Object>();
  auto str = [&](const char* k, std::string& dst) {
    Napi::Value x = o.Get(k);
    if (x.IsUndefined()) return;
    if (!x.IsString()) throw Napi::TypeError::New(env, std::string("option '") + k + "' must be a string");
    dst = x.As<Napi::String>().Utf8Value();
  };
  auto num = [&](const char* k, int& dst) {
    Napi::Value x = o.Get(k);
    if (x.IsUndefined()) return;
    if (!x.IsNumber()) throw Napi::TypeError::New(env, std::string("option '") + k + "' must be a number");
    dst = static_cast<int>(CheckedInteger(env, "create", std::string("option '") + k + "'", x, false));
  };
  auto flag = [&](const char* k, bool& dst) {
    Napi::Value x = o.Get(k);
    if (x.IsUndefined()) return;
    if (!x.IsBoolean()) throw Napi::TypeError::New(env, std::string("option '") + k + "' must be a boolean");
    dst = x.As<Napi::Boolean>().Value();
  };
  str("backend", c.backend);
  Napi::Value bs = o.Get("backendSettings");
  if (!bs.IsUndefined()) {
    if (!bs.IsArray()) throw Napi::TypeError::New(env, "option 'backendSettings' must be an array of strings");
    auto a = bs.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) c.backend_settings.push_back(a.Get(i).ToString().Utf8Value());
  }
  num("memsize", c.memsize);
  num("smp", c.smp);
  str("tmpdir", c.tmpdir);
  str("cachedir", c.cachedir);
  str("hv", c.hv);
  str("append", c.append);
  flag("verbose", c.verbose);
  flag("trace", c.trace);
  flag("network", c.network);
  return c;
}
}  // namespace

Napi::Function Handle::Define(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, kClassName, {});
  ctor.Get("prototype").As<Napi::Object>().DefineProperties({
      CheckedMethod<Handle, &Handle::Ready>(env, "ready"),
      CheckedMethod<Handle, &Handle::Close>(env, "close"),
      CheckedMethod<Handle, &Handle::Kill>(env, "kill"),
      CheckedGetter<Handle, &Handle::GetPending>("pending"),
      CheckedGetter<Handle, &Handle::GetClosed>("closed"),
  });
  return ctor;
}

Handle::Handle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Handle>(info) {
  info.This().As<Napi::Object>().TypeTag(&kTypeTag);
  core_ = std::make_shared<Core>(ParseConfig(info.Env(), info[0]));
  core_->wrapper = this;
  core_->Start(info.Env());
}

Handle::~Handle() {
  // Collected without close(): close on the handle thread, behind any running call. Never a
  // blocking close here on the JS thread.
  core_->wrapper = nullptr;
  core_->CloseDetached();
}

Napi::Value Handle::Ready(const Napi::CallbackInfo& info) {
  return core_->Enqueue(info.Env(), "ready", [](guestfs_h*) { return RetErr(nullptr, 0); });
}
Napi::Value Handle::Close(const Napi::CallbackInfo& info) { return core_->Close(info.Env()); }
Napi::Value Handle::Kill(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), core_->Kill()); }
Napi::Value Handle::GetPending(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), core_->Pending());
}
Napi::Value Handle::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), core_->Closed());
}

Napi::Value Submit(const Napi::CallbackInfo& info, const char* action, Call fn) {
  return UnwrapThis<Handle>(info, action)->core().Enqueue(info.Env(), action, std::move(fn));
}

}  // namespace guestkit::gfs

namespace guestkit {

void InitGuestfs(Napi::Env env, Napi::Object exports) {
  using namespace gfs;
  Napi::Function ctor = Handle::Define(env);
  Napi::Object proto = ctor.Get("prototype").As<Napi::Object>();
  std::vector<Action> actions;
  RegisterAllActions(actions);
  Napi::Array names = Napi::Array::New(env, actions.size());
  for (size_t i = 0; i < actions.size(); i++) {
    auto fn = actions[i].fn;
    const char* name = actions[i].name;
    // A foreign `this` throws a TypeError at once (a programming error, like calling a built-in
    // method on the wrong object); argument errors reject the returned promise instead: every
    // action is async.
    auto method = [fn, name](const Napi::CallbackInfo& info) -> Napi::Value {
      UnwrapThis<Handle>(info, name);
      try {
        return fn(info);
      } catch (const Napi::Error& e) {
        auto d = Napi::Promise::Deferred::New(info.Env());
        d.Reject(e.Value());
        return d.Promise();
      }
    };
    proto.Set(actions[i].name, Napi::Function::New(env, method, actions[i].name));
    names.Set(i, actions[i].name);
  }
  exports.Set("GuestfsHandle", ctor);
  exports.Set("guestfsActions", names);
  exports.Set("setGuestfsErrorFactory", Napi::Function::New(env, SetErrorFactory, "setGuestfsErrorFactory"));
}

}  // namespace guestkit
