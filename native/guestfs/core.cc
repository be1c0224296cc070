// The handle thread, its queue, event forwarding and kill().
#include "guestfs/core.h"

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "guestfs/handle.h"

namespace guestkit::gfs {

// ---------- messages to the JS thread ----------

struct JobMessage : Message {
  std::unique_ptr<Job> job;
  explicit JobMessage(std::unique_ptr<Job> j) : job(std::move(j)) {}
  void Deliver(Napi::Env env, Core* core) override {
    if (!job->detached) core->Settled(env);
    Napi::Value v;
    bool failed = job->out->Failed();
    try {
      v = job->out->ToJs(env);
    } catch (const Napi::Error& e) {
      v = e.Value();
      failed = true;
    }
    if (job->close) {
      core->close_done_ = true;
      for (auto& w : core->close_waiters_) w.Resolve(env.Undefined());
      core->close_waiters_.clear();
    }
    if (job->detached) return;
    if (failed) job->deferred->Reject(v);
    else job->deferred->Resolve(v);
  }
};

struct EventMessage : Message {
  std::string name;
  std::string text;
  std::vector<uint64_t> array;
  void Deliver(Napi::Env env, Core* core) override {
    if (!core->wrapper) return;
    Napi::Object self = core->wrapper->Value();
    if (self.IsEmpty()) return;
    Napi::Value cb = self.Get("onevent");
    if (!cb.IsFunction()) return;
    Napi::Array a = Napi::Array::New(env, array.size());
    for (size_t i = 0; i < array.size(); i++) a.Set(i, Napi::Number::New(env, static_cast<double>(array[i])));
    cb.As<Napi::Function>().Call(self, {Napi::String::New(env, name), Napi::String::New(env, text), a});
  }
};

void DeliverMessage(Napi::Env env, Napi::Function, Core* core, Message* m) {
  std::unique_ptr<Message> owned(m);
  if (env == nullptr) return;  // environment teardown: drop it
  try {
    owned->Deliver(env, core);
  } catch (const Napi::Error& e) {
    // A throwing event listener behaves like any throwing callback: an uncaught exception.
    napi_fatal_exception(env, e.Value());
  }
}

// ---------- JS thread ----------

void Core::Start(Napi::Env env) {
  // The TSFN keeps the core alive until its finalizer, which runs on the JS thread: the core (and
  // the napi values it holds) is therefore never destroyed on the handle thread.
  auto keep = new std::shared_ptr<Core>(shared_from_this());
  auto finalize = [](Napi::Env env, std::shared_ptr<Core>* k, Core* c) {
    napi_remove_env_cleanup_hook(env, OnEnvTeardown, c);
    delete k;
  };
  tsfn_ = Tsfn::New(env, "guestfs", 0, 1, this, finalize, keep);
  tsfn_.Unref(env);  // an idle handle does not keep the process alive
  // Registered after the TSFN's own hook, so it runs first (hooks run in reverse order).
  napi_add_env_cleanup_hook(env, OnEnvTeardown, this);
  std::thread([self = shared_from_this()]() mutable {
    self->Run();
    Core* c = self.get();
    std::shared_ptr<Core> last = std::move(self);
    // Release last: until then the TSFN finalizer (JS thread) cannot run and the core stays
    // alive; the core's last owner is then the wrapper or that finalizer, both on the JS thread.
    c->WithTsfn([&last](Tsfn& t) {
      Tsfn copy = t;
      last.reset();
      copy.Release();
    });
  }).detach();
}

void Core::OnEnvTeardown(void* arg) {
  auto c = static_cast<Core*>(arg);
  std::lock_guard<std::mutex> lock(c->tsfn_mutex_);
  c->env_gone_ = true;
}

Napi::Value Core::Enqueue(Napi::Env env, const char* action, Call fn) {
  auto job = std::make_unique<Job>();
  job->deferred.emplace(Napi::Promise::Deferred::New(env));
  Napi::Promise p = job->deferred->Promise();
  if (closed_) {
    job->deferred->Reject(MakeError(env, std::string(action) + ": the handle is closed", EBADF, "ECLOSED", action));
    return p;
  }
  if (kills_ > 0) {
    job->deferred->Reject(MakeError(env, std::string(action) + ": the handle was killed; close it", ECANCELED,
                                    "EKILLED", action));
    return p;
  }
  job->action = action;
  job->fn = std::move(fn);
  if (pending_++ == 0) tsfn_.Ref(env);
  Push(std::move(job));
  return p;
}

Napi::Value Core::Close(Napi::Env env) {
  auto d = Napi::Promise::Deferred::New(env);
  if (close_done_) {
    d.Resolve(env.Undefined());
  } else if (closed_) {
    close_waiters_.push_back(d);
  } else {
    closed_ = true;
    auto job = std::make_unique<Job>();
    job->action = "close";
    job->close = true;
    job->deferred.emplace(d);
    if (pending_++ == 0) tsfn_.Ref(env);
    Push(std::move(job));
  }
  return d.Promise();
}

void Core::CloseDetached() {
  if (closed_) return;
  closed_ = true;
  auto job = std::make_unique<Job>();
  job->action = "close";
  job->close = true;
  job->detached = true;
  Push(std::move(job));
}

void Core::Settled(Napi::Env env) {
  if (--pending_ == 0) tsfn_.Unref(env);
}

namespace {
std::vector<pid_t> ChildrenOf(pid_t tid, bool& readable) {
  std::vector<pid_t> out;
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/children");
  readable = f.good();
  pid_t p;
  while (f >> p) out.push_back(p);
  return out;
}

// The parent of a process (field 4 of /proc/<pid>/stat, after the parenthesised command name).
pid_t ParentOf(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t end = stat.rfind(')');
  if (end == std::string::npos) return 0;
  std::istringstream rest(stat.substr(end + 1));
  std::string state;
  pid_t ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

// Through syscall(): glibc only wraps these from 2.36, and the prebuilt addon must load on older.
int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }
int PidfdKill(int fd) { return static_cast<int>(syscall(SYS_pidfd_send_signal, fd, SIGKILL, nullptr, 0)); }
}  // namespace

// Ends every process the handle thread started (qemu, and during launch also qemu-img or
// supermin): the running libguestfs call then fails at once, queued and later calls reject with
// EKILLED, and only close() remains useful. Never calls into libguestfs, whose handle lock the
// running call holds.
int Core::Kill() {
  kills_++;
  std::lock_guard<std::mutex> guard(kill_mutex_);
  if (closing_) return 0;  // the appliance is being shut down by close(), whose children are its own
  pid_t tid = tid_;
  if (tid == 0) return 0;
  bool readable = false;
  std::vector<pid_t> candidates = ChildrenOf(tid, readable);
  if (!readable && qemu_pid_ > 0) candidates.push_back(qemu_pid_);  // kernel without CONFIG_PROC_CHILDREN
  // A PID read from /proc can be reaped and reused by an unrelated process before it is
  // signalled. A pidfd pins one process: open one per candidate, then check the candidate is
  // still ours. If it is, the pidfd is that child's (or, should the child have died since the
  // open, a dead process's: the signal then goes nowhere); a reused PID is never signalled.
  std::vector<std::pair<pid_t, int>> pinned;
  bool no_pidfd = false;
  for (pid_t p : candidates) {
    int fd = PidfdOpen(p);
    if (fd >= 0) pinned.emplace_back(p, fd);
    else if (errno == ENOSYS) no_pidfd = true;
  }
  bool again = false;
  std::vector<pid_t> children = readable ? ChildrenOf(tid, again) : std::vector<pid_t>{};
  auto ours = [&](pid_t p) {
    return readable ? std::find(children.begin(), children.end(), p) != children.end() : ParentOf(p) == getpid();
  };
  int n = 0;
  for (auto [p, fd] : pinned) {
    if (ours(p) && PidfdKill(fd) == 0) n++;
    close(fd);
  }
  // Kernels before 5.3 have no pidfds: signal by PID after the same check (a narrow race remains).
  if (no_pidfd) {
    for (pid_t p : candidates) n += ours(p) && kill(p, SIGKILL) == 0 ? 1 : 0;
  }
  return n;
}

// ---------- handle thread ----------

void Core::Push(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void Core::Deliver(std::unique_ptr<Job> job) {
  auto m = new JobMessage(std::move(job));
  bool sent = false;
  WithTsfn([&](Tsfn& t) { sent = t.BlockingCall(m) == napi_ok; });
  if (!sent) delete m;  // environment is shutting down
}

namespace {
void OnEvent(guestfs_h*, void* opaque, uint64_t event, int, int, const char* buf, size_t buf_len,
             const uint64_t* array, size_t array_len) {
  static_cast<Core*>(opaque)->PostEvent(event, buf, buf_len, array, array_len);
}
}  // namespace

void Core::PostEvent(uint64_t event, const char* buf, size_t buf_len, const uint64_t* array, size_t array_len) {
  auto m = new EventMessage();
  char* name = guestfs_event_to_string(event);
  m->name = name ? name : "unknown";
  free(name);
  if (buf) m->text.assign(buf, buf_len);  // not NUL-terminated
  if (array) m->array.assign(array, array + array_len);
  bool sent = false;
  WithTsfn([&](Tsfn& t) { sent = t.NonBlockingCall(m) == napi_ok; });
  if (!sent) delete m;
}

void Core::Init() {
  // No environment: the JS side read it once and passed explicit options. No atexit close: it
  // would race with this thread inside a call when the process exits.
  g_ = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT | GUESTFS_CREATE_NO_CLOSE_ON_EXIT);
  if (!g_) {
    init_failure_ = MakeFailure(std::string("cannot create a libguestfs handle: ") + strerror(errno), errno, "");
    return;
  }
  guestfs_set_error_handler(g_, nullptr, nullptr);  // errors go to JS, not stderr
  guestfs_set_event_callback(g_, OnEvent, GUESTFS_EVENT_ALL, 0, this);
  const Config& c = config_;
  StrList settings{c.backend_settings, {}};
  bool ok = guestfs_set_backend(g_, c.backend.c_str()) == 0 &&
            guestfs_set_backend_settings(g_, settings.c()) == 0 &&
            (c.memsize <= 0 || guestfs_set_memsize(g_, c.memsize) == 0) &&
            (c.smp <= 0 || guestfs_set_smp(g_, c.smp) == 0) &&
            (c.tmpdir.empty() || guestfs_set_tmpdir(g_, c.tmpdir.c_str()) == 0) &&
            (c.cachedir.empty() || guestfs_set_cachedir(g_, c.cachedir.c_str()) == 0) &&
            (c.hv.empty() || guestfs_set_hv(g_, c.hv.c_str()) == 0) &&
            (c.append.empty() || guestfs_set_append(g_, c.append.c_str()) == 0) &&
            guestfs_set_verbose(g_, c.verbose) == 0 && guestfs_set_trace(g_, c.trace) == 0 &&
            guestfs_set_network(g_, c.network) == 0;
  if (!ok) {
    OutcomePtr f = Fail(g_);
    init_failure_.reset(static_cast<Failure*>(f.release()));
    init_failure_->message = "handle setup failed (check the Guestfs options): " + init_failure_->message;
    guestfs_close(g_);
    g_ = nullptr;
  }
}

void Core::Run() {
  tid_ = gettid();
  Init();
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return !queue_.empty(); });
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (job->close) {
      {
        std::lock_guard<std::mutex> guard(kill_mutex_);
        closing_ = true;
      }
      if (g_) guestfs_close(g_);  // emits the close event while the TSFN is still open
      g_ = nullptr;
      qemu_pid_ = 0;
      job->out = RetErr(nullptr, 0);
      Deliver(std::move(job));
      return;
    }
    unsigned kills = kills_;
    if (!g_) {
      job->out = MakeFailure(init_failure_->message, init_failure_->err, init_failure_->code);
    } else if (kills > 0) {
      // Queued behind a call that was killed: the appliance is gone, only close() makes sense.
      job->out = MakeFailure(std::string(job->action) + ": the handle was killed; close it", ECANCELED, "EKILLED");
    } else {
      job->out = job->fn(g_);
    }
    if (job->out->Failed()) {
      auto f = static_cast<Failure*>(job->out.get());
      f->action = job->action;
      if (kills_ != kills) f->code = "EKILLED";  // the failure is the kill's doing, not the guest's
    } else if (g_ && strcmp(job->action, "launch") == 0) {
      int pid = guestfs_get_pid(g_);
      qemu_pid_ = pid > 0 ? pid : 0;
    }
    Deliver(std::move(job));
  }
}

}  // namespace guestkit::gfs
