#include "error.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "http/error_body.hpp"

namespace kiln {
namespace {

constexpr Errc kAll[] = {Errc::kBadRequest, Errc::kUnauthorized, Errc::kForbidden,
                         Errc::kNotFound, Errc::kMethodNotAllowed, Errc::kConflict,
                         Errc::kPayloadTooLarge, Errc::kUnsupportedMediaType,
                         Errc::kUnprocessable, Errc::kTooManyRequests, Errc::kInternal,
                         Errc::kUnavailable};

TEST(ErrorTable, EveryCodeMapsToAStatusAndBack) {
  for (Errc code : kAll) {
    const int status = http_status(code);
    EXPECT_GE(status, 400);
    EXPECT_EQ(errc_from_status(status), code) << status;
    EXPECT_NE(reason_phrase(status), "Unknown") << status;
  }
}

TEST(ErrorTable, UnknownStatusesAreInternal) {
  EXPECT_EQ(errc_from_status(418), Errc::kInternal);
  EXPECT_EQ(errc_from_status(0), Errc::kInternal);
}

TEST(ErrorBody, HasCodeMessageFieldAndRequestId) {
  const auto r = http::error_response(Error(Errc::kBadRequest, "invalid_value", "spec.cpu is bad", "spec.cpu"),
                                      "req-1");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  const auto body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body, nlohmann::json::parse(
                      R"({"error":{"code":"invalid_value","message":"spec.cpu is bad","field":"spec.cpu","request_id":"req-1"}})"));
}

TEST(ErrorBody, FieldIsNullWhenNoFieldIsAtFault) {
  const auto r = http::error_response(Error(Errc::kNotFound, "not_found", "gone"), "r");
  EXPECT_TRUE(nlohmann::json::parse(r.body)["error"]["field"].is_null());
}

TEST(ErrorBody, NeverCarriesTheInternalMessage) {
  const auto r = http::error_response(
      Error(Errc::kInternal, "internal", "internal error", {}, "select secret from tokens"), "r");
  EXPECT_EQ(r.body.find("secret"), std::string::npos);
}

TEST(ErrorBody, UnauthorizedAsksForBearerAndUnavailableSaysWhenToRetry) {
  const auto unauthorized = http::error_response(Error(Errc::kUnauthorized, "unauthorized", "no"), "r");
  ASSERT_EQ(unauthorized.headers.size(), 1u);
  EXPECT_EQ(unauthorized.headers[0].first, "WWW-Authenticate");
  const auto unavailable = http::error_response(Error(Errc::kUnavailable, "unavailable", "later"), "r");
  ASSERT_EQ(unavailable.headers.size(), 1u);
  EXPECT_EQ(unavailable.headers[0], (std::pair<std::string, std::string>{"Retry-After", "1"}));
}

TEST(ErrorBody, InvalidUtf8InAMessageIsReplacedNotThrown) {
  const auto r = http::error_response(Error(Errc::kBadRequest, "x", "bad \xff byte"), "r");
  EXPECT_TRUE(nlohmann::json::accept(r.body));
}

}  // namespace
}  // namespace kiln
