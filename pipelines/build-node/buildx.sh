#!/bin/sh
{{! Kiln build-node pipeline for `buildx` builds. Placeholders, all quoted by :x-shell:
    GIT_URL, IMAGE, GIT_REVISION, DOCKERFILE, CONTEXT, PLATFORMS, BUILD_ID. }}
set -eu
echo "==> kiln build "{{BUILD_ID:x-shell}}
{{>CLONE}}
dockerfile=Dockerfile
{{#HAS_DOCKERFILE}}
dockerfile={{DOCKERFILE:x-shell}}
{{/HAS_DOCKERFILE}}
context=.
{{#HAS_CONTEXT}}
context={{CONTEXT:x-shell}}
{{/HAS_CONTEXT}}
platforms=linux/amd64
{{#HAS_PLATFORMS}}
platforms={{PLATFORMS:x-shell}}
{{/HAS_PLATFORMS}}
echo "==> building "{{IMAGE:x-shell}}" for $platforms"
docker buildx build --file "$dockerfile" --platform "$platforms" --tag {{IMAGE:x-shell}} --push "$context"
