// Hashing a regular file straight from its page-cache pages. A prefetch thread keeps the pages
// ahead of the hasher resident and mapped (MADV_POPULATE_READ; it waits on I/O so the hasher does
// not), and the hasher unmaps what it has hashed so a 100 GiB image never holds 100 GiB worth of
// page tables. Without the copy read(2) makes, one core hashes at nearly `openssl speed` rate.
#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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

}  // namespace

Outcome HashMapped(int fd, uint64_t size, size_t chunk, Control& control) {
  Outcome outcome;
  if (!InstallBusGuard()) return Outcome::NotMappable();
  void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return Outcome::NotMappable();
  Mapping mapping(static_cast<uint8_t*>(p), size);
  madvise(p, size, MADV_SEQUENTIAL);
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
    uint64_t len = std::min<uint64_t>(chunk, size - outcome.bytes);
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

}  // namespace guestkit::sha256
