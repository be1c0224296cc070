// Hashing straight from a file mapping saves the copy that read(2) makes (~12% of the time at
// page-cache speed), but a mapping turns "the file shrank" or "the disk failed" into SIGBUS, which
// would kill the whole worker. The guard turns SIGBUS inside a guarded call into a return value.
#pragma once

#include <cstddef>
#include <cstdint>

#include "sha256/evp.h"

namespace guestkit::sha256 {

// Installs the process-wide SIGBUS handler once. False if that failed (then do not map files).
bool InstallBusGuard();

// digest.Update(data, len), returning false instead of crashing if the pages behind `data` vanish.
// After false the digest is unusable. Call from one thread at a time per digest.
bool GuardedUpdate(Digest& digest, const uint8_t* data, size_t len);

}  // namespace guestkit::sha256
