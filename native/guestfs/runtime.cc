// Argument and result conversion shared by every generated action wrapper.
#include "guestfs/runtime.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace guestkit::gfs {

// ---------- errors ----------

namespace {
// lib/guestfs.ts registers a factory so rejections are real GuestfsError instances. Kept per
// environment (worker_threads load the addon into several), never in the addon's instance data
// slot, which belongs to the module as a whole.
std::mutex factories_mutex;
std::unordered_map<napi_env, Napi::FunctionReference*> factories;

void DropFactory(void* arg) {
  auto env = static_cast<napi_env>(arg);
  std::lock_guard<std::mutex> lock(factories_mutex);
  auto it = factories.find(env);
  if (it == factories.end()) return;
  delete it->second;
  factories.erase(it);
}

std::string ErrnoName(int err) {
  if (err == 0) return "EGUESTFS";
  const char* n = strerrorname_np(err);
  return n ? n : "E" + std::to_string(err);
}
}  // namespace

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsFunction()) throw Napi::TypeError::New(env, "setErrorFactory(fn) needs a function");
  std::lock_guard<std::mutex> lock(factories_mutex);
  auto& slot = factories[env];
  if (!slot) napi_add_env_cleanup_hook(env, DropFactory, env);
  delete slot;
  slot = new Napi::FunctionReference(Napi::Persistent(info[0].As<Napi::Function>()));
  return env.Undefined();
}

Napi::Value MakeError(Napi::Env env, const std::string& message, int err, const std::string& code,
                      const std::string& action) {
  std::string c = code.empty() ? ErrnoName(err) : code;
  Napi::FunctionReference* factory = nullptr;
  {
    std::lock_guard<std::mutex> lock(factories_mutex);
    auto it = factories.find(env);
    if (it != factories.end()) factory = it->second;
  }
  if (factory) {
    return factory->Call({Napi::String::New(env, message), Napi::Number::New(env, err),
                          Napi::String::New(env, c), Napi::String::New(env, action)});
  }
  Napi::Object e = Napi::Error::New(env, message).Value();
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("code", Napi::String::New(env, c));
  e.Set("action", Napi::String::New(env, action));
  return e;
}

Napi::Value Failure::ToJs(Napi::Env env) { return MakeError(env, message, err, code, action); }

std::unique_ptr<Failure> MakeFailure(std::string message, int err, std::string code) {
  auto f = std::make_unique<Failure>();
  f->message = std::move(message);
  f->err = err;
  f->code = std::move(code);
  return f;
}

OutcomePtr Fail(guestfs_h* g) {
  const char* msg = guestfs_last_error(g);
  int err = guestfs_last_errno(g);
  std::string m = msg ? msg : "libguestfs call failed without an error message";
  std::string code;
  // libguestfs reports state errors without an errno; give callers something to switch on.
  if (m.find("call launch before using this function") != std::string::npos) code = "ENOTLAUNCHED";
  else if (m.find("function should only be called before launch") != std::string::npos) code = "ELAUNCHED";
  return MakeFailure(std::move(m), err, std::move(code));
}

// ---------- scalar results ----------

namespace {
struct Value : Outcome {
  enum Kind { Undefined, Number, BigInt, Boolean, String, Null } kind;
  double num = 0;
  int64_t wide = 0;
  std::string str;
  explicit Value(Kind k) : kind(k) {}
  Napi::Value ToJs(Napi::Env env) override {
    switch (kind) {
      case Number: return Napi::Number::New(env, num);
      case BigInt: return Napi::BigInt::New(env, wide);
      case Boolean: return Napi::Boolean::New(env, num != 0);
      case String: return Napi::String::New(env, str);
      case Null: return env.Null();
      default: return env.Undefined();
    }
  }
};

OutcomePtr Num(double n, Value::Kind k = Value::Number) {
  auto v = std::make_unique<Value>(k);
  v->num = n;
  return v;
}

OutcomePtr Str(const char* s, size_t n) {
  auto v = std::make_unique<Value>(Value::String);
  v->str.assign(s, n);
  return v;
}

struct List : Outcome {
  std::vector<std::string> items;
  bool hash = false;
  Napi::Value ToJs(Napi::Env env) override {
    if (hash) {
      Napi::Object o = Napi::Object::New(env);
      for (size_t i = 0; i + 1 < items.size(); i += 2) o.Set(items[i], items[i + 1]);
      return o;
    }
    Napi::Array a = Napi::Array::New(env, items.size());
    for (size_t i = 0; i < items.size(); i++) a.Set(i, items[i]);
    return a;
  }
};

struct Bytes : Outcome {
  char* p;
  size_t n;
  Bytes(char* p_, size_t n_) : p(p_), n(n_) {}
  ~Bytes() override { free(p); }
  Napi::Value ToJs(Napi::Env env) override { return Napi::Buffer<char>::Copy(env, p, n); }
};

OutcomePtr TakeList(char** l, bool hash) {
  auto r = std::make_unique<List>();
  r->hash = hash;
  for (char** p = l; *p; p++) {
    r->items.emplace_back(*p);
    free(*p);
  }
  free(l);
  return r;
}
}  // namespace

