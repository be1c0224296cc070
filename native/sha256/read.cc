// Reader thread + hashing thread over a few reused page-aligned buffers: the reader fills one with
// read(2)/pread(2) while the hasher digests another, so neither waits for the other at a
// handover and the copy out of the page cache runs beside the digest instead of before it. This
// holds on any host (no page faults, which virtualised hosts make dear), and the same pipeline
// serves pipes (non-blocking fd + poll on the abort eventfd, so a stalled writer cannot hold an
// abort) and O_DIRECT reads of files larger than memory.
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <vector>

#include "sha256/control.h"
#include "sha256/evp.h"

namespace guestkit::sha256 {
namespace {

constexpr size_t kAlign = 4096;

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
  Pipeline(Control& control, const Params& params) : control_(control), chunk_(params.chunk), count_(params.buffers) {}

  bool Allocate() {
    for (int i = 0; i < count_; i++) {
      void* p = nullptr;
      if (posix_memalign(&p, kAlign, chunk_) != 0) return false;
      buffers_.emplace_back(static_cast<uint8_t*>(p));
      empty_.push_back(buffers_.back().get());
    }
    return true;
  }

  // kRead: to EOF. A FIFO opened non-blocking reads 0 both at EOF and before any writer came, so
  // there a 0 is only believed once poll reports the hang-up; EAGAIN waits in poll. Both waits also
  // end on abort, which is what lets an abort of a stalled pipe settle.
  void ReadLoop(int fd, bool fifo) {
    for (;;) {
      uint8_t* buf = TakeEmpty();
      if (buf == nullptr) return;
      size_t filled = 0;
      bool eof = false;
      while (filled < chunk_ && !eof) {
        ssize_t n = read(fd, buf + filled, chunk_ - filled);
        if (n > 0) {
          filled += static_cast<size_t>(n);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno != EAGAIN) return Finish(errno, "read");
        if (n == 0 && !fifo) {
          eof = true;
          break;
        }
        // Hand over what we have before waiting, so a trickling pipe still makes progress.
        if (filled > 0 && n < 0) break;
        int revents = control_.WaitReadable(fd);
        if (revents == Control::kWaitAborted) return Finish(0, "");
        if (revents == Control::kWaitFailed) return Finish(errno, "poll");
        if (n == 0 && !(revents & POLLIN)) eof = (revents & (POLLHUP | POLLERR | POLLNVAL)) != 0;
      }
      if (filled > 0) {
        Push({buf, filled});
      } else {
        GiveBack(buf);
      }
      if (eof) return Finish(0, "");
    }
  }

  // kPread / kDirect: exactly `size` bytes from offset 0; EOF before that means the file shrank.
  void PreadLoop(int fd, uint64_t start, uint64_t size, bool direct) {
    for (uint64_t off = start; off < size;) {
      uint8_t* buf = TakeEmpty();
      if (buf == nullptr) return;
      size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_, size - off));
      size_t filled = 0;
      while (filled < want) {
        // O_DIRECT needs block-aligned lengths: ask for whole pages and keep what lies below `size`.
        size_t ask = want - filled;
        if (direct) ask = (ask + kAlign - 1) / kAlign * kAlign;
        ssize_t n = pread(fd, buf + filled, ask, static_cast<off_t>(off + filled));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EINVAL && direct) {
          // The file system takes no O_DIRECT (tmpfs, some FUSE): read through the page cache.
          direct = false;
          used_direct_ = false;
          fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT);
          continue;
        }
        if (n < 0) return Finish(errno, "read");
        if (n == 0) return Finish(EIO, "read");  // shrank under us
        filled = std::min(want, filled + static_cast<size_t>(n));
        if (direct && filled % kAlign != 0 && filled < want) return Finish(EIO, "read");
      }
      Push({buf, filled});
      off += filled;
      if (control_.aborted()) return Finish(0, "");
    }
    Finish(0, "");
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

  void set_direct(bool direct) { used_direct_ = direct; }
  bool used_direct() const { return used_direct_; }
  int read_error() const { return read_error_; }
  const char* read_syscall() const { return read_syscall_; }

 private:
  uint8_t* TakeEmpty() {
    if (!control_.WaitFor([&] { return !empty_.empty(); })) return nullptr;
    std::lock_guard<std::mutex> lock(control_.mutex());
    uint8_t* buf = empty_.front();
    empty_.pop_front();
    return buf;
  }

  void Push(Chunk chunk) {
    {
      std::lock_guard<std::mutex> lock(control_.mutex());
      full_.push_back(chunk);
    }
    control_.Notify();
  }

  void Finish(int error, const char* syscall) {
    {
      std::lock_guard<std::mutex> lock(control_.mutex());
      read_error_ = error;
      read_syscall_ = syscall;
      done_ = true;
    }
    control_.Notify();
  }

  Control& control_;
  const size_t chunk_;
  const int count_;
  std::vector<std::unique_ptr<uint8_t, FreeDeleter>> buffers_;
  std::deque<uint8_t*> empty_;
  std::deque<Chunk> full_;
  bool done_ = false;
  bool used_direct_ = false;
  int read_error_ = 0;
  const char* read_syscall_ = "";
};

}  // namespace

Outcome HashRead(int fd, uint64_t size, bool fifo, Strategy mode, const Params& params, Control& control,
                 uint64_t start, Digest* resume) {
  Pipeline pipeline(control, params);
  if (!pipeline.Allocate()) return Outcome::Failed(ENOMEM, "posix_memalign");
  // A hand-over from HashCached brings its digest; only a fresh hash makes one.
  std::optional<Digest> own;
  if (resume == nullptr) own.emplace();
  Digest& digest = resume != nullptr ? *resume : *own;
  if (!digest.ok()) return Outcome::Failed(ENOMEM, "EVP_DigestInit_ex");
  bool direct = mode == Strategy::kDirect && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_DIRECT) == 0;
  pipeline.set_direct(direct);

  std::thread reader;
  try {
    reader = std::thread([&] {
      pthread_setname_np(pthread_self(), "gk-sha256-rd");
      if (mode == Strategy::kRead) pipeline.ReadLoop(fd, fifo);
      else pipeline.PreadLoop(fd, start, size, direct);
    });
  } catch (const std::system_error& e) {
    return Outcome::Failed(e.code().value(), "pthread_create");
  }
  Outcome outcome;
  outcome.bytes = start;
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

  outcome.used = mode == Strategy::kRead ? Strategy::kRead : pipeline.used_direct() ? Strategy::kDirect : Strategy::kPread;
  if (update_failed) return Outcome::Failed(EIO, "EVP_DigestUpdate");
  if (control.aborted()) {
    outcome.status = Outcome::kAborted;
    return outcome;
  }
  if (pipeline.read_error() != 0) return Outcome::Failed(pipeline.read_error(), pipeline.read_syscall());
  outcome.hex = digest.FinalHex();
  if (outcome.hex.empty()) return Outcome::Failed(EIO, "EVP_DigestFinal_ex");
  return outcome;
}

}  // namespace guestkit::sha256
