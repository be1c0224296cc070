// Shared machinery of the libguestfs binding: argument conversion (JS thread), result conversion
// (handle thread → JS thread) and the queue entry point. The generated wrappers in generated/ are
// one-liners over these helpers, so each action costs almost nothing to compile.
#pragma once

#include <guestfs.h>
#include <napi.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace guestkit::gfs {

// ---------- results ----------

// What one call produced, built on the handle thread, turned into JS on the JS thread.
struct Outcome {
  virtual ~Outcome() = default;
  virtual bool Failed() const { return false; }
  virtual Napi::Value ToJs(Napi::Env env) = 0;
};
using OutcomePtr = std::unique_ptr<Outcome>;

// A rejected call: libguestfs' thread-local error state, read on the thread that made the call.
struct Failure : Outcome {
  std::string message;
  int err = 0;
  std::string code;  // overrides the errno name when set (ENOTLAUNCHED, ECLOSED, EKILLED…)
  std::string action;
  bool Failed() const override { return true; }
  Napi::Value ToJs(Napi::Env env) override;
};

OutcomePtr Fail(guestfs_h* g);
std::unique_ptr<Failure> MakeFailure(std::string message, int err, std::string code);

// Builds the error value JS sees (a GuestfsError when lib/guestfs.ts registered its factory).
Napi::Value MakeError(Napi::Env env, const std::string& message, int err, const std::string& code,
                      const std::string& action);

OutcomePtr RetErr(guestfs_h* g, int r);
OutcomePtr RetInt(guestfs_h* g, int r);
OutcomePtr RetBool(guestfs_h* g, int r);
OutcomePtr RetInt64(guestfs_h* g, int64_t r);
OutcomePtr RetString(guestfs_h* g, char* s);
OutcomePtr RetConstString(guestfs_h* g, const char* s);
OutcomePtr RetConstOptString(guestfs_h* g, const char* s);
OutcomePtr RetStringList(guestfs_h* g, char** l);
OutcomePtr RetHashtable(guestfs_h* g, char** l);
OutcomePtr RetBuffer(guestfs_h* g, char* p, size_t n);

// Struct results are described by field tables (generated/structs.cc) and converted generically.
enum class FieldKind : uint8_t { Str, Buf, Uuid, Char, I32, U32, I64, U64, OptPercent };
struct Field {
  const char* name;
  FieldKind kind;
  size_t offset;
  size_t len_offset;  // Buf: offset of the uint32_t length field
};
struct StructDesc {
  const Field* fields;
  size_t count;
  size_t size;  // sizeof one element, to walk lists
};

struct RawStruct : Outcome {
  const StructDesc* desc;
  const void* elems;
  size_t len;
  bool list;
  std::function<void()> release;
  ~RawStruct() override {
    if (release) release();
  }
  Napi::Value ToJs(Napi::Env env) override;
};

template <typename T>
OutcomePtr RetStruct(guestfs_h* g, T* p, const StructDesc& d, void (*free_fn)(T*)) {
  if (!p) return Fail(g);
  auto r = std::make_unique<RawStruct>();
  r->desc = &d;
  r->elems = p;
  r->len = 1;
  r->list = false;
  r->release = [p, free_fn] { free_fn(p); };
  return r;
}

template <typename L>
OutcomePtr RetStructList(guestfs_h* g, L* l, const StructDesc& d, void (*free_fn)(L*)) {
  if (!l) return Fail(g);
  auto r = std::make_unique<RawStruct>();
  r->desc = &d;
  r->elems = l->val;
  r->len = l->len;
  r->list = true;
  r->release = [l, free_fn] { free_fn(l); };
  return r;
}

// ---------- arguments ----------

// A string that may be absent (OptString): c() is NULL when JS passed null/undefined.
struct OptStr {
  bool set = false;
  std::string s;
  const char* c() const { return set ? s.c_str() : nullptr; }
};

// An owned NULL-terminated string list; the pointer array is built where it is used.
struct StrList {
  std::vector<std::string> items;
  mutable std::vector<char*> ptrs;
  char* const* c() const;
};

