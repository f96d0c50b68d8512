#!/usr/bin/env bash
# Type-checks every Grafana dashboard in dashboards/ against Grafana's published schema types
# (npm @grafana/schema, pinned in dashboards/typecheck/package.json to the minimum Grafana the
# dashboard states). Each dashboard is written as a TypeScript object literal that `satisfies`
# the schema's types (dashboards/typecheck/generate.mjs, grafana.ts), so `tsc --noEmit` refuses
# any field the schema does not know and any misspelt enum value.
#
# It also checks the check: copies of the dashboard with one mistake each (an unknown field, a
# misspelt option, ...) must each be refused.
#
# Needs node and npm (Node 20); installs the pinned packages with `npm ci` into
# target/grafana-typecheck/ (inside the clone, ignored by git), again only when the lock changes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

for tool in node npm; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "check-dashboard-types: $tool is missing; install Node.js 20 (it ships npm)" >&2
        exit 1
    }
done

echo "== Grafana dashboard type check (@grafana/schema, tsc)"
src=dashboards/typecheck
work=target/grafana-typecheck
mkdir -p "$work"
cp "$src/package.json" "$src/package-lock.json" "$src/tsconfig.json" "$src/grafana.ts" "$work/"
if ! cmp -s "$src/package-lock.json" "$work/node_modules/.installed-from-lock"; then
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$src/package-lock.json" "$work/node_modules/.installed-from-lock"
fi

rm -f "$work"/dashboard-*.ts "$work"/mutant-*.ts
dashboards=(dashboards/*.json)
for dashboard in "${dashboards[@]}"; do
    node "$src/generate.mjs" "$dashboard" "$work/dashboard-$(basename "$dashboard" .json).ts"
done
mutants=$(node "$src/generate.mjs" --mutants dashboards/codearts-repo-statistics.json "$work")

# tsc exits non-zero because of the mutants; the verdict is per file.
(cd "$work" && ./node_modules/.bin/tsc --noEmit -p .) >"$work/tsc.log" 2>&1 || true

failed=0
if grep -q '^dashboard-' "$work/tsc.log"; then
    echo "check-dashboard-types: the dashboards do not match Grafana's schema:" >&2
    grep -A3 '^dashboard-' "$work/tsc.log" >&2
    failed=1
fi
for i in $(seq 1 "$mutants"); do
    if ! grep -q "^mutant-$i\.ts(" "$work/tsc.log"; then
        echo "check-dashboard-types: the type check accepts $(head -1 "$work/mutant-$i.ts" | cut -c4-); it checks nothing" >&2
        failed=1
    fi
done
if ! grep -q '^mutant-' "$work/tsc.log"; then
    echo "check-dashboard-types: tsc reported nothing at all:" >&2
    cat "$work/tsc.log" >&2
    failed=1
fi
if ((failed)); then
    exit 1
fi
echo "check-dashboard-types: ${#dashboards[@]} dashboard(s) match @grafana/schema $(node -p "require('./$src/package.json').devDependencies['@grafana/schema']"); $mutants planted mistakes refused"
