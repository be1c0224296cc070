// Shared helpers for every native concern of the addon (sha256, guestfs).
#pragma once

#include <napi.h>

namespace guestkit {

// Each concern exports its functions/classes onto the module object.
void InitSha256(Napi::Env env, Napi::Object exports);
void InitGuestfs(Napi::Env env, Napi::Object exports);

}  // namespace guestkit
