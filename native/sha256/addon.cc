// guestkit_hash.node: the hashing addon. It links nothing but the C/C++ runtime (OpenSSL comes
// from the Node binary), so hashing works on machines without libguestfs.
#include "common.h"

namespace {
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  guestkit::InitSha256(env, exports);
  return exports;
}
}  // namespace

NODE_API_MODULE(guestkit_hash, Init)
