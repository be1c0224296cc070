// hashFile(path, chunkSize, strategy, buffers, background, callback) → job; abortHashFile(job).
//
// Each call gets its own native threads, so a multi-GiB hash never occupies libuv's small pool
// that fs and dns share: a job thread that opens the file and hashes, plus one helper (the reader
// of a pipeline, or the page prefetcher / window mapper of a mapping). `background` lowers both
// threads' CPU and I/O priority (nice 10, best-effort level 7), so hashes running beside appliance
// boots take only the CPU the boots leave. Results reach JS through a ThreadSafeFunction:
//   callback(0, bytes, total)                  progress, at most every 50 ms
//   callback(1, hex, bytes, total, strategy)   done (strategy: the reader actually used)
//   callback(2, errno, syscall)                failed (errno is positive, as in C)
//   callback(3, bytes, total)                  aborted
// Exactly one of 1/2/3 is delivered, after the fd is closed and the helper thread has ended.
//
// The file is opened non-blocking, so opening a FIFO that no writer has opened yet returns at once
// and every wait for a pipe's data happens in poll(2) together with the abort eventfd: an abort
// settles even when the writer has stalled or never came.
#include <fcntl.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kAuto: return "auto";
    case Strategy::kRead: return "read";
    case Strategy::kPread: return "pread";
    case Strategy::kMmap: return "mmap";
    case Strategy::kMmapPopulate: return "mmap-populate";
    case Strategy::kMmapHuge: return "mmap-huge";
    case Strategy::kDirect: return "direct";
    case Strategy::kCached: return "cached";
  }
  return "?";
}

namespace {

constexpr size_t kAlign = 4096;
constexpr size_t kMinChunk = 64 * 1024;
constexpr size_t kMaxChunk = 64 * 1024 * 1024;
// Defaults when the caller names no size. Reads out of the page cache and memory maps: 256 KiB,
// so the buffers in flight stay in cache between the reader's copy and the digest (on a Xeon with
// 2 MiB of L2 per core, 1 GiB warm, one run each: 256 KiB 1.23-1.33 GB/s, 512 KiB 1.04-1.11,
// 1-4 MiB 0.98-1.08, openssl dgst 1.27-1.34). O_DIRECT: 4 MiB, as the device wants large requests
// and nothing is cached anyway.
constexpr size_t kDefaultChunk = 256 * 1024;
constexpr size_t kDefaultDirectChunk = 4 * 1024 * 1024;
constexpr int kMinBuffers = 2;
constexpr int kMaxBuffers = 4;
constexpr int kBackgroundNice = 10;

// Linux ioprio_set(2) values (no glibc wrapper).
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassBestEffort = 2;
constexpr int kIoprioClassShift = 13;

void LowerPriority() {
  pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  // Per thread on Linux, and inherited by the helper thread this one starts. Best effort: a
  // failure only means the hash competes at normal priority.
  setpriority(PRIO_PROCESS, static_cast<id_t>(tid), kBackgroundNice);
  syscall(SYS_ioprio_set, kIoprioWhoProcess, tid, (kIoprioClassBestEffort << kIoprioClassShift) | 7);
}

uint64_t PhysicalMemory() {
  long pages = sysconf(_SC_PHYS_PAGES);
  long page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

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
  Job(std::string path, Params params, bool background)
      : path_(std::move(path)),
        params_(params),
        background_(background),
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
    if (background_) LowerPriority();
    Outcome outcome = control_.ok() ? Hash() : Outcome::Failed(errno, "eventfd");
    auto* event = new Event{Event::kDone, outcome.bytes, total_, std::move(outcome)};
    if (event->outcome.status == Outcome::kFailed) event->kind = Event::kFailed;
    if (event->outcome.status == Outcome::kAborted) event->kind = Event::kAborted;
    if (tsfn_.BlockingCall(event) != napi_ok) delete event;  // env closing: nobody to tell
    tsfn_.Release();
  }

