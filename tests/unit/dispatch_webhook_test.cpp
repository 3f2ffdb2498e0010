#include "dispatch/webhook_sender.hpp"

#include <gtest/gtest.h>

namespace kiln::dispatch {
namespace {

TEST(WebhookSignature, HmacSha256MatchesRfc4231TestCase2) {
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(WebhookSignature, SignsTheTimestampADotAndTheBody) {
  const std::string body = R"({"event":"build.failed"})";
  EXPECT_EQ(webhook_signature("whsec_k", "1793526000", body),
            "sha256=" + hmac_sha256_hex("whsec_k", "1793526000." + body));
}

TEST(WebhookSignature, ChangesWithTheSecretTheTimestampAndEveryByteOfTheBody) {
  const std::string base = webhook_signature("whsec_k", "1793526000", "{}");
  EXPECT_NE(webhook_signature("whsec_K", "1793526000", "{}"), base);
  EXPECT_NE(webhook_signature("whsec_k", "1793526001", "{}"), base);
  EXPECT_NE(webhook_signature("whsec_k", "1793526000", "{ }"), base);
  EXPECT_EQ(webhook_signature("whsec_k", "1793526000", "{}"), base) << "deterministic";
}

}  // namespace
}  // namespace kiln::dispatch
