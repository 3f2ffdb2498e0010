#include "http/cookies.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace kiln::http {
namespace {

TEST(CookieValue, FindsOneCookieAmongSeveral) {
  EXPECT_EQ(cookie_value("a=1; kiln_session=abc-_9; b=2", "kiln_session"), "abc-_9");
  EXPECT_EQ(cookie_value("kiln_session=x", "kiln_session"), "x");
  EXPECT_EQ(cookie_value("  kiln_session = \"quoted\" ", "kiln_session"), "quoted");
}

TEST(CookieValue, IsEmptyWhenTheCookieIsAbsentOrOnlyAPrefixMatches) {
  EXPECT_EQ(cookie_value("", "kiln_session"), std::nullopt);
  EXPECT_EQ(cookie_value("kiln_session_old=1; other", "kiln_session"), std::nullopt);
  EXPECT_EQ(cookie_value("xkiln_session=1", "kiln_session"), std::nullopt);
}

TEST(CookieValue, TakesTheFirstOfRepeatedNames) {
  EXPECT_EQ(cookie_value("s=first; s=second", "s"), "first");
}

TEST(SetCookie, CarriesEveryFlagTheSessionNeeds) {
  EXPECT_EQ(set_cookie("kiln_session", "abc", {}), "kiln_session=abc; Path=/; HttpOnly; SameSite=Strict");
  EXPECT_EQ(set_cookie("kiln_session", "abc", {.secure = true}),
            "kiln_session=abc; Path=/; HttpOnly; Secure; SameSite=Strict");
  EXPECT_EQ(set_cookie("c", "v", {.path = "/admin/login", .max_age_seconds = 3600}),
            "c=v; Path=/admin/login; Max-Age=3600; HttpOnly; SameSite=Strict");
}

TEST(SetCookie, AHostPrefixedCookieIsSecureWithPathSlashAndNoDomain) {
  EXPECT_EQ(set_cookie("__Host-kiln_session", "abc", host_cookie()),
            "__Host-kiln_session=abc; Path=/; HttpOnly; Secure; SameSite=Strict");
  EXPECT_EQ(clear_cookie("__Host-kiln_session", host_cookie()),
            "__Host-kiln_session=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
  EXPECT_THROW(set_cookie("__Host-kiln_session", "abc", {}), std::invalid_argument);  // not Secure
  EXPECT_THROW(set_cookie("__Host-kiln_session", "abc", {.path = "/admin", .secure = true}), std::invalid_argument);
}

TEST(SetCookie, ClearingSetsAnEmptyValueThatExpiresNow) {
  EXPECT_EQ(clear_cookie("kiln_session", {}), "kiln_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

TEST(SetCookie, RefusesValuesThatWouldSplitTheHeader) {
  EXPECT_THROW(set_cookie("s", "a;b", {}), std::invalid_argument);
  EXPECT_THROW(set_cookie("s", "a\r\nSet-Cookie: x=1", {}), std::invalid_argument);
  EXPECT_THROW(set_cookie("", "v", {}), std::invalid_argument);
}

}  // namespace
}  // namespace kiln::http
