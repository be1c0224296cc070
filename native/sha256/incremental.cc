// `new Sha256()`: update(Buffer|TypedArray|string) / digest() → hex. Runs on the JS thread, which is
// fine for the small inputs it is meant for (headers, manifests); large files go through hashFile.
#include <string>

#include "common.h"
#include "sha256/evp.h"
#include "sha256/sha256.h"

namespace guestkit::sha256 {
namespace {

Napi::Error CodedError(Napi::Env env, const char* code, const char* message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  return err;
}

Napi::Error Finalized(Napi::Env env) {
  return CodedError(env, "HASH_FINALIZED", "digest() was already called; create a new hasher");
}

class Sha256 : public Napi::ObjectWrap<Sha256> {
 public:
  static constexpr napi_type_tag kTypeTag = {0x6775657374686173ULL, 0x3235362d696e6372ULL};
  static constexpr const char* kClassName = "Sha256";

  static Napi::Function Define(Napi::Env env) {
    Napi::Function ctor = DefineClass(env, kClassName, {});
    ctor.Get("prototype").As<Napi::Object>().DefineProperties({
        CheckedMethod<Sha256, &Sha256::Update>(env, "update"),
        CheckedMethod<Sha256, &Sha256::DigestHex>(env, "digest"),
    });
    return ctor;
  }

  explicit Sha256(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Sha256>(info) {
    info.This().As<Napi::Object>().TypeTag(&kTypeTag);
    if (!digest_.ok()) {
      throw CodedError(info.Env(), "CRYPTO_ERROR", "OpenSSL could not create a SHA-256 context");
    }
  }

  Napi::Value Update(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (finalized_) throw Finalized(env);
    bool ok = false;
    Napi::Value data = info[0];
    if (data.IsString()) {
      std::string utf8 = data.As<Napi::String>().Utf8Value();
      ok = digest_.Update(utf8.data(), utf8.size());
    } else if (data.IsTypedArray()) {
      Napi::TypedArray view = data.As<Napi::TypedArray>();
      const auto* base = static_cast<const uint8_t*>(view.ArrayBuffer().Data());
      ok = digest_.Update(base + view.ByteOffset(), view.ByteLength());
    } else if (data.IsDataView()) {
      Napi::DataView view = data.As<Napi::DataView>();
      const auto* base = static_cast<const uint8_t*>(view.ArrayBuffer().Data());
      ok = digest_.Update(base + view.ByteOffset(), view.ByteLength());
    } else {
      throw CodedError(env, "ERR_INVALID_ARG_TYPE",
                       "update() takes a string, Buffer, TypedArray or DataView");
    }
    if (!ok) throw CodedError(env, "CRYPTO_ERROR", "OpenSSL SHA-256 update failed");
    return info.This();
  }

  Napi::Value DigestHex(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (finalized_) throw Finalized(env);
    finalized_ = true;
    std::string hex = digest_.FinalHex();
    if (hex.empty()) throw CodedError(env, "CRYPTO_ERROR", "OpenSSL SHA-256 final failed");
    return Napi::String::New(env, hex);
  }

 private:
  Digest digest_;
  bool finalized_ = false;
};

}  // namespace

void InitIncremental(Napi::Env env, Napi::Object exports) { exports.Set("Sha256", Sha256::Define(env)); }

}  // namespace guestkit::sha256
