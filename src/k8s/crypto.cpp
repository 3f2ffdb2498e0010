#include "k8s/crypto.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/token.hpp"
#include "k8s/base64.hpp"

namespace kiln::k8s {

namespace {

constexpr unsigned char kVersion = 0x01;
constexpr std::size_t kNonce = 12;
constexpr std::size_t kTag = 16;
constexpr std::size_t kKey = 32;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

std::string trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

std::optional<std::string> from_hex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = nibble(s[i]);
    const int lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

bool valid_key_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string default_key_id(const std::string& key) { return "k-" + core::sha256_hex(key).substr(0, 12); }

}  // namespace

KeyRing::KeyRing(std::vector<MasterKey> keys) : keys_(std::move(keys)) {
  if (keys_.empty()) throw CryptoError("no master key");
  for (const auto& k : keys_) {
    if (k.bytes.size() != kKey) throw CryptoError("master key " + k.id + " is not 32 bytes");
  }
}

KeyRing KeyRing::parse(std::string_view text, const std::string& source) {
  std::vector<MasterKey> keys;
  const bool binary = text.size() == kKey &&
                      std::any_of(text.begin(), text.end(), [](char c) {
                        return !std::isprint(static_cast<unsigned char>(c)) && c != '\n';
                      });
  if (binary) return KeyRing({{default_key_id(std::string(text)), std::string(text)}});
  std::istringstream lines{std::string(text)};
  std::string line;
  int number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    line = trim(line);
    if (line.empty()) continue;
    std::string id;
    std::string material = line;
    if (const auto colon = line.find(':'); colon != std::string::npos) {
      id = trim(std::string_view(line).substr(0, colon));
      material = trim(std::string_view(line).substr(colon + 1));
      if (!valid_key_id(id)) {
        throw CryptoError(source + " line " + std::to_string(number) +
                          ": a key id is 1-64 characters of A-Z a-z 0-9 . _ -");
      }
    }
    std::optional<std::string> bytes;
    if (material.size() == 2 * kKey) bytes = from_hex(material);
    if (!bytes) bytes = base64_decode(material);
    if (!bytes || bytes->size() != kKey) {
      throw CryptoError(source + " line " + std::to_string(number) +
                        ": a key is 64 hex digits or the base64 of 32 bytes (openssl rand -hex 32)");
    }
    if (id.empty()) id = default_key_id(*bytes);
    for (const auto& k : keys) {
      if (k.id == id) throw CryptoError(source + ": key id " + id + " appears twice");
    }
    keys.push_back({id, *bytes});
  }
  if (keys.empty()) throw CryptoError(source + " holds no key (create one with: openssl rand -hex 32 > FILE)");
  return KeyRing(std::move(keys));
}

KeyRing KeyRing::load(const std::filesystem::path& file) {
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) throw CryptoError("master key file " + file.string() + " does not exist");
  if (st.st_mode & S_IRWXO) {
    throw CryptoError("master key file " + file.string() + " may be read by others; chmod 600 it");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) throw CryptoError("cannot read master key file " + file.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), "master key file " + file.string());
}

const MasterKey* KeyRing::find(std::string_view id) const {
  for (const auto& k : keys_) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

Sealed KeyRing::seal(std::string_view plaintext, std::string_view aad) const {
  const MasterKey& key = active();
  std::string blob(1 + kNonce + plaintext.size() + kTag, '\0');
  blob[0] = static_cast<char>(kVersion);
  auto* out = reinterpret_cast<unsigned char*>(blob.data());
  if (RAND_bytes(out + 1, kNonce) != 1) throw CryptoError("RAND_bytes failed");
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  int tail = 0;
  const auto* k = reinterpret_cast<const unsigned char*>(key.bytes.data());
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, k, out + 1) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out + 1 + kNonce, &len, reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + 1 + kNonce + len, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTag, out + 1 + kNonce + plaintext.size()) != 1) {
    throw CryptoError("AES-256-GCM encryption failed");
  }
  return {blob, key.id};
}

std::string KeyRing::open(std::string_view blob, std::string_view key_id, std::string_view aad) const {
  const MasterKey* key = find(key_id);
  if (!key) {
    throw CryptoError("credentials were encrypted with master key " + std::string(key_id) +
                      ", which is not in the key file");
  }
  if (blob.size() < 1 + kNonce + kTag || static_cast<unsigned char>(blob[0]) != kVersion) {
    throw CryptoError("stored credentials are not in a format this version reads");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(blob.data());
  const std::size_t size = blob.size() - 1 - kNonce - kTag;
  std::string plain(size, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  int len = 0;
  int tail = 0;
  std::string tag(blob.substr(blob.size() - kTag));
  const bool ok =
      ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonce, nullptr) == 1 &&
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, reinterpret_cast<const unsigned char*>(key->bytes.data()),
                         in + 1) == 1 &&
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) == 1 &&
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len, in + 1 + kNonce,
                        static_cast<int>(size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len, &tail) == 1;
  if (!ok) {
    OPENSSL_cleanse(plain.data(), plain.size());
    throw CryptoError("stored credentials do not decrypt: they were altered, or belong to another provider");
  }
  return plain;
}

std::string credentials_aad(std::string_view provider_id) {
  return "kiln:provider-credentials:v1:" + std::string(provider_id);
}

std::string fingerprint(std::string_view plaintext) { return "sha256:" + core::sha256_hex(plaintext).substr(0, 16); }

std::string random_uuid() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw CryptoError("RAND_bytes failed");
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

}  // namespace kiln::k8s
