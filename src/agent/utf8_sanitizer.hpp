#pragma once
// Turns a byte stream that arrives in arbitrary pieces into valid UTF-8. Each maximal
// invalid subsequence becomes one U+FFFD (the Unicode "substitution of maximal subparts"
// practice, as browsers do), so the result, and therefore every log offset, does not
// depend on where the pipe reads happened to split the stream.
#include <string>
#include <string_view>

namespace kiln::agent {

class Utf8Sanitizer {
 public:
  // The valid UTF-8 for bytes; an incomplete sequence at the end is held back for the next call.
  std::string feed(std::string_view bytes);
  // End of stream: a held-back incomplete sequence becomes U+FFFD.
  std::string finish();

 private:
  std::string convert(std::string_view bytes, bool final);
  std::string held_;  // at most 3 bytes: the start of a sequence cut by a read boundary
};

}  // namespace kiln::agent
