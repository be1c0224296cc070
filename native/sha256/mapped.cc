// Hashing a regular file straight from its page-cache pages, without the copy read(2) makes. Two
// ways, both measured by `npm run bench -- hash`:
// - one mapping of the whole file (MADV_SEQUENTIAL, optionally MADV_HUGEPAGE); a prefetch thread
//   keeps the pages ahead of the hasher resident and mapped (MADV_POPULATE_READ; it waits on I/O
//   so the hasher does not), and the hasher unmaps what it has hashed so a 100 GiB image never
//   holds 100 GiB worth of page tables;
// - windows mapped with MAP_POPULATE by a helper thread, two ahead of the hasher.
// Either is fast only where page faults are cheap (they are dear on virtualised hosts), which is
// why `auto` reads instead (read.cc).
#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <deque>
#include <system_error>
#include <thread>

#include "sha256/bus_guard.h"
#include "sha256/control.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif

namespace guestkit::sha256 {
namespace {

constexpr uint64_t kPrefetchStep = 4ull << 20;
constexpr uint64_t kPrefetchLead = 64ull << 20;  // how far ahead of the hasher pages are made ready
constexpr uint64_t kUnmapStep = 64ull << 20;
constexpr uint64_t kWindow = 16ull << 20;  // MAP_POPULATE windows
constexpr size_t kWindowsAhead = 2;

// Owns the part of the mapping not yet given back.
class Mapping {
 public:
  Mapping(uint8_t* base, uint64_t size) : base_(base), size_(size) {}
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { ReleaseBelow(size_); }

  uint8_t* base() const { return base_; }

  // Unmaps [released, end) (end rounded down to a page) once it is no longer needed.
  void ReleaseBelow(uint64_t end) {
    end = end == size_ ? size_ : end & ~uint64_t{4095};
    if (end <= released_) return;
    munmap(base_ + released_, end - released_);
    released_ = end;
  }

