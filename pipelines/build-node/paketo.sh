#!/bin/sh
{{! Kiln build-node pipeline for `paketo` builds (Cloud Native Buildpacks via pack).
    Placeholders, all quoted by :x-shell: GIT_URL, IMAGE, GIT_REVISION, BUILDER, BUILD_ID. }}
set -eu
echo "==> kiln build "{{BUILD_ID:x-shell}}
{{>CLONE}}
builder=paketobuildpacks/builder-jammy-base
{{#HAS_BUILDER}}
builder={{BUILDER:x-shell}}
{{/HAS_BUILDER}}
echo "==> pack build "{{IMAGE:x-shell}}" with $builder"
pack build {{IMAGE:x-shell}} --builder "$builder" --path . --publish
