#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (prepack builds from a clean dist/), check what the
# tarball ships, install it into a fresh project, run the `ioasid-stress` bin through npx and
# assert each exit code, then compile a TypeScript consumer of `ioasid`, `ioasid/rcu` and
# `ioasid/hw-model` (module NodeNext, strict, the shipped .d.ts checked too) with the
# repository's tsc and run it.
# Usage: bash .ci/smoke-pack.sh   (from anywhere; needs the repository's devDependencies)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/ioasid-smoke.XXXXXX")"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "smoke: FAIL: $*" >&2
  [ -f "$work/out" ] && { echo "--- stdout" >&2; cat "$work/out" >&2; }
  [ -f "$work/err" ] && { echo "--- stderr" >&2; cat "$work/err" >&2; }
  exit 1
}
# expect CODE WHAT COMMAND...: run COMMAND, keep its output in $work/out and $work/err, and
# fail unless it exits with CODE.
expect() {
  local want="$1" what="$2" got=0
  shift 2
  "$@" >"$work/out" 2>"$work/err" || got=$?
  [ "$got" = "$want" ] || fail "$what: exit $got, expected $want"
  echo "smoke: ok   $what (exit $got)"
}
contains() { grep -q -- "$2" "$work/$1" || fail "$1 lacks '$2'"; }
one_line() { [ "$(wc -l <"$work/$1")" = 1 ] || fail "$1 is not exactly one line"; }

# 1. Pack from no dist/ at all, as in a fresh clone: prepack must build (it cleans dist/ and
# builds, so the tarball holds exactly what the sources give).
cd "$repo"
version="$(node -p 'require("./package.json").version')"
npm run --silent clean
npm pack --pack-destination "$work" >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; fail "npm pack"; }
tarball="$work/ioasid-$version.tgz"
[ -f "$tarball" ] || fail "npm pack made no $tarball"
tar -tzf "$tarball" | sort >"$work/files"
for f in package.json README.md LICENSE CHANGELOG.md dist/src/index.js dist/src/index.d.ts \
  dist/src/core/rcu/rcu.js dist/src/core/rcu/rcu.d.ts dist/src/hw-model/index.js \
  dist/src/hw-model/index.d.ts dist/stress/bin.js; do
  grep -qx "package/$f" "$work/files" || fail "the tarball lacks $f"
done
# Only what users need: no tests, benchmarks, sources, source maps, or the CLI's declarations.
if grep -E '^package/(dist/(test|bench)/|src/|stress/|test/|bench/)|\.map$|^package/dist/stress/.*\.d\.ts$' "$work/files"; then
  fail "the tarball ships files users do not need (above)"
fi
echo "smoke: ok   npm pack: $(wc -l <"$work/files") files, $(du -k "$tarball" | cut -f1) KiB"

# 2. Install into a fresh project, as a user does.
mkdir "$work/app"
cd "$work/app"
npm init -y >/dev/null
npm pkg set type=module
npm install --no-audit --no-fund --prefer-offline "$tarball" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "npm install $tarball"; }
installed="$(npm ls --all --parseable | tail -n +2 | wc -l)"
[ ! -e node_modules/log-update ] || fail "log-update is installed with the library"
echo "smoke: ok   npm install: ioasid and $((installed - 1)) packages it depends on"

# 3. The bin, through npx (node_modules/.bin is a symlink: the entry point must still run).
# --offline: npx must never fetch a package of that name from the registry instead.
[ -L node_modules/.bin/ioasid-stress ] || fail "npm install linked no node_modules/.bin/ioasid-stress"
expect 0 "ioasid-stress --help" npx --offline ioasid-stress --help
contains out 'usage: ioasid-stress'
contains out 'Exit codes:'
expect 0 "ioasid-stress --version" npx --offline ioasid-stress --version
[ "$(cat "$work/out")" = "$version" ] || fail "--version printed '$(cat "$work/out")', not $version"
expect 0 "ioasid-stress torture --version" npx --offline ioasid-stress torture --version
[ "$(cat "$work/out")" = "$version" ] || fail "torture --version printed '$(cat "$work/out")'"
expect 0 "ioasid-stress --seconds 1" npx --offline ioasid-stress --seconds 1 --seed 1 --quiet --json "$work/r.json"
contains out 'VERDICT: PASS'
node -e 'const r = require(process.argv[1]); if (r.verdict !== "PASS" || r.seed !== 1) process.exit(1)' \
  "$work/r.json" || fail "the JSON report is not a PASS with seed 1"
