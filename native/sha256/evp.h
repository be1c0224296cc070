// RAII over Node's bundled OpenSSL EVP digest API. The addon links no libcrypto of its own: the
// `node` binary exports these symbols, so hashing uses the same (SHA-NI/AVX2-tuned) code as Node.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <string>

namespace guestkit::sha256 {

struct EvpCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using EvpCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpCtxFree>;

// One SHA-256 computation. Not thread-safe: one owner at a time.
class Digest {
 public:
  Digest() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) ctx_.reset();
  }
  bool ok() const { return ctx_ != nullptr; }
  bool Update(const void* data, size_t len) {
    return ctx_ && EVP_DigestUpdate(ctx_.get(), data, len) == 1;
  }
  // Finishes the digest and returns lowercase hex ("" on failure). The context is spent afterwards.
  std::string FinalHex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx_ || EVP_DigestFinal_ex(ctx_.get(), md, &len) != 1) return {};
    ctx_.reset();
    static const char kHex[] = "0123456789abcdef";
    std::string hex(len * 2, '0');
    for (unsigned int i = 0; i < len; i++) {
      hex[2 * i] = kHex[md[i] >> 4];
      hex[2 * i + 1] = kHex[md[i] & 0xf];
    }
    return hex;
  }

 private:
  EvpCtxPtr ctx_;
};

}  // namespace guestkit::sha256
