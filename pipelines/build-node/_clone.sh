{{! Included by the method templates as CLONE: clones GIT_URL into ./source and checks out
    GIT_REVISION when given. Values are quoted by :x-shell like everywhere else. }}
echo "==> cloning "{{GIT_URL:x-shell}}
git clone --quiet -- {{GIT_URL:x-shell}} source
cd source
{{#HAS_GIT_REVISION}}
git checkout --quiet {{GIT_REVISION:x-shell}}
{{/HAS_GIT_REVISION}}
