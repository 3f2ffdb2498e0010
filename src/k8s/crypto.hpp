#pragma once
// Credentials at rest: AES-256-GCM under a master key read from a file.
//
// Key file (mode 0600 or 0640; refused when others may read it): one key per line,
// `[<key-id>:]<key>` where <key> is 64 hex digits or the base64 of 32 bytes; a file of
// exactly 32 raw bytes is one key too. '#' starts a comment. The FIRST key encrypts; all
// of them decrypt, so a key is rotated by putting a new one on top and re-uploading (or
// PATCHing) the credentials encrypted under the old one. Without an explicit id a key's id
// is "k-" + the first 12 hex digits of its SHA-256.
//
// Sealed blob: 0x01 | nonce (12 random bytes) | ciphertext | tag (16 bytes). The
// additional authenticated data binds a blob to its row (credentials_aad(provider id)), so
// a ciphertext copied onto another provider does not decrypt.
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::k8s {

struct CryptoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct MasterKey {
  std::string id;
  std::string bytes;  // 32 bytes
};

struct Sealed {
  std::string blob;
  std::string key_id;
};

class KeyRing {
 public:
  // Throws CryptoError naming the file and what is wrong with it (never key material).
  static KeyRing load(const std::filesystem::path& file);
  static KeyRing parse(std::string_view text, const std::string& source = "key file");
  explicit KeyRing(std::vector<MasterKey> keys);

  const MasterKey& active() const { return keys_.front(); }
  const MasterKey* find(std::string_view id) const;
  const std::vector<MasterKey>& keys() const { return keys_; }

  Sealed seal(std::string_view plaintext, std::string_view aad) const;
  // Throws CryptoError when the key id is unknown or the blob was altered (tag mismatch).
  std::string open(std::string_view blob, std::string_view key_id, std::string_view aad) const;

 private:
  std::vector<MasterKey> keys_;
};

std::string credentials_aad(std::string_view provider_id);
// "sha256:" + 16 hex digits: shown instead of credentials so an admin can tell two apart.
std::string fingerprint(std::string_view plaintext);
// A random version-4 UUID.
std::string random_uuid();

}  // namespace kiln::k8s
