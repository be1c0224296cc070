// What the two ways of hashing an open file share with the job that runs them: the abort flag,
// a lock + condition variable for their helper thread, throttled progress, and the outcome.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace guestkit::sha256 {

struct Outcome {
  enum Status { kDone, kFailed, kAborted, kNotMappable } status = kDone;
  uint64_t bytes = 0;
  std::string hex;
  int error = 0;  // errno, positive
  const char* syscall = "";

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
  explicit Control(std::function<void(uint64_t)> progress) : progress_(std::move(progress)) {}

  void Abort() {
    aborted_ = true;
    Notify();
  }
  bool aborted() const { return aborted_; }

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
  std::chrono::steady_clock::time_point last_progress_ = std::chrono::steady_clock::now();
};

// Hashes `size` bytes of a regular file through a mapping (no copy). kNotMappable when the file
// cannot be mapped: the caller then streams it.
Outcome HashMapped(int fd, uint64_t size, size_t chunk, Control& control);

// Hashes whatever read(2) returns until EOF: a reader thread fills buffers while this one hashes.
Outcome HashStreamed(int fd, size_t chunk, Control& control);

}  // namespace guestkit::sha256
