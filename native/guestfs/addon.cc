// guestkit_guestfs.node: the libguestfs binding. It links libguestfs.so.0, so lib/native.ts
// loads it only on first use of a Guestfs handle, and reports a missing libguestfs clearly.
#include "common.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  guestkit::InitGuestfs(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(guestkit_guestfs, Init)
