// The sha256 concern of the addon: incremental hashing and threaded whole-file hashing, both on
// Node's bundled OpenSSL EVP.
#include "sha256/sha256.h"

#include "common.h"

namespace guestkit {

void InitSha256(Napi::Env env, Napi::Object exports) {
  sha256::InitIncremental(env, exports);
  sha256::InitFileHash(env, exports);
}

}  // namespace guestkit