OutcomePtr RetErr(guestfs_h* g, int r) { return r == -1 ? Fail(g) : std::make_unique<Value>(Value::Undefined); }
OutcomePtr RetInt(guestfs_h* g, int r) { return r == -1 ? Fail(g) : Num(r); }
OutcomePtr RetBool(guestfs_h* g, int r) { return r == -1 ? Fail(g) : Num(r, Value::Boolean); }
// 64-bit results are bigints (sizes, offsets and bitmasks pass 2^53); 32-bit ones numbers.
OutcomePtr RetInt64(guestfs_h* g, int64_t r) {
  if (r == -1) return Fail(g);
  auto v = std::make_unique<Value>(Value::BigInt);
  v->wide = r;
  return v;
}

OutcomePtr RetString(guestfs_h* g, char* s) {
  if (!s) return Fail(g);
  OutcomePtr r = Str(s, strlen(s));
  free(s);
  return r;
}
OutcomePtr RetConstString(guestfs_h* g, const char* s) { return s ? Str(s, strlen(s)) : Fail(g); }
OutcomePtr RetConstOptString(guestfs_h*, const char* s) {
  return s ? Str(s, strlen(s)) : std::make_unique<Value>(Value::Null);
}
OutcomePtr RetStringList(guestfs_h* g, char** l) { return l ? TakeList(l, false) : Fail(g); }
OutcomePtr RetHashtable(guestfs_h* g, char** l) { return l ? TakeList(l, true) : Fail(g); }
OutcomePtr RetBuffer(guestfs_h* g, char* p, size_t n) {
  if (!p) return Fail(g);
  return std::make_unique<Bytes>(p, n);
}

// ---------- struct results ----------

namespace {
Napi::Object StructToJs(Napi::Env env, const StructDesc& d, const char* base) {
  Napi::Object o = Napi::Object::New(env);
  for (size_t i = 0; i < d.count; i++) {
    const Field& f = d.fields[i];
    const char* at = base + f.offset;
    Napi::Value v;
    switch (f.kind) {
      case FieldKind::Str: {
        const char* s = *reinterpret_cast<char* const*>(at);
        v = s ? Napi::String::New(env, s) : env.Null();
        break;
      }
      case FieldKind::Buf: {
        const char* p = *reinterpret_cast<char* const*>(at);
        uint32_t n = *reinterpret_cast<const uint32_t*>(base + f.len_offset);
        v = Napi::Buffer<char>::Copy(env, p ? p : "", p ? n : 0);
        break;
      }
      case FieldKind::Uuid: v = Napi::String::New(env, at, 32); break;  // not NUL-terminated
      case FieldKind::Char: v = Napi::String::New(env, at, 1); break;
      case FieldKind::I32: v = Napi::Number::New(env, *reinterpret_cast<const int32_t*>(at)); break;
      case FieldKind::U32: v = Napi::Number::New(env, *reinterpret_cast<const uint32_t*>(at)); break;
      case FieldKind::I64: v = Napi::BigInt::New(env, *reinterpret_cast<const int64_t*>(at)); break;
      case FieldKind::U64: v = Napi::BigInt::New(env, *reinterpret_cast<const uint64_t*>(at)); break;
      case FieldKind::OptPercent: {
        float p = *reinterpret_cast<const float*>(at);
        v = p < 0 ? env.Null() : Napi::Number::New(env, p);  // -1 means "not applicable"
        break;
      }
    }
    o.Set(f.name, v);
  }
  return o;
}
}  // namespace

Napi::Value RawStruct::ToJs(Napi::Env env) {
  auto base = static_cast<const char*>(elems);
  if (!list) return StructToJs(env, *desc, base);
  Napi::Array a = Napi::Array::New(env, len);
  for (size_t i = 0; i < len; i++) a.Set(i, StructToJs(env, *desc, base + i * desc->size));
  return a;
}

