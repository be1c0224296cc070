// The JS-visible handle object: owns a Core (thread + queue); actions are added to its prototype.
#pragma once

#include <memory>

#include "guestfs/core.h"

namespace guestkit::gfs {

class Handle : public Napi::ObjectWrap<Handle> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit Handle(const Napi::CallbackInfo& info);
  ~Handle() override;
  Core& core() { return *core_; }

 private:
  Napi::Value Ready(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Kill(const Napi::CallbackInfo& info);
  Napi::Value GetPending(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);
  std::shared_ptr<Core> core_;
};

// Every generated action, in generation order (generated/registry.cc).
void RegisterAllActions(std::vector<Action>& out);

}  // namespace guestkit::gfs
