// hashFile(path, chunkSize, callback) → job; abortHashFile(job).
//
// Each call gets its own native threads, so a multi-GiB hash never occupies libuv's small pool
// that fs and dns share: a job thread that opens the file and hashes, plus one helper (the page
// prefetcher of a mapped file, or the reader of a streamed one). Results reach JS through a
// ThreadSafeFunction:
//   callback(0, bytes, total)        progress, at most every 50 ms
//   callback(1, hex, bytes, total)   done
//   callback(2, errno, syscall)      failed (errno is positive, as in C)
//   callback(3, bytes, total)        aborted
// Exactly one of 1/2/3 is delivered, after the fd is closed and the helper thread has ended.
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string>
#include <system_error>
#include <thread>

#include "common.h"
#include "sha256/control.h"
#include "sha256/sha256.h"

namespace guestkit::sha256 {
namespace {

constexpr size_t kAlign = 4096;
constexpr size_t kMinChunk = 64 * 1024;
constexpr size_t kMaxChunk = 64 * 1024 * 1024;
constexpr size_t kDefaultChunk = 1024 * 1024;

class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

struct Event {
  enum Kind { kProgress = 0, kDone = 1, kFailed = 2, kAborted = 3 };
  Kind kind;
  uint64_t bytes = 0;
  uint64_t total = 0;
  Outcome outcome;
};

class Job;
void CallJs(Napi::Env env, Napi::Function callback, Job* job, Event* event);
using Tsfn = Napi::TypedThreadSafeFunction<Job, Event, CallJs>;

class Job {
 public:
  Job(std::string path, size_t chunk)
      : path_(std::move(path)),
        chunk_(chunk),
        control_([this](uint64_t bytes) { Send(Event::kProgress, bytes); }) {}

  void Start(Tsfn tsfn, std::shared_ptr<Job> self) {
    tsfn_ = tsfn;
    thread_ = std::thread([self] { self->Run(); });
  }

  void Abort() { control_.Abort(); }

  // On the JS thread once the TSFN is finalized (after the final Release, or at env teardown).
  void Join() {
    Abort();  // no-op after a normal finish; at teardown it makes the threads stop promptly
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    pthread_setname_np(pthread_self(), "gk-sha256");  // visible in top -H, gdb, /proc/*/task
    Outcome outcome = Hash();
    auto* event = new Event{Event::kDone, outcome.bytes, total_, std::move(outcome)};
    if (event->outcome.status == Outcome::kFailed) event->kind = Event::kFailed;
    if (event->outcome.status == Outcome::kAborted) event->kind = Event::kAborted;
    if (tsfn_.BlockingCall(event) != napi_ok) delete event;  // env closing: nobody to tell
    tsfn_.Release();
  }

  Outcome Hash() {
    UniqueFd fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return Outcome::Failed(errno, "open");
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Outcome::Failed(errno, "fstat");
    // open(2) accepts a directory for reading; report it the way fs.readFile does.
    if (S_ISDIR(st.st_mode)) return Outcome::Failed(EISDIR, "read");
    if (S_ISBLK(st.st_mode)) {
      off_t end = lseek(fd.get(), 0, SEEK_END);
      if (end < 0 || lseek(fd.get(), 0, SEEK_SET) < 0) return Outcome::Failed(errno, "lseek");
      total_ = static_cast<uint64_t>(end);
    }
    posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);  // advisory: doubles readahead
    // A regular file is hashed at the size it had when opened; a size of 0 may be a lie (/proc),
    // so such files are streamed to EOF.
    if (S_ISREG(st.st_mode) && st.st_size > 0) {
      total_ = static_cast<uint64_t>(st.st_size);
      Outcome mapped = HashMapped(fd.get(), total_, chunk_, control_);
      if (mapped.status != Outcome::kNotMappable) return mapped;
    }
    return HashStreamed(fd.get(), chunk_, control_);
  }

  void Send(Event::Kind kind, uint64_t bytes) {
    auto* event = new Event{kind, bytes, total_, {}};
    if (tsfn_.NonBlockingCall(event) != napi_ok) delete event;
  }

  const std::string path_;
  const size_t chunk_;
  Control control_;
  uint64_t total_ = 0;
  Tsfn tsfn_;
  std::thread thread_;
};

void CallJs(Napi::Env env, Napi::Function callback, Job* /*job*/, Event* event) {
  std::unique_ptr<Event> owned(event);
  if (env == nullptr || callback.IsEmpty()) return;
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  auto kind = Napi::Number::New(env, event->kind);
  const Outcome& o = event->outcome;
  switch (event->kind) {
    case Event::kProgress:
    case Event::kAborted:
      callback.Call({kind, num(event->bytes), num(event->total)});
      break;
    case Event::kDone:
      callback.Call({kind, Napi::String::New(env, o.hex), num(event->bytes), num(event->total)});
      break;
    case Event::kFailed:
      callback.Call({kind, Napi::Number::New(env, o.error), Napi::String::New(env, o.syscall)});
      break;
  }
}

using JobHandle = std::shared_ptr<Job>;

// abortHashFile() takes back the External hashFile() returned; any other External would be read
// as a JobHandle, so ours are tagged.
constexpr napi_type_tag kJobTag = {0x6775657374686173ULL, 0x2d66696c652d6a6fULL};

Napi::Value HashFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsNumber() || !info[2].IsFunction()) {
    throw Napi::TypeError::New(env, "hashFile(path: string, chunkSize: number, callback: function)");
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  double requested = info[1].As<Napi::Number>().DoubleValue();
  size_t chunk = requested > 0 ? static_cast<size_t>(requested) : kDefaultChunk;
  chunk = std::min(std::max(chunk, kMinChunk), kMaxChunk);
  chunk = (chunk + kAlign - 1) / kAlign * kAlign;

  auto job = std::make_shared<Job>(std::move(path), chunk);
  // The finalizer owns one reference and joins the thread: it runs on the JS thread after the job
  // thread's final Release (or at env teardown, where Join's abort makes the thread stop).
  auto* keep = new JobHandle(job);
  Tsfn tsfn = Tsfn::New(env, info[2].As<Napi::Function>(), "guestkit.sha256File", 0, 1, job.get(),
                        [](Napi::Env, JobHandle* handle, Job*) {
                          (*handle)->Join();
                          delete handle;
                        },
                        keep);
  try {
    job->Start(tsfn, job);
  } catch (const std::system_error& e) {
    tsfn.Release();
    throw Napi::Error::New(env, std::string("could not start the hashing thread: ") + e.what());
  }
  auto external = Napi::External<JobHandle>::New(env, new JobHandle(job),
                                                 [](Napi::Env, JobHandle* handle) { delete handle; });
  external.TypeTag(&kJobTag);
  return external;
}

Napi::Value AbortHashFile(const Napi::CallbackInfo& info) {
  if (!HasTag(info[0], kJobTag)) throw Napi::TypeError::New(info.Env(), "abortHashFile(job): not a hashFile() job");
  (*info[0].As<Napi::External<JobHandle>>().Data())->Abort();
  return info.Env().Undefined();
}

}  // namespace

void InitFileHash(Napi::Env env, Napi::Object exports) {
  exports.Set("hashFile", Napi::Function::New<HashFile>(env, "hashFile"));
  exports.Set("abortHashFile", Napi::Function::New<AbortHashFile>(env, "abortHashFile"));
}

}  // namespace guestkit::sha256