 private:
  uint8_t* const base_;
  const uint64_t size_;
  uint64_t released_ = 0;
};

void Prefetch(uint8_t* base, uint64_t size, const std::atomic<uint64_t>& hashed,
              const std::atomic<bool>& stop, Control& control) {
  pthread_setname_np(pthread_self(), "gk-sha256-pf");
  int advice = MADV_POPULATE_READ;
  for (uint64_t off = 0; off < size && !stop;) {
    // Never work on what the hasher has already passed (and may have unmapped).
    off = std::max(off, hashed.load() & ~uint64_t{4095});
    if (!control.WaitFor([&] { return stop || off < hashed.load() + kPrefetchLead; }) || stop) return;
    uint64_t len = std::min(kPrefetchStep, size - off);
    if (madvise(base + off, len, advice) != 0) {
      if (errno == EINVAL && advice == MADV_POPULATE_READ) {
        advice = MADV_WILLNEED;  // older kernel: asynchronous readahead, the hasher takes the faults
        continue;
      }
      if (errno == EFAULT || errno == EIO) return;  // file shrank or I/O error: the hasher will see it
    }
    off += len;
  }
}

Outcome HashWholeMapping(int fd, uint64_t size, const Params& params, Control& control) {
  Outcome outcome;
  void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Outcome::NotMappable();
  Mapping mapping(static_cast<uint8_t*>(p), size);
  madvise(p, size, MADV_SEQUENTIAL);
  if (params.strategy == Strategy::kMmapHuge) madvise(p, size, MADV_HUGEPAGE);  // advisory
  Digest digest;
  if (!digest.ok()) return Outcome::Failed(ENOMEM, "EVP_DigestInit_ex");

  std::atomic<uint64_t> hashed{0};
  std::atomic<bool> stop{false};
  std::thread prefetcher;
  try {
    prefetcher = std::thread([&] { Prefetch(mapping.base(), size, hashed, stop, control); });
  } catch (const std::system_error& e) {
    return Outcome::Failed(e.code().value(), "pthread_create");
  }
  bool vanished = false;
  while (outcome.bytes < size && !control.aborted()) {
    uint64_t len = std::min<uint64_t>(params.chunk, size - outcome.bytes);
    if (!GuardedUpdate(digest, mapping.base() + outcome.bytes, len)) {
      vanished = true;
      break;
    }
    outcome.bytes += len;
    hashed = outcome.bytes;
    control.Notify();
    if (outcome.bytes % kUnmapStep < len) mapping.ReleaseBelow(outcome.bytes);
    control.Progress(outcome.bytes);
  }
  stop = true;
  control.Notify();
  prefetcher.join();

  // SIGBUS: the file was truncated under us or the device failed a read.
  if (vanished) return Outcome::Failed(EIO, "read");
  if (control.aborted()) {
    outcome.status = Outcome::kAborted;
    return outcome;
  }
  outcome.hex = digest.FinalHex();
  if (outcome.hex.empty()) return Outcome::Failed(EIO, "EVP_DigestFinal_ex");
  return outcome;
}

struct Window {
  uint8_t* base;
  uint64_t len;
};

Outcome HashPopulatedWindows(int fd, uint64_t size, const Params& params, Control& control) {
  Outcome outcome;
  Digest digest;
  if (!digest.ok()) return Outcome::Failed(ENOMEM, "EVP_DigestInit_ex");
  std::deque<Window> ready;  // guarded by control.mutex()
  bool done = false;
  int map_error = 0;
  bool stop = false;

  std::thread mapper;
  try {
    mapper = std::thread([&] {
      pthread_setname_np(pthread_self(), "gk-sha256-map");
      for (uint64_t off = 0; off < size;) {
        if (!control.WaitFor([&] { return stop || ready.size() < kWindowsAhead; }) || stop) break;
        uint64_t len = std::min(kWindow, size - off);
        void* w = mmap(nullptr, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, static_cast<off_t>(off));
        int error = errno;
        {
          std::lock_guard<std::mutex> lock(control.mutex());
          if (w == MAP_FAILED) {
            map_error = error;
            break;
          }
          ready.push_back({static_cast<uint8_t*>(w), len});
        }
        off += len;
        control.Notify();
      }
      {
        std::lock_guard<std::mutex> lock(control.mutex());
        done = true;
      }
      control.Notify();
    });
  } catch (const std::system_error& e) {
    return Outcome::Failed(e.code().value(), "pthread_create");
  }

  bool vanished = false;
  while (outcome.bytes < size && !vanished) {
    Window w;
    if (!control.WaitFor([&] { return !ready.empty() || done; })) break;
    {
      std::lock_guard<std::mutex> lock(control.mutex());
      if (ready.empty()) break;  // mapper gave up (map_error)
      w = ready.front();
      ready.pop_front();
    }
    control.Notify();
    for (uint64_t off = 0; off < w.len && !control.aborted();) {
      uint64_t len = std::min<uint64_t>(params.chunk, w.len - off);
      if (!GuardedUpdate(digest, w.base + off, len)) {
        vanished = true;
        break;
      }
      off += len;
      outcome.bytes += len;
      control.Progress(outcome.bytes);
    }
    munmap(w.base, w.len);
    if (control.aborted()) break;
  }
  {
    std::lock_guard<std::mutex> lock(control.mutex());
    stop = true;
  }
  control.Notify();
  mapper.join();
  for (const Window& w : ready) munmap(w.base, w.len);

  if (vanished) return Outcome::Failed(EIO, "read");
  if (control.aborted()) {
    outcome.status = Outcome::kAborted;
    return outcome;
  }
  if (outcome.bytes < size) {
    return outcome.bytes == 0 ? Outcome::NotMappable() : Outcome::Failed(map_error, "mmap");
  }
  outcome.hex = digest.FinalHex();
  if (outcome.hex.empty()) return Outcome::Failed(EIO, "EVP_DigestFinal_ex");
  return outcome;
}

}  // namespace

Outcome HashMapped(int fd, uint64_t size, const Params& params, Control& control) {
  if (!InstallBusGuard()) return Outcome::NotMappable();
  Outcome outcome = params.strategy == Strategy::kMmapPopulate
                        ? HashPopulatedWindows(fd, size, params, control)
                        : HashWholeMapping(fd, size, params, control);
  outcome.used = params.strategy;
  return outcome;
}

}  // namespace guestkit::sha256
