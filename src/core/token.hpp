#pragma once
// API tokens: "kiln_" + 43 base64url characters (32 random bytes). Only the SHA-256 of
// the whole token is ever stored.
#include <string>
#include <string_view>

namespace kiln::core {

std::string generate_token();
std::string sha256_hex(std::string_view data);
// The token of an "Authorization: Bearer <token>" header, or empty.
std::string_view bearer_token(std::string_view authorization_header);

}  // namespace kiln::core
