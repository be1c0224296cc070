// Placeholder until the hasher lands (foundation issue).
#include "common.h"
namespace guestkit {
void InitSha256(Napi::Env env, Napi::Object exports) {}
}  // namespace guestkit
