// The JS-visible handle object: owns a Core (thread + queue); actions are added to its prototype.
#pragma once

#include <memory>

#include "guestfs/core.h"

namespace guestkit::gfs {

class Handle : public Napi::ObjectWrap<Handle> {
 public:
  // Checked on every method call before `this` is unwrapped (common.h).
  static constexpr napi_type_tag kTypeTag = {0x6775657374666873ULL, 0x2d68616e646c6531ULL};
  static constexpr const char* kClassName = "GuestfsHandle";

  static Napi::Function Define(Napi::Env env);
  explicit Handle(const Napi::CallbackInfo& info);
  ~Handle() override;
  Core& core() { return *core_; }

  Napi::Value Ready(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Kill(const Napi::CallbackInfo& info);
  Napi::Value GetPending(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

 private:
  std::shared_ptr<Core> core_;
};

// Every generated action, in generation order (generated/registry.cc).
void RegisterAllActions(std::vector<Action>& out);

}  // namespace guestkit::gfs