  Outcome Hash() {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (that wait could not be aborted).
    UniqueFd fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (fd.get() < 0) return Outcome::Failed(errno, "open");
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Outcome::Failed(errno, "fstat");
    // open(2) accepts a directory for reading; report it the way fs.readFile does.
    if (S_ISDIR(st.st_mode)) return Outcome::Failed(EISDIR, "read");
    // Pipes and character devices stay non-blocking: their reads wait in poll(2) with the abort.
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
      return HashRead(fd.get(), 0, S_ISFIFO(st.st_mode), Strategy::kRead, Sized(Strategy::kRead), control_);
    }
    fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
    if (S_ISBLK(st.st_mode)) {
      off_t end = lseek(fd.get(), 0, SEEK_END);
      if (end < 0 || lseek(fd.get(), 0, SEEK_SET) < 0) return Outcome::Failed(errno, "lseek");
      total_ = static_cast<uint64_t>(end);
    } else {
      total_ = static_cast<uint64_t>(st.st_size);
    }
    // A size of 0 may be a lie (/proc): such files are read to EOF.
    if (total_ == 0) return HashRead(fd.get(), 0, false, Strategy::kRead, Sized(Strategy::kRead), control_);
    posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);  // advisory: doubles readahead
    // A regular file or device is hashed at the size it had when opened.
    Strategy strategy = params_.strategy;
    if (strategy == Strategy::kAuto || strategy == Strategy::kRead) {
      // Reading holds on every host (mapping pays a page fault per 4 KiB, dear when virtualised);
      // beyond the size of memory the page cache cannot keep the image anyway, so skip it.
      strategy = S_ISREG(st.st_mode) && total_ > PhysicalMemory() ? Strategy::kDirect : Strategy::kPread;
      // A file the page cache may hold: one thread while it does (cached.cc says why).
      if (params_.strategy == Strategy::kAuto && strategy == Strategy::kPread && S_ISREG(st.st_mode)) {
        return HashCached(fd.get(), total_, Sized(strategy), control_);
      }
    }
    if (strategy == Strategy::kPread || strategy == Strategy::kDirect) {
      return HashRead(fd.get(), total_, false, strategy, Sized(strategy), control_);
    }
    Params mapped = Sized(strategy);
    mapped.strategy = strategy;
    Outcome outcome = HashMapped(fd.get(), total_, mapped, control_);
    if (outcome.status != Outcome::kNotMappable) return outcome;
    return HashRead(fd.get(), total_, false, Strategy::kPread, Sized(Strategy::kPread), control_);
  }

  // The parameters with the chunk size resolved for the strategy that reads (0 = its default).
  Params Sized(Strategy strategy) const {
    Params p = params_;
    if (p.chunk == 0) p.chunk = strategy == Strategy::kDirect ? kDefaultDirectChunk : kDefaultChunk;
    return p;
  }

  void Send(Event::Kind kind, uint64_t bytes) {
    auto* event = new Event{kind, bytes, total_, {}};
    if (tsfn_.NonBlockingCall(event) != napi_ok) delete event;
  }

  const std::string path_;
  const Params params_;
  const bool background_;
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
      callback.Call({kind, Napi::String::New(env, o.hex), num(event->bytes), num(event->total),
                     Napi::String::New(env, StrategyName(o.used))});
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
  if (!info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber() ||
      !info[4].IsBoolean() || !info[5].IsFunction()) {
    throw Napi::TypeError::New(env,
                               "hashFile(path: string, chunkSize: number, strategy: number, buffers: number, "
                               "background: boolean, callback: function)");
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  double requested = info[1].As<Napi::Number>().DoubleValue();
  double strategy = info[2].As<Napi::Number>().DoubleValue();
  double buffers = info[3].As<Napi::Number>().DoubleValue();
  if (!(strategy >= 0 && strategy <= static_cast<double>(Strategy::kDirect)) || strategy != static_cast<int>(strategy)) {
    throw Napi::RangeError::New(env, "hashFile: unknown strategy");
  }
  Params params;
  // 0: the strategy's default, chosen once the strategy is known.
  if (requested > 0) {
    params.chunk = static_cast<size_t>(std::min(requested, double(kMaxChunk)));
    params.chunk = std::min(std::max(params.chunk, kMinChunk), kMaxChunk);
    params.chunk = (params.chunk + kAlign - 1) / kAlign * kAlign;
  } else {
    params.chunk = 0;
  }
  params.buffers = buffers >= kMinBuffers && buffers <= kMaxBuffers ? static_cast<int>(buffers) : 3;
  params.strategy = static_cast<Strategy>(static_cast<int>(strategy));
  bool background = info[4].As<Napi::Boolean>().Value();

  auto job = std::make_shared<Job>(std::move(path), params, background);
  // The finalizer owns one reference and joins the thread: it runs on the JS thread after the job
  // thread's final Release (or at env teardown, where Join's abort makes the thread stop).
  auto* keep = new JobHandle(job);
  Tsfn tsfn = Tsfn::New(env, info[5].As<Napi::Function>(), "guestkit.sha256File", 0, 1, job.get(),
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
