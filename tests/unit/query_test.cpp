#include "http/query.hpp"

#include <gtest/gtest.h>

#include "error.hpp"

namespace kiln::http {
namespace {

TEST(PercentDecode, DecodesEscapesAndPlus) {
  EXPECT_EQ(percent_decode("a%20b+c%2Fd"), "a b c/d");
  EXPECT_EQ(percent_decode("%41%6a"), "Aj");
}

TEST(PercentDecode, RejectsMalformedEscapes) {
  EXPECT_EQ(percent_decode("%"), std::nullopt);
  EXPECT_EQ(percent_decode("%4"), std::nullopt);
  EXPECT_EQ(percent_decode("%zz"), std::nullopt);
  EXPECT_EQ(percent_decode("ab%"), std::nullopt);
}

TEST(Query, ReadsTextAndIntegers) {
  const Query q("status=queued%2Crunning&limit=20&cursor=");
  EXPECT_EQ(q.text("status"), "queued,running");
  EXPECT_EQ(q.integer("limit"), 20);
  EXPECT_EQ(q.text("cursor"), "");
  EXPECT_EQ(q.text("project"), std::nullopt);
}

TEST(Query, NonIntegerNamesTheParameter) {
  const Query q("limit=ten");
  try {
    (void)q.integer("limit");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code, Errc::kBadRequest);
    EXPECT_EQ(e.field, "limit");
  }
  EXPECT_THROW((void)Query("limit=").integer("limit"), Error);
  EXPECT_THROW((void)Query("limit=5x").integer("limit"), Error);
}

TEST(Query, RepeatedAndMalformedParametersAreRejected) {
  EXPECT_THROW(Query("a=1&a=2"), Error);
  EXPECT_THROW(Query("a=%G1"), Error);
}

TEST(Query, AllowOnlyNamesTheUnknownParameter) {
  const Query q("status=queued&colour=blue");
  try {
    q.allow_only({"status", "limit"});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.wire_code, "unknown_field");
    EXPECT_EQ(e.field, "colour");
  }
}

TEST(PercentEncode, KeepsUnreservedEscapesTheRestAndRoundTrips) {
  EXPECT_EQ(percent_encode("app.kubernetes.io/managed-by=kiln,x~y"),
            "app.kubernetes.io%2Fmanaged-by%3Dkiln%2Cx~y");
  EXPECT_EQ(percent_encode("a b+c&d%"), "a%20b%2Bc%26d%25");
  EXPECT_EQ(percent_encode("caf\xc3\xa9"), "caf%C3%A9");
  const std::string bytes("\x00\xff/?#[]", 8);
  EXPECT_EQ(percent_decode(percent_encode(bytes)), bytes);
}

}  // namespace
}  // namespace kiln::http
