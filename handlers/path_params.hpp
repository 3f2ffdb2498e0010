#pragma once
#include <string>

#include "core/uuid.hpp"
#include "error.hpp"

namespace kiln::handlers {

// A path segment that must be a UUID; Error(400 invalid_uuid) naming it otherwise.
inline const std::string& uuid_param(const std::string& value, const char* name) {
  if (!core::is_uuid(value)) {
    throw Error(Errc::kBadRequest, "invalid_uuid", std::string(name) + " must be a UUID", name);
  }
  return value;
}

}  // namespace kiln::handlers
