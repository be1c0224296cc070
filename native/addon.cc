// Module entry: each concern registers its exports from its own directory.
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  guestkit::InitSha256(env, exports);
  guestkit::InitGuestfs(env, exports);
  return exports;
}

NODE_API_MODULE(guestkit, Init)
