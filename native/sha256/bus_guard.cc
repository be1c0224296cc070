#include "sha256/bus_guard.h"

#include <setjmp.h>
#include <signal.h>

#include <mutex>

namespace guestkit::sha256 {
namespace {

// initial-exec: a plain %fs-relative load, safe inside a signal handler even on threads that never
// touched it (the default dynamic model may call into the allocator there).
__attribute__((tls_model("initial-exec"))) thread_local sigjmp_buf* t_jump = nullptr;
struct sigaction g_previous;
bool g_installed = false;

void OnSigbus(int, siginfo_t*, void*) {
  if (t_jump != nullptr) siglongjmp(*t_jump, 1);
  // Not a guarded access: put the previous disposition back and return, so the faulting
  // instruction runs again and the fault is handled as if we had never been here.
  sigaction(SIGBUS, &g_previous, nullptr);
}

}  // namespace

bool InstallBusGuard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action = {};
    action.sa_sigaction = OnSigbus;
    action.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    g_installed = sigaction(SIGBUS, &action, &g_previous) == 0;
  });
  return g_installed;
}

bool GuardedUpdate(Digest& digest, const uint8_t* data, size_t len) {
  sigjmp_buf jump;
  if (sigsetjmp(jump, 1) != 0) {
    t_jump = nullptr;
    return false;
  }
  t_jump = &jump;
  bool ok = digest.Update(data, len);
  t_jump = nullptr;
  return ok;
}

}  // namespace guestkit::sha256
