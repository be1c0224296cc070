// What the ways of hashing an open file share with the job that runs them: the abort flag (plus an
// eventfd that wakes a thread waiting in poll(2) for a pipe), a lock + condition variable for their
// helper thread, throttled progress, the tuning parameters and the outcome.
#pragma once

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace guestkit::sha256 {

// How the bytes of the file reach the digest (hashFile's `strategy` argument; same numbers in
// lib/checksum.ts).
enum class Strategy {
  kAuto = 0,           // chosen from the file type and size (see file_hash.cc)
  kRead = 1,           // read(2) to EOF, non-blocking + poll: pipes, character devices, /proc files
  kPread = 2,          // pread(2) into reused buffers filled by a reader thread
  kMmap = 3,           // mapping + MADV_SEQUENTIAL, a thread faults pages in ahead (POPULATE_READ)
  kMmapPopulate = 4,   // windows mapped with MAP_POPULATE by a helper thread
  kMmapHuge = 5,       // kMmap + MADV_HUGEPAGE (large folios where the file system has them)
  kDirect = 6,         // pread(2) with O_DIRECT: no page cache, for files larger than memory
  // Reported, never asked for: auto's one-thread path (cached.cc) answered every read from the
  // page cache. A hash it handed over to the pipeline part way reports kPread.
  kCached = 7,
};

const char* StrategyName(Strategy s);

struct Params {
  size_t chunk;     // bytes per read / per digest step; abort is checked between steps
  int buffers;      // reused buffers of the reader pipelines (2-4)
  Strategy strategy;
};

struct Outcome {
  enum Status { kDone, kFailed, kAborted, kNotMappable } status = kDone;
  uint64_t bytes = 0;
  std::string hex;
  int error = 0;  // errno, positive
  const char* syscall = "";
  Strategy used = Strategy::kAuto;

  static Outcome NotMappable() {
    Outcome o;
    o.status = kNotMappable;
    return o;
  }
  static Outcome Failed(int error, const char* syscall) {
    Outcome o;
    o.status = kFailed;
    o.error = error;
    o.syscall = syscall;
    return o;
  }
};

class Control {
 public:
  explicit Control(std::function<void(uint64_t)> progress)
      : progress_(std::move(progress)), wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
  ~Control() {
    if (wake_fd_ >= 0) close(wake_fd_);
  }
  Control(const Control&) = delete;
  Control& operator=(const Control&) = delete;

  bool ok() const { return wake_fd_ >= 0; }

  void Abort() {
    aborted_ = true;
    uint64_t one = 1;
    // Wakes a reader blocked in poll() on a stalled pipe; the counter only saturates, never blocks.
    ssize_t ignored = write(wake_fd_, &one, sizeof one);
    (void)ignored;
    Notify();
  }
  bool aborted() const { return aborted_; }

  static constexpr int kWaitAborted = -1;
  static constexpr int kWaitFailed = -2;  // poll(2) failed: errno says why

  // Waits until `fd` (non-blocking) can be read or has hung up: its poll revents, or one of the
  // negative kWait* values.
  int WaitReadable(int fd) {
    struct pollfd fds[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    while (!aborted_) {
      int n = poll(fds, 2, -1);
      if (n < 0 && errno != EINTR) return kWaitFailed;
      if (fds[1].revents != 0) return kWaitAborted;
      if (n > 0 && fds[0].revents != 0) return fds[0].revents;
    }
    return kWaitAborted;
  }

  void Notify() {
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }

  // Blocks until ready() (evaluated under the lock) or abort; false on abort.
  template <typename Ready>
  bool WaitFor(Ready ready) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return aborted_ || ready(); });
    return !aborted_;
  }

  std::mutex& mutex() { return mu_; }

  // Called by the hashing thread after each chunk; forwards at most every 50 ms (JS throttles to
  // 100 ms: emitting twice as often keeps its cadence steady despite delivery jitter).
  void Progress(uint64_t bytes) {
    auto now = std::chrono::steady_clock::now();
    if (now - last_progress_ < std::chrono::milliseconds(50)) return;
    last_progress_ = now;
    progress_(bytes);
  }

 private:
  std::atomic<bool> aborted_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::function<void(uint64_t)> progress_;
  int wake_fd_;
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
};

// Hashes `size` bytes of a regular file through a mapping (kMmap, kMmapPopulate or kMmapHuge).
// kNotMappable when the file cannot be mapped: the caller then reads it.
Outcome HashMapped(int fd, uint64_t size, const Params& params, Control& control);

// Hashes through a reader thread and `params.buffers` reused buffers:
// kRead: read(2) until EOF (fd non-blocking; waits in poll so an abort wakes it; `fifo` says
// whether a 0 from read(2) needs a hang-up from poll(2) to count as EOF);
// kPread / kDirect: pread(2) of exactly `size` bytes (a shorter file is EIO); kDirect sets
// O_DIRECT on the fd and falls back to kPread where the file system refuses it. kPread
// may go on from `start` with the digest of the bytes before it (`resume`, from HashCached).
class Digest;
Outcome HashRead(int fd, uint64_t size, bool fifo, Strategy mode, const Params& params, Control& control,
                 uint64_t start = 0, Digest* resume = nullptr);

// A regular file of `size` bytes, one thread, while the page cache holds what it reads; at the
// first read it cannot answer at once, HashRead (kPread) takes over from there.
Outcome HashCached(int fd, uint64_t size, const Params& params, Control& control);

}  // namespace guestkit::sha256
