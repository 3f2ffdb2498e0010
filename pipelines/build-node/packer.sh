#!/bin/sh
{{! Kiln build-node pipeline for `packer` builds. Placeholders, all quoted by :x-shell:
    GIT_URL, TEMPLATE, GIT_REVISION, VARS (a var file), BUILD_ID. }}
set -eu
echo "==> kiln build "{{BUILD_ID:x-shell}}
{{>CLONE}}
var_file=
{{#HAS_VARS}}
var_file={{VARS:x-shell}}
{{/HAS_VARS}}
packer init {{TEMPLATE:x-shell}}
echo "==> validating "{{TEMPLATE:x-shell}}
if [ -n "$var_file" ]; then
  packer validate -var-file="$var_file" {{TEMPLATE:x-shell}}
  packer build -var-file="$var_file" {{TEMPLATE:x-shell}}
else
  packer validate {{TEMPLATE:x-shell}}
  packer build {{TEMPLATE:x-shell}}
fi
