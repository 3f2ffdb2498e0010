#pragma once
// What every client command gets, and the command table.
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/http_client.hpp"

namespace kiln::cli {

class Context {
 public:
  Context(ParsedArgs parsed, std::ostream& out_stream, std::ostream& err_stream, std::function<Config()> load_config)
      : args(std::move(parsed)), out(out_stream), err(err_stream), load_config_(std::move(load_config)) {}

  ParsedArgs args;
  std::ostream& out;
  std::ostream& err;

  bool json() const { return args.get("output").value_or("text") == "json"; }
  // The API client; the configuration is read on first use (so --help needs none).
  HttpClient& client();
  // Prints the API's JSON (--output json) on one line.
  void print_json(const nlohmann::json& value) const;

 private:
  std::function<Config()> load_config_;
  std::unique_ptr<HttpClient> client_;
};

struct Command {
  CommandSpec spec;
  std::function<int(Context&)> run;
};

std::vector<Command> build_commands();
std::vector<Command> recommend_commands();
std::vector<Command> provider_commands();
std::vector<Command> node_commands();
std::vector<Command> token_commands();

}  // namespace kiln::cli
