#include "nodes/passwords.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <sodium.h>

#include <stdexcept>

namespace tt::nodes {

std::string hash_password(const std::string& password, const password_cost& cost) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, password.data(), password.size(), cost.ops, cost.mem_bytes,
                            crypto_pwhash_ALG_ARGON2ID13)
      != 0)
    return {};  // out of memory
  return out;
}

bool verify_password(const std::string& phc_hash, const std::string& password) {
  if (phc_hash.empty() || phc_hash.size() >= crypto_pwhash_STRBYTES)
    return false;
  return crypto_pwhash_str_verify(phc_hash.c_str(), password.data(), password.size()) == 0;
}

struct password_hasher::impl {
  boost::asio::thread_pool pool;
  password_cost cost;
  std::string dummy;
  impl(unsigned threads, password_cost c) : pool(threads), cost(c) {}
};

password_hasher::password_hasher(unsigned threads, password_cost cost)
  : impl_(std::make_unique<impl>(std::max(1u, threads), cost)) {
  if (sodium_init() < 0)
    throw std::runtime_error("libsodium failed to initialise");
  unsigned char random[16];
  randombytes_buf(random, sizeof(random));
  impl_->dummy = hash_password(std::string(reinterpret_cast<char*>(random), sizeof(random)), cost);
}

password_hasher::~password_hasher() { shutdown(); }

void password_hasher::shutdown() {
  impl_->pool.stop();
  impl_->pool.join();
}

void password_hasher::hash(std::string password, std::function<void(std::string)> done) {
  boost::asio::post(impl_->pool, [this, pw = std::move(password), done = std::move(done)] {
    done(hash_password(pw, impl_->cost));
  });
}

void password_hasher::verify(std::string phc_hash, std::string password,
                             std::function<void(bool)> done) {
  boost::asio::post(impl_->pool, [this, h = std::move(phc_hash), pw = std::move(password),
                                   done = std::move(done)] {
    if (h.empty()) {
      verify_password(impl_->dummy, pw);
      done(false);
      return;
    }
    done(verify_password(h, pw));
  });
}

} // namespace tt::nodes
