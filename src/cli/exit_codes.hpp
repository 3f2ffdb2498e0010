#pragma once
// Exit statuses of the kiln client commands (docs/cli.md lists them).
namespace kiln::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitBuildNotSucceeded = 1;  // --follow: the build failed, was cancelled or timed out
inline constexpr int kExitUsage = 2;              // bad command line
inline constexpr int kExitConfig = 3;             // no URL or token configured, unreadable config
inline constexpr int kExitConnection = 4;         // the server could not be reached
inline constexpr int kExitApi = 5;                // the API refused the request (its message is printed)

}  // namespace kiln::cli