class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* action) : info_(info), action_(action) {}
  std::string Str(const char* name);
  OptStr OptString(const char* name);
  StrList List(const char* name);
  int Int(const char* name);
  int Bool(const char* name);
  int64_t Int64(const char* name);
  std::string Buf(const char* name);
  Napi::Object Options();  // the trailing options object ({} when omitted)
  Napi::Env Env() const { return info_.Env(); }
  const char* Action() const { return action_; }

 private:
  Napi::Value Next(const char* name);
  const Napi::CallbackInfo& info_;
  const char* action_;
  size_t i_ = 0;
};

[[noreturn]] void ThrowArg(Napi::Env env, const char* action, const std::string& what);
// Integer arguments are never truncated: a 32-bit one must be an integer number in int range; a
// 64-bit one a safe integer number or a bigint that fits int64_t. Anything else is EINVAL.
int64_t CheckedInteger(Napi::Env env, const char* action, const std::string& what, Napi::Value v, bool wide);
void CheckOptionKeys(Args& a, Napi::Object obj, std::initializer_list<const char*> known);

// Fills one optargs struct: only the keys present set their bit in the bitmask.
template <typename Argv>
struct Optargs {
  Argv v{};
  std::deque<std::string> strs;
  std::deque<StrList> lists;
};

template <typename Argv>
class OptReader {
 public:
  OptReader(Args& a, Optargs<Argv>& o) : a_(a), o_(o), obj_(a.Options()) {}
  void Bool(const char* key, uint64_t bit, int& dst) {
    if (Napi::Value v = Get(key, bit); !v.IsEmpty()) {
      if (!v.IsBoolean()) Bad(key, "a boolean");
      dst = v.As<Napi::Boolean>().Value() ? 1 : 0;
    }
  }
  void Int(const char* key, uint64_t bit, int& dst) {
    if (Napi::Value v = Get(key, bit); !v.IsEmpty()) dst = static_cast<int>(Checked(key, v, false));
  }
  void Int64(const char* key, uint64_t bit, int64_t& dst) {
    if (Napi::Value v = Get(key, bit); !v.IsEmpty()) dst = Checked(key, v, true);
  }
  void Str(const char* key, uint64_t bit, const char*& dst) {
    if (Napi::Value v = Get(key, bit); !v.IsEmpty()) {
      if (!v.IsString()) Bad(key, "a string");
      dst = o_.strs.emplace_back(v.As<Napi::String>().Utf8Value()).c_str();
    }
  }
  void List(const char* key, uint64_t bit, char* const*& dst) {
    if (Napi::Value v = Get(key, bit); !v.IsEmpty()) {
      if (!v.IsArray()) Bad(key, "an array of strings");
      auto& l = o_.lists.emplace_back();
      auto arr = v.As<Napi::Array>();
      for (uint32_t i = 0; i < arr.Length(); i++) {
        Napi::Value e = arr.Get(i);
        if (!e.IsString()) Bad(key, "an array of strings");
        l.items.push_back(e.As<Napi::String>().Utf8Value());
      }
      dst = l.c();  // the deque never relocates l, so the pointers stay valid for the call
    }
  }
  // Rejects unknown keys: a typo would otherwise be silently ignored.
  void Finish(std::initializer_list<const char*> known) { CheckOptionKeys(a_, obj_, known); }

 private:
  Napi::Value Get(const char* key, uint64_t bit) {
    Napi::Value v = obj_.Get(key);
    if (v.IsUndefined()) return Napi::Value();
    o_.v.bitmask |= bit;
    return v;
  }
  int64_t Checked(const char* key, Napi::Value v, bool wide) {
    return CheckedInteger(a_.Env(), a_.Action(), std::string("option '") + key + "'", v, wide);
  }
  [[noreturn]] void Bad(const char* key, const char* want) {
    ThrowArg(a_.Env(), a_.Action(), std::string("option '") + key + "' must be " + want);
  }
  Args& a_;
  Optargs<Argv>& o_;
  Napi::Object obj_;
};

// ---------- queue ----------

using Call = std::function<OutcomePtr(guestfs_h*)>;

// Queues fn on the handle of info.This(); returns the Promise of its result.
Napi::Value Submit(const Napi::CallbackInfo& info, const char* action, Call fn);

// One entry of the generated action table.
struct Action {
  const char* name;
  Napi::Value (*fn)(const Napi::CallbackInfo&);
};

}  // namespace guestkit::gfs
