#pragma once
// The kiln client commands (build, recommend, provider, node, token): talk to the Kiln API
// over HTTP. cmd/kiln/main.cpp hands them every command it does not run itself.
#include <iosfwd>
#include <string>
#include <vector>

#include "cli/config.hpp"

namespace kiln::cli {

// True for the first word of a client command ("build", "token", ...).
bool is_client_command(const std::string& word);

// Runs args (the words after "kiln") and returns the exit status.
int run(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, const Getenv& env);

// The client part of "kiln --help".
std::string overview();

}  // namespace kiln::cli
