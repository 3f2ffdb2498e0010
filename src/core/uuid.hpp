#pragma once
#include <string_view>

namespace kiln::core {

// Canonical 8-4-4-4-12 hexadecimal form, either case.
bool is_uuid(std::string_view text);

}  // namespace kiln::core
