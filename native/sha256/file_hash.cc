// hashFile(path, chunkSize, callback) → job; abortHashFile(job).
//
// Each call gets its own two native threads so a multi-GiB hash never occupies libuv's small pool:
// a reader fills page-aligned buffers with read(2) while the job thread feeds the previous buffer
// to EVP — with three buffers the disk/page-cache copy overlaps the hashing, so throughput
// approaches the raw SHA-256 speed of one core. Results reach JS through a ThreadSafeFunction:
//   callback(0, bytes, total)        progress, at most every 50 ms
//   callback(1, hex, bytes, total)   done
//   callback(2, errno, syscall)      failed (errno is positive, as in C)
//   callback(3, bytes, total)        aborted
// Exactly one of 1/2/3 is delivered, after the fd is closed and both threads have stopped working.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "sha256/evp.h"
#include "sha256/sha256.h"

namespace guestkit::sha256 {
namespace {

constexpr size_t kAlign = 4096;
constexpr size_t kMinChunk = 64 * 1024;
constexpr size_t kMaxChunk = 64 * 1024 * 1024;
constexpr size_t kDefaultChunk = 1024 * 1024;
// Three buffers: one being read, one being hashed, one ready so neither side waits on a handover.
constexpr int kBuffers = 3;
// JS throttles to 100 ms; emitting twice as often keeps its cadence steady despite delivery jitter.
constexpr auto kProgressEvery = std::chrono::milliseconds(50);

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

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<uint8_t, FreeDeleter>;

struct Event {
  enum Kind { kProgress = 0, kDone = 1, kFailed = 2, kAborted = 3 };
  explicit Event(Kind k, uint64_t b = 0, uint64_t t = 0) : kind(k), bytes(b), total(t) {}
  Kind kind;
  uint64_t bytes = 0;
  uint64_t total = 0;
  std::string hex;
  int error = 0;
  const char* syscall = "";
};

Event Failed(int error, const char* syscall) {
  Event e(Event::kFailed);
  e.error = error;
  e.syscall = syscall;
  return e;
}

class Job;
void CallJs(Napi::Env env, Napi::Function callback, Job* job, Event* event);
using Tsfn = Napi::TypedThreadSafeFunction<Job, Event, CallJs>;

class Job {
 public:
  Job(std::string path, size_t chunk) : path_(std::move(path)), chunk_(chunk) {}

  void Start(Tsfn tsfn, std::shared_ptr<Job> self) {
    tsfn_ = tsfn;
    thread_ = std::thread([self] { self->Run(); });
  }

  void Abort() {
    aborted_ = true;
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }

  // On the JS thread once the TSFN is finalized (after the final Release, or at env teardown).
  void Join() {
    Abort();  // no-op after a normal finish; at teardown it makes the threads stop promptly
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Run() {
    Event* result = new Event(Hash());
    if (tsfn_.BlockingCall(result) != napi_ok) delete result;  // env closing: nobody to tell
    tsfn_.Release();
  }

  Event Hash() {
    UniqueFd fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) return Failed(errno, "open");
    struct stat st;
    if (fstat(fd.get(), &st) != 0) return Failed(errno, "fstat");
    // open(2) accepts a directory for reading; report it the way fs.readFile does.
    if (S_ISDIR(st.st_mode)) return Failed(EISDIR, "read");
    uint64_t total = 0;
    if (S_ISREG(st.st_mode)) {
      total = static_cast<uint64_t>(st.st_size);
    } else if (S_ISBLK(st.st_mode)) {
      off_t end = lseek(fd.get(), 0, SEEK_END);
      if (end < 0 || lseek(fd.get(), 0, SEEK_SET) < 0) return Failed(errno, "lseek");
      total = static_cast<uint64_t>(end);
    }
    posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);  // advisory: doubles readahead

    std::vector<AlignedBuffer> buffers;
    for (int i = 0; i < kBuffers; i++) {
      void* p = nullptr;
      if (posix_memalign(&p, kAlign, chunk_) != 0) return Failed(ENOMEM, "posix_memalign");
      buffers.emplace_back(static_cast<uint8_t*>(p));
      empty_.push_back(buffers.back().get());
    }
    Digest digest;
    if (!digest.ok()) return Failed(ENOMEM, "EVP_DigestInit_ex");

