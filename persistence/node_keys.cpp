#include "persistence/node_keys.hpp"

#include <sodium.h>

#include <atomic>
#include <cerrno>
#include <pthread.h>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace tt::persistence {

std::string to_hex(std::string_view raw) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out(raw.size() * 2, '0');
  for (size_t i = 0; i < raw.size(); ++i) {
    auto b = static_cast<unsigned char>(raw[i]);
    out[2 * i] = hex[b >> 4];
    out[2 * i + 1] = hex[b & 0xf];
  }
  return out;
}

namespace {

void init_sodium() {
  static std::once_flag flag;
  std::call_once(flag, [] {
    if (sodium_init() < 0)
      std::abort();
  });
}

/// Bumped in a forked child, so it never hands out bytes its parent holds too.
std::atomic<uint64_t> fork_generation{0};

/// Random bytes for ids and tokens: the OS CSPRNG (libsodium's
/// randombytes_buf, i.e. getrandom) read 4 KiB at a time per thread, so a
/// node pays one syscall per ~250 ids instead of one per id (a request id per
/// HTTP request). Bytes handed out are wiped from the pool. Any thread.
void fill_random(unsigned char* out, size_t n) {
  struct pool {
    unsigned char bytes[4096];
    size_t used = sizeof(bytes);
    uint64_t generation = 0;
  };
  static std::once_flag atfork;
  std::call_once(atfork, [] {
    pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1); });
  });
  thread_local pool p;
  if (n > sizeof(p.bytes) / 4) {
    randombytes_buf(out, n);
    return;
  }
  auto generation = fork_generation.load(std::memory_order_relaxed);
  if (p.generation != generation || sizeof(p.bytes) - p.used < n) {
    randombytes_buf(p.bytes, sizeof(p.bytes));
    p.used = 0;
    p.generation = generation;
  }
  std::memcpy(out, p.bytes + p.used, n);
  sodium_memzero(p.bytes + p.used, n);
  p.used += n;
}

std::string to_hex(const unsigned char* p, size_t n) {
  return persistence::to_hex(std::string_view{reinterpret_cast<const char*>(p), n});
}

std::string to_b64url(const unsigned char* p, size_t n) {
  std::string out(sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING), '\0');
  sodium_bin2base64(out.data(), out.size(), p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool write_file_atomically(const std::string& path, const std::string& content, std::string* error) {
  auto tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    *error = "cannot create " + tmp + ": " + std::strerror(errno);
    return false;
  }
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size())
            && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot write " + path + ": " + std::strerror(errno);
    return false;
  }
  // Make the rename durable.
  auto slash = path.rfind('/');
  auto dir = slash == std::string::npos ? std::string{"."} : path.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

} // namespace

std::shared_ptr<node_keys> node_keys::load_or_create(const std::string& dir, std::string* error) {
  init_sodium();
  auto path = dir + "/node.key";
  auto keys = std::make_shared<node_keys>();
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    char buf[128] = {0};
    auto n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    std::string hex(buf, n);
    while (!hex.empty() && (hex.back() == '\n' || hex.back() == ' '))
      hex.pop_back();
    size_t bin_len = 0;
    if (hex.size() != 64
        || sodium_hex2bin(keys->key_.data(), keys->key_.size(), hex.data(), hex.size(), nullptr,
                          &bin_len, nullptr)
             != 0
        || bin_len != 32) {
      if (error)
        *error = path + " is malformed (expected 64 hex characters)";
      return nullptr;
    }
    return keys;
  }
  randombytes_buf(keys->key_.data(), keys->key_.size());
  std::string err;
  if (!write_file_atomically(path, to_hex(keys->key_.data(), 32) + "\n", &err)) {
    if (error)
      *error = err;
    return nullptr;
  }
  return keys;
}

std::shared_ptr<node_keys> node_keys::from_secret(std::string_view secret32) {
  init_sodium();
  auto keys = std::make_shared<node_keys>();
  crypto_generichash(keys->key_.data(), 32, reinterpret_cast<const unsigned char*>(secret32.data()),
                     secret32.size(), nullptr, 0);
  return keys;
}

std::string node_keys::keyed_hash(std::string_view domain, std::string_view data) const {
  unsigned char out[32];
  crypto_generichash_state st;
  crypto_generichash_init(&st, key_.data(), key_.size(), sizeof(out));
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(domain.data()), domain.size());
  unsigned char sep = 0;
  crypto_generichash_update(&st, &sep, 1);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  crypto_generichash_final(&st, out, sizeof(out));
  return to_hex(out, sizeof(out));
}

std::string node_keys::derived_id(std::string_view domain, std::string_view data) const {
  unsigned char out[16];
  crypto_generichash_state st;
  crypto_generichash_init(&st, key_.data(), key_.size(), sizeof(out));
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(domain.data()), domain.size());
  unsigned char sep = 0;
  crypto_generichash_update(&st, &sep, 1);
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  crypto_generichash_final(&st, out, sizeof(out));
  return to_b64url(out, sizeof(out));
}

std::string node_keys::seal(std::string_view plaintext) const {
  constexpr size_t nonce_len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  std::string out(nonce_len + plaintext.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(p, nonce_len);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    p + nonce_len, &clen, reinterpret_cast<const unsigned char*>(plaintext.data()),
    plaintext.size(), nullptr, 0, nullptr, p, key_.data());
  out.resize(nonce_len + clen);
  return out;
}

std::optional<std::string> node_keys::open(std::string_view sealed) const {
  constexpr size_t nonce_len = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  if (sealed.size() < nonce_len + crypto_aead_xchacha20poly1305_ietf_ABYTES)
    return std::nullopt;
  std::string out(sealed.size() - nonce_len, '\0');
  unsigned long long mlen = 0;
  auto* s = reinterpret_cast<const unsigned char*>(sealed.data());
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(out.data()),
                                                 &mlen, nullptr, s + nonce_len,
                                                 sealed.size() - nonce_len, nullptr, 0, s,
                                                 key_.data())
      != 0)
    return std::nullopt;
  out.resize(mlen);
  return out;
}

std::string random_id() {
  init_sodium();
  unsigned char buf[16];
  fill_random(buf, sizeof(buf));
  return to_b64url(buf, sizeof(buf));
}

std::string random_token(size_t n) {
  init_sodium();
  std::string bin(n, '\0');
  fill_random(reinterpret_cast<unsigned char*>(bin.data()), n);
  return to_b64url(reinterpret_cast<const unsigned char*>(bin.data()), n);
}

std::string random_hex(size_t n) {
  init_sodium();
  std::string bin(n, '\0');
  fill_random(reinterpret_cast<unsigned char*>(bin.data()), n);
  return to_hex(reinterpret_cast<const unsigned char*>(bin.data()), n);
}

bool is_valid_id(std::string_view id) {
  if (id.size() != 22)
    return false;
  for (char c : id) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_';
    if (!ok)
      return false;
  }
  return true;
}

} // namespace tt::persistence
