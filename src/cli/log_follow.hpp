#pragma once
// Reading a build's log: at once (GET …/logs) or followed as Server-Sent Events
// (GET …/logs?follow=1), resuming with Last-Event-ID when the stream drops.
#include <string>

#include "cli/command.hpp"

namespace kiln::cli {

// Prints the log so far (text) or {text, next_offset, status, complete} (json).
void print_log(Context& ctx, const std::string& build_id);

// Streams the log to ctx.out until the build ends and returns its final status. With
// --output json each event is one line {"event":…, "id":…, "data":{…}}.
std::string follow_log(Context& ctx, const std::string& build_id);

}  // namespace kiln::cli
