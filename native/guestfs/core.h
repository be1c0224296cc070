// One libguestfs handle driven by one dedicated thread. libguestfs holds a per-handle lock for
// the whole length of a call (a launch takes seconds), so nothing touches the guestfs_h outside
// that thread; results and events reach JS through one ThreadSafeFunction, in order.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "guestfs/runtime.h"

namespace guestkit::gfs {

class Handle;

// Explicit configuration (the JS facade reads the environment once; threads never do).
struct Config {
  std::string backend = "direct";
  std::vector<std::string> backend_settings;
  int memsize = 0;  // 0: libguestfs default
  int smp = 0;
  std::string tmpdir;
  std::string cachedir;  // empty: libguestfs default (/var/tmp), where the appliance is cached
  std::string hv;
  std::string append;
  bool verbose = false;
  bool trace = false;
  bool network = false;
};

// Anything the handle thread hands to the JS thread.
struct Message {
  virtual ~Message() = default;
  virtual void Deliver(Napi::Env env, class Core* core) = 0;  // env is null at teardown
};

void DeliverMessage(Napi::Env env, Napi::Function, Core* core, Message* m);
using Tsfn = Napi::TypedThreadSafeFunction<Core, Message, DeliverMessage>;

struct Job {
  const char* action = "";
  Call fn;
  bool close = false;
  bool detached = false;  // close from the finalizer: nobody awaits it
  std::optional<Napi::Promise::Deferred> deferred;
  OutcomePtr out;
};

class Core : public std::enable_shared_from_this<Core> {
 public:
  explicit Core(Config c) : config_(std::move(c)) {}
  void Start(Napi::Env env);

  // JS thread only.
  Napi::Value Enqueue(Napi::Env env, const char* action, Call fn);
  Napi::Value Close(Napi::Env env);  // idempotent: every call returns a promise of the same close
  void CloseDetached();              // from the finalizer: no promise, nobody waits
  int Kill();
  int Pending() const { return pending_; }
  bool Closed() const { return closed_; }
  void Settled(Napi::Env env);  // one queued job delivered its result
  Handle* wrapper = nullptr;    // cleared when the JS object is collected

  // Handle thread: event callback target.
  void PostEvent(uint64_t event, const char* buf, size_t buf_len, const uint64_t* array, size_t array_len);

 private:
  static void OnEnvTeardown(void* core);
  template <typename F>
  void WithTsfn(F f) {  // runs f(tsfn_) unless the environment is gone
    std::lock_guard<std::mutex> lock(tsfn_mutex_);
    if (!env_gone_) f(tsfn_);
  }
  void Push(std::unique_ptr<Job> job);
  void Run();
  void Init();
  void Deliver(std::unique_ptr<Job> job);
  friend struct JobMessage;

  Config config_;
  Tsfn tsfn_;
  // Node frees every TSFN when its environment is torn down (process exit), even one a thread
  // still uses: the teardown hook flips env_gone_ so the handle thread stops touching it.
  std::mutex tsfn_mutex_;
  bool env_gone_ = false;
  guestfs_h* g_ = nullptr;                   // handle thread only
  std::unique_ptr<Failure> init_failure_;    // handle thread only
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::atomic<pid_t> tid_{0};
  std::atomic<pid_t> qemu_pid_{0};
  std::atomic<unsigned> kills_{0};
  // Held by Kill() while it signals, and by the handle thread to set closing_ before
  // guestfs_close: close forks its own helpers (`rm -rf` of the temporary and socket dirs) that a
  // kill retried from JS must not reach, or the dirs outlive the handle.
  std::mutex kill_mutex_;
  bool closing_ = false;  // under kill_mutex_
  int pending_ = 0;     // JS thread
  bool closed_ = false;  // JS thread
  bool close_done_ = false;                            // JS thread
  std::vector<Napi::Promise::Deferred> close_waiters_;  // JS thread: repeated close() calls
};

}  // namespace guestkit::gfs
