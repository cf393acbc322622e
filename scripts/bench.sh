#!/usr/bin/env bash
# make bench: terrapack against plain `zstd -dc | tar -x` and makeself --zstd
# (Debian package), side by side in one run, on the Go toolchain tree and on
# the pyenv CPython tree with the most files. Method (docs/BENCHMARKS.md):
# - every timed install goes into a new folder; nothing is removed inside the
#   timed part, and on disk nothing is removed until every run on that file
#   system is done (an rm -rf just before a run slows that run's file
#   creation on this machine's ext4, mounted with discard);
# - `sync` before each timed run, outside it, so no run pays for the
#   write-back of the one before; before each install on disk the page cache
#   is dropped too (root only): with the earlier runs' trees kept on disk,
#   a full cache made some runs of every tool twice as slow (kernel time
#   doubled), so each run starts cold, its input read from disk;
# - the tools take turns (the order rotates each round), one untimed warm-up
#   round first; medians of BENCH_RUNS (default 5) runs, BENCH_BUILD_RUNS
#   (default 3) for builds;
# - a signed installer too (ssh-keygen ed25519 key, --verify-key at install);
# - on disk (/var/tmp) and on tmpfs (/dev/shm); a tree on tmpfs is removed
#   right after its run, outside the timing (see rounds);
# - zstd | tar decodes terrapack's own payload, cut out of the installer
#   with the recipe of docs/FORMAT.md, so both decode the same stream.
# The tables go between the bench markers of docs/BENCHMARKS.md. Seconds on a
# shared 2-core machine are noisy: the load is printed; read the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${BENCH_RUNS:-5}
build_runs=${BENCH_BUILD_RUNS:-3} # a CPython build by makeself takes a minute
tp=${BENCH_TERRAPACK:-$PWD/bin/terrapack}
doc=${BENCH_DOC:-docs/BENCHMARKS.md}

need=()
for t in makeself zstd xorriso strace ssh-keygen /usr/bin/time; do command -v "$t" >/dev/null || need+=("$t"); done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq makeself zstd xorriso strace openssh-client time >/dev/null
  else echo "missing: ${need[*]} (apt-get install makeself zstd xorriso strace openssh-client time)" >&2; exit 1; fi
fi

# The trees: BENCH_TREES, or Go's and the pyenv CPython with the most entries.
if [ -n "${BENCH_TREES:-}" ]; then
  read -r -a trees <<<"$BENCH_TREES"
