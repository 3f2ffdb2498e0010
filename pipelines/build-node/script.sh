#!/bin/sh
{{! Kiln build-node pipeline for `script` builds, rendered by kiln-dispatch with ctemplate.
    Placeholders (each value is quoted for the shell by :x-shell; the renderer refuses a
    variable without it): SCRIPT, GIT_URL, GIT_REVISION, WORKDIR, BUILD_ID. Sections
    HAS_<NAME> are shown when the parameter was given. IMAGE is for Kubernetes only. }}
set -eu
echo "==> kiln build "{{BUILD_ID:x-shell}}
{{#HAS_GIT_URL}}
{{>CLONE}}
{{/HAS_GIT_URL}}
{{#HAS_WORKDIR}}
cd -- {{WORKDIR:x-shell}}
{{/HAS_WORKDIR}}
exec /bin/sh -ec {{SCRIPT:x-shell}}
