#include "dispatch/render.hpp"

#include <ctemplate/template.h>
#include <ctemplate/template_cache.h>
#include <ctemplate/template_emitter.h>
#include <ctemplate/template_modifiers.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace kiln::dispatch {

std::string shell_quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string unquoted_variables(const std::string& template_text) {
  // {{NAME}} or {{NAME:modifiers}}; sections (#, /), comments (!) and includes (>) are not variables.
  static const std::regex kVariable(R"(\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(:[^}]*)?\}\})");
  std::string bad;
  for (auto it = std::sregex_iterator(template_text.begin(), template_text.end(), kVariable);
       it != std::sregex_iterator(); ++it) {
    if ((*it)[2].str() != ":x-shell") bad += (bad.empty() ? "" : ", ") + (*it)[0].str();
  }
  return bad;
}

namespace {

class ShellQuoteModifier : public ctemplate::TemplateModifier {
  void Modify(const char* in, size_t inlen, const ctemplate::PerExpandData*, ctemplate::ExpandEmitter* out,
              const std::string&) const override {
    out->Emit(shell_quote(std::string_view(in, inlen)));
  }
};

void register_modifier() {
  static std::once_flag once;
  static ShellQuoteModifier modifier;
  std::call_once(once, [] { ctemplate::AddModifier("x-shell", &modifier); });
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::toupper(c); });
  return text;
}

}  // namespace

struct BuildNodeRenderer::Impl {
  ctemplate::TemplateCache cache;
};

BuildNodeRenderer::BuildNodeRenderer(const std::filesystem::path& dir) : impl_(std::make_unique<Impl>()) {
  register_modifier();
  if (!std::filesystem::is_directory(dir)) {
    throw std::runtime_error(dir.string() + " is not a directory of build-node pipeline templates");
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".sh") continue;
    const std::string text = read_file(entry.path());
    if (const std::string bad = unquoted_variables(text); !bad.empty()) {
      throw std::runtime_error(entry.path().string() + ": variables without :x-shell: " + bad);
    }
    if (!impl_->cache.StringToTemplateCache(entry.path().stem().string(), text, ctemplate::STRIP_BLANK_LINES)) {
      throw std::runtime_error(entry.path().string() + ": ctemplate could not parse it (see stderr)");
    }
  }
  impl_->cache.Freeze();
}

BuildNodeRenderer::~BuildNodeRenderer() = default;

std::string BuildNodeRenderer::render(const std::string& method, const nlohmann::json& params,
                                      const std::string& build_id) const {
  // An included template sees none of its includer's values, so each gets them all.
  const auto fill = [&](ctemplate::TemplateDictionary* d) {
    d->SetValue("BUILD_ID", build_id);
    for (const auto& [key, value] : params.items()) {
      const std::string name = upper(key);
      d->SetValue(name, value.is_string() ? value.get<std::string>() : value.dump());
      d->ShowSection("HAS_" + name);
    }
  };
  ctemplate::TemplateDictionary dict("build");
  fill(&dict);
  ctemplate::TemplateDictionary* clone = dict.AddIncludeDictionary("CLONE");
  clone->SetFilename("_clone");
  fill(clone);
  std::string out;
  if (!impl_->cache.ExpandNoLoad(method, ctemplate::STRIP_BLANK_LINES, &dict, nullptr, &out)) {
    throw std::runtime_error("no build-node pipeline template for method " + method);
  }
  return out;
}

}  // namespace kiln::dispatch
