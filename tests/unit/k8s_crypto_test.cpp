// Credentials at rest: AES-256-GCM round trips, tampering and misuse are detected, and the
// master key file is read strictly.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "k8s/crypto.hpp"

namespace kiln::k8s {
namespace {

const std::string kHexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

TEST(Crypto, RoundTripsAndUsesAFreshNonceEachTime) {
  const KeyRing keys = KeyRing::parse(kHexKey);
  const Sealed a = keys.seal("secret token", credentials_aad("p1"));
  const Sealed b = keys.seal("secret token", credentials_aad("p1"));
  EXPECT_NE(a.blob, b.blob);
  EXPECT_EQ(a.blob.find("secret token"), std::string::npos);
  EXPECT_EQ(a.key_id, keys.active().id);
  EXPECT_EQ(keys.open(a.blob, a.key_id, credentials_aad("p1")), "secret token");
  EXPECT_EQ(keys.open(b.blob, b.key_id, credentials_aad("p1")), "secret token");
}

TEST(Crypto, DetectsEveryTamperedByteAndAWrongProvider) {
  const KeyRing keys = KeyRing::parse(kHexKey);
  const Sealed s = keys.seal("{\"token\":\"abc\"}", credentials_aad("p1"));
  for (std::size_t i = 0; i < s.blob.size(); ++i) {
    std::string bad = s.blob;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    EXPECT_THROW(keys.open(bad, s.key_id, credentials_aad("p1")), CryptoError) << "byte " << i;
  }
  EXPECT_THROW(keys.open(s.blob, s.key_id, credentials_aad("p2")), CryptoError);
  EXPECT_THROW(keys.open(s.blob.substr(0, 10), s.key_id, credentials_aad("p1")), CryptoError);
  EXPECT_THROW(keys.open(s.blob, "unknown-key", credentials_aad("p1")), CryptoError);
}

TEST(Crypto, RotatesKeysByIdTheFirstEncrypts) {
  const KeyRing old_ring = KeyRing::parse("old:" + kHexKey);
  const Sealed s = old_ring.seal("x", "aad");
  const KeyRing rotated = KeyRing::parse("new: " + std::string(64, 'a') + "\n# comment\nold:" + kHexKey + "\n");
  EXPECT_EQ(rotated.active().id, "new");
  EXPECT_EQ(rotated.open(s.blob, "old", "aad"), "x");
  EXPECT_EQ(rotated.seal("y", "aad").key_id, "new");
  const KeyRing wrong = KeyRing::parse("old:" + std::string(64, 'b'));
  EXPECT_THROW(wrong.open(s.blob, "old", "aad"), CryptoError);
}

TEST(Crypto, ReadsHexBase64AndRawKeysAndDerivesIds) {
  const KeyRing hex = KeyRing::parse(kHexKey);
  const KeyRing b64 = KeyRing::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n");
  std::string raw;
  for (int i = 0; i < 32; ++i) raw += static_cast<char>(i);
  const KeyRing bin = KeyRing::parse(raw);
  EXPECT_EQ(hex.active().bytes, raw);
  EXPECT_EQ(b64.active().bytes, raw);
  EXPECT_EQ(bin.active().bytes, raw);
  EXPECT_EQ(hex.active().id, b64.active().id);
  EXPECT_EQ(hex.active().id.substr(0, 2), "k-");
}

TEST(Crypto, RefusesBadKeyFilesWithoutEchoingThem) {
  EXPECT_THROW(KeyRing::parse(""), CryptoError);
  EXPECT_THROW(KeyRing::parse("tooshort"), CryptoError);
  EXPECT_THROW(KeyRing::parse("bad id!:" + kHexKey), CryptoError);
  EXPECT_THROW(KeyRing::parse("a:" + kHexKey + "\na:" + kHexKey), CryptoError);
  try {
    KeyRing::parse("deadbeefcafe");
  } catch (const CryptoError& e) {
    EXPECT_EQ(std::string(e.what()).find("deadbeefcafe"), std::string::npos);
  }
  const auto file = std::filesystem::temp_directory_path() / ("kiln-key-" + std::to_string(::getpid()));
  std::ofstream(file) << kHexKey << "\n";
  chmod(file.c_str(), 0644);
  EXPECT_THROW(KeyRing::load(file), CryptoError);
  chmod(file.c_str(), 0600);
  EXPECT_EQ(KeyRing::load(file).active().bytes.size(), 32u);
  std::filesystem::remove(file);
  EXPECT_THROW(KeyRing::load(file), CryptoError);
}

TEST(Crypto, FingerprintsAreShortAndStable) {
  EXPECT_EQ(fingerprint("a"), fingerprint("a"));
  EXPECT_NE(fingerprint("a"), fingerprint("b"));
  EXPECT_EQ(fingerprint("a").size(), 7u + 16u);
  const std::string id = random_uuid();
  EXPECT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(random_uuid(), id);
}

}  // namespace
}  // namespace kiln::k8s