    std::thread reader;
    try {
      reader = std::thread([this, &fd] { ReadLoop(fd.get()); });
    } catch (const std::system_error& e) {
      return Failed(e.code().value(), "pthread_create");
    }
    uint64_t bytes = 0;
    bool update_failed = false;
    auto last_progress = std::chrono::steady_clock::now();
    for (Chunk chunk; TakeFull(&chunk);) {
      if (!digest.Update(chunk.data, chunk.len)) {
        update_failed = true;
        Abort();
        break;
      }
      bytes += chunk.len;
      GiveBack(chunk.data);
      auto now = std::chrono::steady_clock::now();
      if (now - last_progress >= kProgressEvery) {
        last_progress = now;
        Event* progress = new Event(Event::kProgress, bytes, total);
        if (tsfn_.NonBlockingCall(progress) != napi_ok) delete progress;
      }
    }
    reader.join();  // the reader sees the abort flag or has already reached EOF/error

    if (update_failed) return Failed(EIO, "EVP_DigestUpdate");
    if (aborted_) return Event(Event::kAborted, bytes, total);
    if (read_error_ != 0) return Failed(read_error_, "read");
    Event done(Event::kDone, bytes, total);
    done.hex = digest.FinalHex();
    if (done.hex.empty()) return Failed(EIO, "EVP_DigestFinal_ex");
    return done;
  }

  void ReadLoop(int fd) {
    for (;;) {
      uint8_t* buf = TakeEmpty();
      if (buf == nullptr) return;  // aborted
      size_t filled = 0;
      while (filled < chunk_) {
        ssize_t n = read(fd, buf + filled, chunk_ - filled);
        if (n > 0) {
          filled += static_cast<size_t>(n);
        } else if (n == 0) {
          break;
        } else if (errno != EINTR) {
          return FinishReading(errno);
        }
      }
      if (filled > 0) PushFull(buf, filled);
      if (filled < chunk_) return FinishReading(0);
    }
  }

  struct Chunk {
    uint8_t* data;
    size_t len;
  };

  uint8_t* TakeEmpty() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return aborted_ || !empty_.empty(); });
    if (aborted_) return nullptr;
    uint8_t* buf = empty_.front();
    empty_.pop_front();
    return buf;
  }

  void PushFull(uint8_t* data, size_t len) {
    std::lock_guard<std::mutex> lock(mu_);
    full_.push_back({data, len});
    cv_.notify_all();
  }

  void FinishReading(int error) {
    std::lock_guard<std::mutex> lock(mu_);
    read_error_ = error;
    reading_done_ = true;
    cv_.notify_all();
  }

  // False once everything read has been hashed, or on abort.
  bool TakeFull(Chunk* out) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return aborted_ || !full_.empty() || reading_done_; });
    if (aborted_ || full_.empty()) return false;
    *out = full_.front();
    full_.pop_front();
    return true;
  }

  void GiveBack(uint8_t* buf) {
    std::lock_guard<std::mutex> lock(mu_);
    empty_.push_back(buf);
    cv_.notify_all();
  }

  const std::string path_;
  const size_t chunk_;
  Tsfn tsfn_;
  std::thread thread_;
  std::atomic<bool> aborted_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<uint8_t*> empty_;
  std::deque<Chunk> full_;
  bool reading_done_ = false;
  int read_error_ = 0;
};

void CallJs(Napi::Env env, Napi::Function callback, Job* /*job*/, Event* event) {
  std::unique_ptr<Event> owned(event);
  if (env == nullptr || callback.IsEmpty()) return;
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  auto kind = Napi::Number::New(env, event->kind);
  switch (event->kind) {
    case Event::kProgress:
    case Event::kAborted:
      callback.Call({kind, num(event->bytes), num(event->total)});
      break;
    case Event::kDone:
      callback.Call({kind, Napi::String::New(env, event->hex), num(event->bytes), num(event->total)});
      break;
    case Event::kFailed:
      callback.Call({kind, Napi::Number::New(env, event->error), Napi::String::New(env, event->syscall)});
      break;
  }
}

using JobHandle = std::shared_ptr<Job>;

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
  return Napi::External<JobHandle>::New(env, new JobHandle(job),
                                        [](Napi::Env, JobHandle* handle) { delete handle; });
}

Napi::Value AbortHashFile(const Napi::CallbackInfo& info) {
  if (info[0].IsExternal()) (*info[0].As<Napi::External<JobHandle>>().Data())->Abort();
  return info.Env().Undefined();
}

}  // namespace

void InitFileHash(Napi::Env env, Napi::Object exports) {
  exports.Set("hashFile", Napi::Function::New<HashFile>(env, "hashFile"));
  exports.Set("abortHashFile", Napi::Function::New<AbortHashFile>(env, "abortHashFile"));
}

}  // namespace guestkit::sha256
