#!/bin/sh
{{! Kiln build-node pipeline for `nix` builds. Placeholders, all quoted by :x-shell:
    FLAKE_URI, ATTRIBUTES (the flake output, default "default"), GIT_URL, GIT_REVISION, BUILD_ID. }}
set -eu
echo "==> kiln build "{{BUILD_ID:x-shell}}
{{#HAS_GIT_URL}}
{{>CLONE}}
{{/HAS_GIT_URL}}
attribute=default
{{#HAS_ATTRIBUTES}}
attribute={{ATTRIBUTES:x-shell}}
{{/HAS_ATTRIBUTES}}
echo "==> nix build "{{FLAKE_URI:x-shell}}"#$attribute"
nix --extra-experimental-features 'nix-command flakes' build --print-build-logs {{FLAKE_URI:x-shell}}"#$attribute"