// ---------- arguments ----------

char* const* StrList::c() const {
  ptrs.clear();
  for (auto& s : items) ptrs.push_back(const_cast<char*>(s.c_str()));
  ptrs.push_back(nullptr);
  return ptrs.data();
}

void ThrowArg(Napi::Env env, const char* action, const std::string& what) {
  throw Napi::Error(env, MakeError(env, std::string(action) + ": " + what, EINVAL, "EINVAL", action));
}

Napi::Value Args::Next(const char* name) { return info_[i_++]; }

std::string Args::Str(const char* name) {
  Napi::Value v = Next(name);
  if (!v.IsString()) ThrowArg(Env(), action_, std::string("argument '") + name + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

OptStr Args::OptString(const char* name) {
  Napi::Value v = Next(name);
  OptStr o;
  if (v.IsNull() || v.IsUndefined()) return o;
  if (!v.IsString()) ThrowArg(Env(), action_, std::string("argument '") + name + "' must be a string or null");
  o.set = true;
  o.s = v.As<Napi::String>().Utf8Value();
  return o;
}

StrList Args::List(const char* name) {
  Napi::Value v = Next(name);
  std::string bad = std::string("argument '") + name + "' must be an array of strings";
  if (!v.IsArray()) ThrowArg(Env(), action_, bad);
  StrList l;
  auto arr = v.As<Napi::Array>();
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value e = arr.Get(i);
    if (!e.IsString()) ThrowArg(Env(), action_, bad);
    l.items.push_back(e.As<Napi::String>().Utf8Value());
  }
  return l;
}

int64_t CheckedInteger(Napi::Env env, const char* action, const std::string& what, Napi::Value v, bool wide) {
  if (wide && v.IsBigInt()) {
    bool lossless = false;
    int64_t out = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) ThrowArg(env, action, what + " must fit in 64 bits (got " + v.ToString().Utf8Value() + "n)");
    return out;
  }
  if (!v.IsNumber()) ThrowArg(env, action, what + (wide ? " must be an integer (number or bigint)" : " must be an integer"));
  double d = v.As<Napi::Number>().DoubleValue();
  // A number beyond 2^53 has already lost digits in JS: 64-bit values that large come as bigints.
  const double hi = wide ? 9007199254740991.0 : 2147483647.0;
  const double lo = wide ? -hi : -2147483648.0;
  if (!std::isfinite(d) || std::trunc(d) != d || d < lo || d > hi) {
    ThrowArg(env, action,
             what + (wide ? " must be a safe integer (a bigint beyond 2^53)" : " must be an integer from -2147483648 to 2147483647") +
                 " (got " + v.ToString().Utf8Value() + ")");
  }
  return static_cast<int64_t>(d);
}

int Args::Int(const char* name) {
  return static_cast<int>(CheckedInteger(Env(), action_, std::string("argument '") + name + "'", Next(name), false));
}

int Args::Bool(const char* name) {
  Napi::Value v = Next(name);
  if (!v.IsBoolean()) ThrowArg(Env(), action_, std::string("argument '") + name + "' must be a boolean");
  return v.As<Napi::Boolean>().Value() ? 1 : 0;
}

int64_t Args::Int64(const char* name) {
  return CheckedInteger(Env(), action_, std::string("argument '") + name + "'", Next(name), true);
}

std::string Args::Buf(const char* name) {
  Napi::Value v = Next(name);
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowArg(Env(), action_, std::string("argument '") + name + "' must be a Buffer, Uint8Array or string");
  auto u = v.As<Napi::Uint8Array>();
  return std::string(reinterpret_cast<const char*>(u.Data()), u.ByteLength());
}

Napi::Object Args::Options() {
  Napi::Value v = Next("options");
  if (v.IsUndefined() || v.IsNull()) return Napi::Object::New(Env());
  if (!v.IsObject() || v.IsArray()) ThrowArg(Env(), action_, "the options argument must be an object");
  return v.As<Napi::Object>();
}

void CheckOptionKeys(Args& a, Napi::Object obj, std::initializer_list<const char*> known) {
  Napi::Array keys = obj.GetPropertyNames();
  for (uint32_t i = 0; i < keys.Length(); i++) {
    std::string k = keys.Get(i).ToString().Utf8Value();
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok && !obj.Get(k).IsUndefined()) ThrowArg(a.Env(), a.Action(), "unknown option '" + k + "'");
  }
}

}  // namespace guestkit::gfs
