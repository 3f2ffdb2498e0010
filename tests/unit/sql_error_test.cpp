#include "db/sql_error.hpp"

#include <gtest/gtest.h>

namespace kiln::db {
namespace {

TEST(SqlError, ApplicationErrorsCarryStatusCodeAndFieldFromDetail) {
  const Error e = from_sql("QC400",
                           "ERROR:  spec.cpu must be between 0.1 and 64 cores, got 0\n"
                           "DETAIL:  {\"code\" : \"invalid_value\", \"field\" : \"spec.cpu\"}\n"
                           "CONTEXT:  PL/pgSQL function kiln_api.raise_error line 3 at RAISE\n");
  EXPECT_EQ(e.code, Errc::kBadRequest);
  EXPECT_EQ(e.wire_code, "invalid_value");
  EXPECT_EQ(e.field, "spec.cpu");
  EXPECT_EQ(e.message, "spec.cpu must be between 0.1 and 64 cores, got 0");
}

TEST(SqlError, ApplicationErrorWithNullFieldHasNoField) {
  const Error e = from_sql("QC409", "ERROR:  build x is cancelled\nDETAIL:  {\"code\" : \"illegal_transition\", \"field\" : null}\n");
  EXPECT_EQ(e.code, Errc::kConflict);
  EXPECT_EQ(e.wire_code, "illegal_transition");
  EXPECT_TRUE(e.field.empty());
}

TEST(SqlError, EachApplicationStatusMapsToItsErrc) {
  EXPECT_EQ(from_sql("QC403", "ERROR:  no").code, Errc::kForbidden);
  EXPECT_EQ(from_sql("QC404", "ERROR:  no").code, Errc::kNotFound);
  EXPECT_EQ(from_sql("QC422", "ERROR:  no").code, Errc::kUnprocessable);
}

TEST(SqlError, ApplicationErrorWithoutDetailStillHasAMessage) {
  const Error e = from_sql("QC404", "ERROR:  build not found\n");
  EXPECT_EQ(e.wire_code, "error");
  EXPECT_EQ(e.message, "build not found");
}

TEST(SqlError, ConstraintViolationsAreConflicts) {
  EXPECT_EQ(from_sql("23505", "ERROR:  duplicate key").code, Errc::kConflict);
  EXPECT_EQ(from_sql("23503", "ERROR:  fk").code, Errc::kConflict);
}

TEST(SqlError, UnreadableInputIsBadRequestAndOtherDataErrorsUnprocessable) {
  EXPECT_EQ(from_sql("22P02", "ERROR:  invalid input syntax for type uuid").code, Errc::kBadRequest);
  EXPECT_EQ(from_sql("22P05", "ERROR:  unsupported Unicode escape sequence").code, Errc::kBadRequest);
  EXPECT_EQ(from_sql("22003", "ERROR:  numeric out of range").code, Errc::kUnprocessable);
  EXPECT_EQ(from_sql("23514", "ERROR:  check").code, Errc::kUnprocessable);
}

TEST(SqlError, TimeoutsAndLostConnectionsAreUnavailable) {
  EXPECT_EQ(from_sql("57014", "ERROR:  canceling statement due to statement timeout").code, Errc::kUnavailable);
  EXPECT_EQ(from_sql("57P01", "FATAL:  terminating connection").code, Errc::kUnavailable);
  EXPECT_EQ(from_sql("08006", "connection failure").code, Errc::kUnavailable);
}

TEST(SqlError, EverythingElseIsInternalAndHidesTheSql) {
  const Error e = from_sql("42P01", "ERROR:  relation \"kiln.secret\" does not exist");
  EXPECT_EQ(e.code, Errc::kInternal);
  EXPECT_EQ(e.message, "internal error");
  EXPECT_NE(e.internal.find("kiln.secret"), std::string::npos);
}

TEST(SqlError, ConnectionAndRetryStatesAreRecognized) {
  EXPECT_TRUE(is_connection_state("08006"));
  EXPECT_TRUE(is_connection_state("57P01"));
  EXPECT_FALSE(is_connection_state("57014"));
  EXPECT_TRUE(is_retryable_state("40001"));
  EXPECT_TRUE(is_retryable_state("40P01"));
  EXPECT_FALSE(is_retryable_state("23505"));
}

}  // namespace
}  // namespace kiln::db
