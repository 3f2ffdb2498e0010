#include "k8s/base64.hpp"

#include <openssl/evp.h>

#include <memory>
#include <vector>

namespace kiln::k8s {

std::string base64_encode(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()), static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string compact;
  compact.reserve(text.size());
  for (char c : text) {
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') compact += c;
  }
  if (compact.size() % 4 != 0) return std::nullopt;  // EVP accepts some unpadded input; kubeconfig is padded
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!ctx) return std::nullopt;
  EVP_DecodeInit(ctx.get());
  std::vector<unsigned char> out(compact.size() / 4 * 3 + 3);
  int len = 0;
  if (EVP_DecodeUpdate(ctx.get(), out.data(), &len, reinterpret_cast<const unsigned char*>(compact.data()),
                       static_cast<int>(compact.size())) < 0) {
    return std::nullopt;
  }
  int tail = 0;
  if (EVP_DecodeFinal(ctx.get(), out.data() + len, &tail) < 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(len + tail));
}

}  // namespace kiln::k8s