expect 0 "ioasid-stress torture --seconds 1" npx --offline ioasid-stress torture --seconds 1 --seed 1 --quiet
contains out 'VERDICT: SUCCESS'
expect 2 "ioasid-stress --frob" npx --offline ioasid-stress --frob
one_line err
contains err "Unknown option '--frob'"
[ ! -s "$work/out" ] || fail "--frob printed on stdout"
expect 2 "ioasid-stress --seconds -1" npx --offline ioasid-stress --seconds -1
one_line err
contains err '--seconds must be in \[1, 86400\]'
expect 2 "ioasid-stress --json into a missing directory" npx --offline ioasid-stress --json "$work/no/r.json"
one_line err
contains err 'does not exist'

# 4. A TypeScript consumer: the entry points type-check (with the shipped .d.ts checked too),
# a wrong call is a type error, and the program runs.
cat >tsconfig.json <<EOF
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "skipLibCheck": false,
    "typeRoots": ["$repo/node_modules/@types"],
    "types": ["node"],
    "outDir": "out"
  },
  "files": ["consumer.ts"]
}
EOF
cat >consumer.ts <<'EOF'
import { Errno, errnoName, IoasidSpace, type IoasidStats, SetType } from 'ioasid';
import { Rcu, type RcuStats } from 'ioasid/rcu';
import { Platform } from 'ioasid/hw-model';

function must(ok: boolean, what: string): void {
  if (!ok) throw new Error(`consumer: ${what}`);
}

const space = IoasidSpace.create({ pasidBits: 8, maxSets: 4, maxIoasids: 64, maxThreads: 4 });
const set = space.setAlloc(null, 8, SetType.NULL);
must(set >= 0, `setAlloc returned ${errnoName(set)}`);
const id = space.alloc(set, 1, 255, 42);
must(id > 0, `alloc returned ${errnoName(id)}`);
must(space.find(set, id) === 42, 'find returns the data given to alloc');
must(space.free(set, id) >= 0, 'free');
must(space.find(set, id) === -Errno.ENOENT, 'find after free returns -ENOENT');
/** Never called: it only proves the shipped types are real (not `any`). */
export function typeErrors(s: IoasidSpace): void {
  // @ts-expect-error: set ids are numbers
  s.alloc('set', 1, 255);
}
const stats: IoasidStats = space.stats();
space.detach();

const rcu = Rcu.create({ maxThreads: 2 });
rcu.registerThread();
rcu.readLock();
rcu.readUnlock();
rcu.synchronize();
const rcuStats: RcuStats = rcu.stats();
must(rcuStats.gracePeriods >= 1, 'synchronize completed a grace period');
rcu.unregisterThread();

const hw = Platform.create({ pasidBits: 8, processes: 2 });
hw.spawn(0);
const pasid = hw.bindSva(0, 0);
must(pasid > 0, `bindSva returned ${pasid}`);
must(hw.unbindSva(0, 0) === 0 && hw.mmExit(0) === 0, 'unbind and exit');
must(hw.space.inspect(pasid).state === 'free', 'the PASID went back to the core');
hw.detach();
console.log(`consumer ok: id ${id}, ${stats.edquot} EDQUOT, ${rcuStats.gracePeriods} grace periods, pasid ${pasid}`);
EOF
expect 0 "tsc on a NodeNext consumer of ioasid, ioasid/rcu and ioasid/hw-model" node "$repo/node_modules/typescript/bin/tsc" -p .
expect 0 "the consumer runs" node out/consumer.js
contains out 'consumer ok'
echo "smoke: PASS"