else
  trees=("$(go env GOROOT)")
  if command -v pyenv >/dev/null && [ -d "$(pyenv root)/versions" ]; then
    best= bestn=0
    for v in "$(pyenv root)"/versions/*/; do
      n=$(find "$v" | wc -l)
      if [ "$n" -gt "$bestn" ]; then best=${v%/} bestn=$n; fi
    done
    [ -n "$best" ] && trees+=("$best")
  else
    echo "bench: no pyenv CPython found; measuring the Go tree only" >&2
  fi
fi

# Short: pyenv's CPython trees allow install paths of 21 bytes (PY_VERSION
# starts at byte 22 of the prefix string in libpython); the longest path
# used is BASE/o/tps-N, 21 bytes.
disk=$(mktemp -d /var/tmp/tXXX)
ram=
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then ram=$(mktemp -d /dev/shm/tXXX)
else echo "bench: /dev/shm is not a tmpfs; skipping the tmpfs runs" >&2; fi
cleanup() { chmod -R u+w "$disk" ${ram:+"$ram"} 2>/dev/null; rm -rf "$disk" ${ram:+"$ram"}; }
trap cleanup EXIT
res=$disk/results.tsv # tree fs tool run wall user sys maxrss_kib; tools: tp terrapack, zt zstd|tar, ms makeself, xo xorriso
: >"$res"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Dropping the page cache needs root; without it the disk figures are
# taken with whatever the cache holds, and the table says so.
cold=yes
if ! [ -w /proc/sys/vm/drop_caches ]; then
  cold=no
  echo "bench: not root: the page cache cannot be dropped before the disk runs" >&2
fi

# timed TREE FS TOOL RUN CMD: one run, `sync`ed before, outside the timing;
# installs on disk (fs disk and sync) start with an empty page cache.
timed() {
  local tree=$1 fs=$2 tool=$3 run=$4 cmd=$5 t0 t1
  sync
  if [ "$cold" = yes ] && { [ "$fs" = disk ] || [ "$fs" = sync ]; }; then echo 3 >/proc/sys/vm/drop_caches; fi
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%U %S %M' -o "$disk/rusage" sh -c "$cmd" >/dev/null
  t1=$EPOCHREALTIME
  read -r user sys rss <"$disk/rusage"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tree" "$fs" "$tool" "$run" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b-a}')" "$user" "$sys" "$rss" >>"$res"
}

# stat FIELD TREE FS TOOL: median (or max for rss) over the timed runs.
median() {
  awk -F'\t' -v t="$2" -v f="$3" -v o="$4" -v c="$1" '$1==t && $2==f && $3==o && $4>0 {
      v = (c == "cpu") ? $6 + $7 : (c == "wall") ? $5 : $8; print v }' "$res" |
    sort -g | awk '{a[NR]=$1} END {if (NR == 0) exit; printf "%.2f", (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}
maxrss() { awk -F"\t" -v t="$1" -v o="$2" '$1==t && ($2=="disk" || $2=="tmpfs") && $3==o && $8>m {m=$8} END {printf "%d", m/1024}' "$res"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }

# rounds TREE FS BASE TOOLS...: a warm-up round, then $runs rounds in
# rotating order; each tool's command is in cmd_TOOL, with @D@ for its fresh
# folder under BASE. The caller clears BASE afterwards.
rounds() {
  local tree=$1 fs=$2 base=$3; shift 3
  local tools=("$@") n=${#tools[@]} r k tool d c last=$runs
  [ "$fs" = build ] && last=$build_runs
  for ((r = 0; r <= last; r++)); do
    for ((k = 0; k < n; k++)); do
      tool=${tools[$(((r + k) % n))]}
      d=$base/$tool-$r
      c=cmd_$tool
      timed "$tree" "$fs" "$tool" "$r" "${!c//@D@/$d}"
      # tmpfs has no discard: its tree goes right after the run, outside
      # the timing, so that the next run gets memory the guest still holds.
      # This VM hands memory freed for a while back to its host (free page
      # reporting); a run that has to fault it in again took up to 3 times
      # as long, kernel time tripled, for every tool alike.
      if [ "$fs" = tmpfs ]; then clear "$base"; fi
    done
  done
}
clear() { chmod -R u+w "$1" && rm -rf "${1:?}"/* && sync; }

md=$disk/tables.md
ssh-keygen -q -t ed25519 -N '' -C bench -f "$disk/key"
echo "| tree | tool | system calls | write | futex | nanosleep | fcntl | epoll_ctl |" >"$md.strace"
echo "|---|---|---|---|---|---|---|---|" >>"$md.strace"
{
  echo "| tree | file system | terrapack | signed, --verify-key | \`zstd -dc \\| tar -x\` | makeself --zstd | terrapack / zstd\\|tar | signed / zstd\\|tar | terrapack / makeself |"
  echo "|---|---|---|---|---|---|---|---|---|"
} >"$md.install"
{
  echo "| tree | terrapack build | makeself build | build ratio | terrapack size | makeself size | size ratio | \`tar \\| zstd -3\` size |"
  echo "|---|---|---|---|---|---|---|---|"
} >"$md.build"
{
  echo "| tree | \`--sync\` install | \`tar -x; sync\` | ratio | peak RSS terrapack | peak RSS zstd\\|tar | CPU s terrapack / zstd\\|tar / makeself (disk) |"
  echo "|---|---|---|---|---|---|---|"
} >"$md.other"

for tree in "${trees[@]}"; do
  tag=$(basename "$tree")
  files=$(find "$tree" | wc -l) bytes=$(du -sb "$tree" | cut -f1)
  echo "== $tree: $files entries, $((bytes / 1048576)) MiB" >&2
  desc="\`$tree\` ($files entries, $((bytes / 1048576)) MiB)"
  w=$disk/$tag && mkdir -p "$w/b"

  # Build: straight from the tree (its own path is the build prefix), into
  # fresh file names; makeself at its default zstd level 9.
  export cmd_tp="$tp build $tree -o @D@.run -q"
  export cmd_ms="makeself --zstd --nox11 --nomd5 --nocrc --sha256 --quiet $tree @D@.run demo true"
  rounds "$tag" build "$w/b" tp ms
  mv "$w/b/tp-$build_runs.run" "$w/t.run" && mv "$w/b/ms-$build_runs.run" "$w/m.run" && clear "$w/b"
  "$tp" build "$tree" -o "$w/s.run" -q --sign "$disk/key"
  tar -C "$tree" -cf - . | zstd -q -3 -T0 >"$w/p3.tar.zst"
  ts=$(stat -c %s "$w/t.run") ms=$(stat -c %s "$w/m.run") ps=$(stat -c %s "$w/p3.tar.zst")
  echo "| $desc | $(median wall "$tag" build tp) s | $(median wall "$tag" build ms) s | **$(ratio "$(median wall "$tag" build tp)" "$(median wall "$tag" build ms)")** | $ts | $ms | **$(ratio "$ts" "$ms")** | $ps |" >>"$md.build"

  # terrapack's payload, cut out as docs/FORMAT.md says.
  f=$w/t.run size=$(stat -c %s "$f")
  field() { tail -c 128 "$f" | od -An -t u8 -j "$1" -N 8 | tr -d ' '; }
  off=$(field 16) len=$(field 24)
  tail -c +$((off + 1)) "$f" | head -c "$len" >"$w/p.tar.zst"

  export cmd_tp="$w/t.run --to @D@ -q"
  export cmd_ts="$w/s.run --to @D@ -q --verify-key $disk/key.pub"
  export cmd_zt="mkdir @D@ && zstd -dcq $w/p.tar.zst | tar -x -C @D@"
  export cmd_ms="$w/m.run --quiet --noexec --target @D@"
  for fs in disk tmpfs; do
    base=$disk/o
    if [ "$fs" = tmpfs ]; then [ -n "$ram" ] || continue; base=$ram/o; fi
    mkdir -p "$base"
    echo "   install on $fs" >&2
    rounds "$tag" "$fs" "$base" tp ts zt ms
    clear "$base"
    a=$(median wall "$tag" "$fs" tp) b=$(median wall "$tag" "$fs" zt) c=$(median wall "$tag" "$fs" ms) d=$(median wall "$tag" "$fs" ts)
    echo "| $desc | $fs | $a s | $d s | $b s | $c s | **$(ratio "$a" "$b")** | **$(ratio "$d" "$b")** | **$(ratio "$a" "$c")** |" >>"$md.install"
  done

  # Where the time goes: system calls of one install on tmpfs (untimed).
  for t in tp zt; do
    [ -n "$ram" ] || break
    c=cmd_$t
    strace -f -c -o "$disk/strace" sh -c "${!c//@D@/$ram/o/s$t}" >/dev/null
    n() { awk -v s="$1" '$NF==s {print $4}' "$disk/strace"; }
    echo "| $desc | $t | $(n total) | $(n write) | $(n futex) | $(n nanosleep) | $(n fcntl) | $(n epoll_ctl) |" >>"$md.strace"
    clear "$ram/o"
  done

  echo "   --sync on disk" >&2
  export cmd_tps="$w/t.run --to @D@ -q --sync"
  export cmd_zts="mkdir @D@ && zstd -dcq $w/p.tar.zst | tar -x -C @D@ && sync"
  rounds "$tag" sync "$disk/o" tps zts
  clear "$disk/o"
  a=$(median wall "$tag" sync tps) b=$(median wall "$tag" sync zts)
  cpu="$(median cpu "$tag" disk tp) / $(median cpu "$tag" disk zt) / $(median cpu "$tag" disk ms)"
  echo "| $desc | $a s | $b s | **$(ratio "$a" "$b")** | $(maxrss "$tag" tp) MiB | $(maxrss "$tag" zt) MiB | $cpu |" >>"$md.other"

  if [ "$tree" = "${trees[0]}" ]; then
    mkdir -p "$w/disc" && cp "$w/t.run" "$w/disc/app.run"
    export cmd_tp="$tp iso $w/t.run -o @D@.iso -q" cmd_xo="xorriso -as mkisofs -quiet -R -J -o @D@.iso $w/disc 2>/dev/null"
    rounds "$tag" iso "$w/b" tp xo
    clear "$w/b"
    iso_ratio=$(ratio "$(median wall "$tag" iso xo)" "$(median wall "$tag" iso tp)")
  fi
  rm -rf "$w"
done

mkdir "$disk/empty"
"$tp" build "$disk/empty" -o "$disk/e.run" -q
e_size=$(stat -c %s "$disk/e.run")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

{
  echo "<!-- bench:begin (written by scripts/bench.sh; edit the text around it) -->"
  echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
  echo "$runs timed runs per tool after one warm-up ($build_runs for builds), medians of wall-clock seconds. Load average"
  echo "(1, 5, 15 min) $load_before before, $load_after after. Page cache dropped before each install on disk: $cold."
  echo
  echo "Install (verification, extraction, relocation and records included):"
  echo
  cat "$md.install"
  echo
  cat "$md.other"
  echo
  echo "System calls of one install on tmpfs (\`strace -f -c\`; tp terrapack, zt zstd | tar):"
  echo
  cat "$md.strace"
  echo
  echo "Build (into a new file each run):"
  echo
  cat "$md.build"
  echo
  echo "Near-empty installer: $e_size bytes ($(ratio "$e_size" 1048576) MiB). ISO of the Go installer:"
  echo "\`xorriso -as mkisofs -R -J\` takes ${iso_ratio:-?}× terrapack's time (SHA256SUMS pass included)."
  echo "<!-- bench:end -->"
} >"$md"
cp "$res" "${BENCH_TSV:-/dev/null}" 2>/dev/null || true
if grep -q '<!-- bench:begin' "$doc"; then
  awk -v f="$md" '/<!-- bench:begin/ {while ((getline l < f) > 0) print l; skip=1; next}
    /<!-- bench:end/ {skip=0; next} !skip' "$doc" >"$disk/doc" && cp "$disk/doc" "$doc"
else
  cat "$md" >>"$doc"
fi
cat "$md"
