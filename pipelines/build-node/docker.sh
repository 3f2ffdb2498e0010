#!/bin/sh
{{! Kiln build-node pipeline for `docker` builds (the Kaniko build of Kubernetes runs as a
    plain docker build on a node). Placeholders, all quoted by :x-shell: GIT_URL, IMAGE,
    GIT_REVISION, DOCKERFILE, CONTEXT, BUILD_ID. }}
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
echo "==> building "{{IMAGE:x-shell}}
docker build --file "$dockerfile" --tag {{IMAGE:x-shell}} "$context"
echo "==> pushing "{{IMAGE:x-shell}}
docker push {{IMAGE:x-shell}}
