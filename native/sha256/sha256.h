// Internal registration points of the sha256 concern (see sha256.cc).
#pragma once

#include <napi.h>

namespace guestkit::sha256 {

// `Sha256` class: incremental hashing on the calling (JS) thread.
void InitIncremental(Napi::Env env, Napi::Object exports);
// `hashFile(path, chunkSize, callback)` / `abortHashFile(job)`: whole-file hashing on native threads.
void InitFileHash(Napi::Env env, Napi::Object exports);

}  // namespace guestkit::sha256
