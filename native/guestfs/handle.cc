// Placeholder until the libguestfs binding lands (binding issue).
#include "common.h"
namespace guestkit {
void InitGuestfs(Napi::Env env, Napi::Object exports) {}
}  // namespace guestkit
