// Reader thread + hashing thread over three page-aligned buffers: one being filled by read(2),
// one being hashed, one ready, so neither side waits for the other at a handover. Serves what
// cannot be mapped: pipes, character devices, /proc-like files, block devices.
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <deque>
#include <memory>
#include <system_error>
#include <thread>
#include <vector>

#include "sha256/control.h"
#include "sha256/evp.h"

namespace guestkit::sha256 {
namespace {

constexpr size_t kAlign = 4096;
constexpr int kBuffers = 3;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

struct Chunk {
  uint8_t* data;
  size_t len;
};

// Buffer handover between the reader and the hasher; every wait also ends on abort.
class Pipeline {
 public:
  Pipeline(Control& control, size_t chunk) : control_(control), chunk_(chunk) {}

  bool Allocate() {
    for (int i = 0; i < kBuffers; i++) {
      void* p = nullptr;
      if (posix_memalign(&p, kAlign, chunk_) != 0) return false;
      buffers_.emplace_back(static_cast<uint8_t*>(p));
      empty_.push_back(buffers_.back().get());
    }
    return true;
  }

  void ReadLoop(int fd) {
    pthread_setname_np(pthread_self(), "gk-sha256-rd");
    for (;;) {
      uint8_t* buf = nullptr;
      if (!control_.WaitFor([&] { return !empty_.empty(); })) return;
      {
        std::lock_guard<std::mutex> lock(control_.mutex());
        buf = empty_.front();
        empty_.pop_front();
      }
      size_t filled = 0;
      while (filled < chunk_) {
        ssize_t n = read(fd, buf + filled, chunk_ - filled);
        if (n > 0) {
          filled += static_cast<size_t>(n);
        } else if (n == 0) {
          break;
        } else if (errno != EINTR) {
          return Finish(errno);
        }
      }
      if (filled > 0) Push(&full_, {buf, filled});
      if (filled < chunk_) return Finish(0);
    }
  }

  // False once everything read has been handed out, or on abort.
  bool TakeFull(Chunk* out) {
    if (!control_.WaitFor([&] { return !full_.empty() || done_; })) return false;
    std::lock_guard<std::mutex> lock(control_.mutex());
    if (full_.empty()) return false;
    *out = full_.front();
    full_.pop_front();
    return true;
  }

  void GiveBack(uint8_t* buf) {
    {
      std::lock_guard<std::mutex> lock(control_.mutex());
      empty_.push_back(buf);
    }
    control_.Notify();
  }

  int read_error() const { return read_error_; }

 private:
  void Push(std::deque<Chunk>* queue, Chunk chunk) {
    {
      std::lock_guard<std::mutex> lock(control_.mutex());
      queue->push_back(chunk);
    }
    control_.Notify();
  }

  void Finish(int error) {
    {
      std::lock_guard<std::mutex> lock(control_.mutex());
      read_error_ = error;
      done_ = true;
    }
    control_.Notify();
  }

  Control& control_;
  const size_t chunk_;
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> buffers_;
  std::deque<uint8_t*> empty_;
  std::deque<Chunk> full_;
  bool done_ = false;
  int read_error_ = 0;
};

}  // namespace

Outcome HashStreamed(int fd, size_t chunk, Control& control) {
  Pipeline pipeline(control, chunk);
  if (!pipeline.Allocate()) return Outcome::Failed(ENOMEM, "posix_memalign");
  Digest digest;
  if (!digest.ok()) return Outcome::Failed(ENOMEM, "EVP_DigestInit_ex");

  std::thread reader;
  try {
    reader = std::thread([&] { pipeline.ReadLoop(fd); });
  } catch (const std::system_error& e) {
    return Outcome::Failed(e.code().value(), "pthread_create");
  }
  Outcome outcome;
  bool update_failed = false;
  for (Chunk c; pipeline.TakeFull(&c);) {
    if (!digest.Update(c.data, c.len)) {
      update_failed = true;
      control.Abort();  // stops the reader; reported as EIO below, not as an abort
      break;
    }
    outcome.bytes += c.len;
    pipeline.GiveBack(c.data);
    control.Progress(outcome.bytes);
  }
  reader.join();

  if (update_failed) return Outcome::Failed(EIO, "EVP_DigestUpdate");
  if (control.aborted()) {
    outcome.status = Outcome::kAborted;
    return outcome;
  }
  if (pipeline.read_error() != 0) return Outcome::Failed(pipeline.read_error(), "read");
  outcome.hex = digest.FinalHex();
  if (outcome.hex.empty()) return Outcome::Failed(EIO, "EVP_DigestFinal_ex");
  return outcome;
}

}  // namespace guestkit::sha256
