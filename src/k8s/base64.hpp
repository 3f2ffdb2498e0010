#pragma once
// Standard base64 (RFC 4648 §4) for kubeconfig *-data fields and stored ciphertext.
// Decoding uses EVP_DecodeUpdate/EVP_DecodeFinal (EVP_DecodeBlock counts padding bytes
// in its length); whitespace and newlines inside the text are ignored.
#include <optional>
#include <string>
#include <string_view>

namespace kiln::k8s {

std::string base64_encode(std::string_view data);
// nullopt when the text is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace kiln::k8s
