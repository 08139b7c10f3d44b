#!/usr/bin/env bash
# The image registry against Debian's docker-registry (distribution 2.8), in
# the same run, on the same disk:
#
#   1. resident memory while each receives a 1 GiB and a 10 GiB blob (peak
#      RSS during the upload minus RSS before it), first, while shipd's
#      allocator holds nothing of earlier uploads;
#   2. raw blob upload of 1 GiB with curl (POST, one streamed PATCH, PUT
#      with the digest) and its download, each round in alternating order;
#   3. docker push and pull of an image of 4 random 64 MiB layers (engine A
#      of the test bed), alternating too.
#
# Run: `benches/registry.sh` (as root: it provisions the test bed with
# scripts/engines up and builds shipd with --release). Rounds:
# SHIPCORE_BENCH_ROUNDS (default 3) for the blob, SHIPCORE_BENCH_PUSH_ROUNDS
# (default 5) for docker push, SHIPCORE_BENCH_PULLS (default 3) pulls from
# each per push round; SHIPCORE_BENCH_BIG=0 skips the 10 GiB upload.
# Figures go to stdout and to target/registry-bench.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${SHIPCORE_BENCH_ROUNDS:-3}
PUSH_ROUNDS=${SHIPCORE_BENCH_PUSH_ROUNDS:-5}
PULLS=${SHIPCORE_BENCH_PULLS:-3}
BIG=${SHIPCORE_BENCH_BIG:-1}

eval "$(scripts/engines up)"
: "${SHIPCORE_REGISTRY:?scripts/engines up gave no registry}"
DIST=http://$SHIPCORE_REGISTRY
DIST_DATA=${SHIPCORE_TESTBED:-/var/lib/shipcore-testbed}/registry/data
DIST_PID=$(cat "${SHIPCORE_TESTBED:-/var/lib/shipcore-testbed}/registry/registry.pid")
export DOCKER_HOST=$SHIPCORE_ENGINE_A

cargo build --release --bin shipd >&2

# The work directory is on the same disk as the registry's data.
WORK=$(mktemp -d /var/tmp/shipcore-regbench.XXXXXX)
export DOCKER_CONFIG=$WORK/docker-config
mkdir -p "$DOCKER_CONFIG"
OUT=target/registry-bench.txt
: >"$OUT"
say() { echo "$*" | tee -a "$OUT"; }

free_port() {
  local p
  for p in $(seq 25080 25180); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port in 25080-25180" >&2
  exit 1
}
PORT=$(free_port)
SHIPD=http://127.0.0.1:$PORT
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
SHIPD_ADMIN_PASSWORD=$PASSWORD target/release/shipd \
  --listen "127.0.0.1:$PORT" --data "$WORK/shipd" >"$WORK/shipd.log" 2>&1 &
SHIPD_PID=$!
CREATED=()   # "registry repo digest" of every blob pushed to docker-registry
cleanup() {
  kill "$SHIPD_PID" 2>/dev/null || true
  wait "$SHIPD_PID" 2>/dev/null || true
  for img in "${IMAGES[@]:-}"; do
    [ -n "$img" ] && docker rmi -f "$img" >/dev/null 2>&1 || true
  done
  # docker-registry keeps blobs until its offline garbage collection:
  # remove what this run put there.
  for d in "${CREATED[@]:-}"; do
    [ -n "$d" ] || continue
    local hex=${d#sha256:}
    rm -rf "$DIST_DATA/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex"
  done
  rm -rf "$DIST_DATA"/docker/registry/v2/repositories/bench-* 2>/dev/null || true
  rm -rf "$WORK"
}
IMAGES=()
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -s -o /dev/null -u "admin:$PASSWORD" "$SHIPD/v2/" && break
  sleep 0.1
done
curl -sf -o /dev/null -u "admin:$PASSWORD" "$SHIPD/v2/" || {
  cat "$WORK/shipd.log" >&2
  exit 1
}

now() { date +%s.%N; }
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# auth args per registry: shipd needs the account, docker-registry nothing.
auth() { if [ "$1" = "$SHIPD" ]; then echo "-u admin:$PASSWORD"; fi; }

# upload BASE REPO FILE DIGEST: POST, one streamed PATCH of FILE ("-" for
# stdin), PUT with the digest; prints the seconds taken.
upload() {
  local base=$1 repo=$2 file=$3 digest=$4 loc t0 t1 sep
  # shellcheck disable=SC2046
  t0=$(now)
  loc=$(curl -sS -f $(auth "$base") -X POST -D - -o /dev/null "$base/v2/$repo/blobs/uploads/" |
    awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
  [[ $loc == http* ]] || loc=$base$loc
  # shellcheck disable=SC2046
  loc=$(curl -sS -f $(auth "$base") -X PATCH -H 'Expect:' -H 'Content-Type: application/octet-stream' \
    -T "$file" -D - -o /dev/null "$loc" |
    awk 'tolower($1) == "location:" { print $2 }' | tr -d '\r')
  [[ $loc == http* ]] || loc=$base$loc
  sep='?'
  [[ $loc == *\?* ]] && sep='&'
  # shellcheck disable=SC2046
  curl -sS -f $(auth "$base") -X PUT -H 'Content-Length: 0' -o /dev/null "$loc${sep}digest=$digest"
  t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# download BASE REPO DIGEST: prints the seconds taken.
download() {
  # shellcheck disable=SC2046
  curl -sS -f $(auth "$1") -o /dev/null -w '%{time_total}' "$1/v2/$2/blobs/$3"
}

say "# registry bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
say "shipd $SHIPD (pid $SHIPD_PID), docker-registry $DIST (pid $DIST_PID)"

# ------------------------------------------------------ resident memory
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
# rss_rise PID BASE REPO BYTES DIGEST: streams BYTES zero bytes into one
# upload; prints the peak RSS during it minus the RSS before it, in MiB.
rss_rise() {
  local pid=$1 base=$2 repo=$3 bytes=$4 digest=$5 before peak
  echo 5 >"/proc/$pid/clear_refs" # resets the peak (VmHWM)
  before=$(kib "$pid" VmRSS)
  head -c "$bytes" /dev/zero | upload "$base" "$repo" - "$digest" >/dev/null
  peak=$(kib "$pid" VmHWM)
  awk -v a="$before" -v b="$peak" 'BEGIN { printf "%.1f MiB (%.1f -> %.1f)", (b - a) / 1024, a / 1024, b / 1024 }'
}
say ""
say "RSS rise while receiving a blob (streamed PATCH, chunked), first uploads shipd serves"
sizes="1073741824"
[ "$BIG" = 1 ] && sizes="$sizes 10737418240"
for bytes in $sizes; do
  label="$((bytes / 1073741824)) GiB"
  digest=sha256:$(head -c "$bytes" /dev/zero | sha256sum | cut -d' ' -f1)
  CREATED+=("$digest")
  s=$(rss_rise "$SHIPD_PID" "$SHIPD" bench-rss/a "$bytes" "$digest")
  d=$(rss_rise "$DIST_PID" "$DIST" bench-rss/a "$bytes" "$digest")
  say "$label: shipd $s; docker-registry $d"
  # Out of the way of what follows: both copies, and their writeback.
  hex=${digest#sha256:}
  rm -f "$WORK/shipd/registry/blobs/sha256/${hex:0:2}/$hex"
  rm -rf "$DIST_DATA/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex"
  sync
done
say ""
# ------------------------------------------------------------ 1 GiB blob
BLOB=$WORK/blob
head -c 1G /dev/urandom >"$BLOB"
SIZE=$(stat -c %s "$BLOB")
up_s=() up_d=() down_s=() down_d=()
for r in $(seq 1 "$ROUNDS"); do
  # A new digest every round: neither registry holds the blob already.
  printf '%016d' "$r$RANDOM" | dd of="$BLOB" conv=notrunc status=none
  DIGEST=sha256:$(sha256sum "$BLOB" | cut -d' ' -f1)
  CREATED+=("$DIGEST")
  repo=bench-raw/r$r
  if [ $((r % 2)) = 1 ]; then order="$SHIPD $DIST"; else order="$DIST $SHIPD"; fi
  for base in $order; do
    t=$(upload "$base" "$repo" "$BLOB" "$DIGEST")
    if [ "$base" = "$SHIPD" ]; then up_s+=("$t"); else up_d+=("$t"); fi
  done
  for base in $order; do
    t=$(download "$base" "$repo" "$DIGEST")
    if [ "$base" = "$SHIPD" ]; then down_s+=("$t"); else down_d+=("$t"); fi
  done
  say "round $r: upload shipd ${up_s[-1]} s, docker-registry ${up_d[-1]} s; download shipd ${down_s[-1]} s, docker-registry ${down_d[-1]} s"
done
mu_s=$(echo "${up_s[*]}" | median)
mu_d=$(echo "${up_d[*]}" | median)
md_s=$(echo "${down_s[*]}" | median)
md_d=$(echo "${down_d[*]}" | median)
say ""
say "1 GiB blob, median of $ROUNDS      shipd            docker-registry   shipd / docker-registry"
say "upload (POST, PATCH, PUT)    $(mbps "$SIZE" "$mu_s") MB/s ($mu_s s)   $(mbps "$SIZE" "$mu_d") MB/s ($mu_d s)   $(ratio "$mu_d" "$mu_s")x"
say "download (GET)               $(mbps "$SIZE" "$md_s") MB/s ($md_s s)   $(mbps "$SIZE" "$md_d") MB/s ($md_d s)   $(ratio "$md_d" "$md_s")x"
rm -f "$BLOB"

# ------------------------------------------------- docker push and pull
echo "$PASSWORD" | docker login -u admin --password-stdin "127.0.0.1:$PORT" >/dev/null
p_s=() p_d=() l_s=() l_d=()
for r in $(seq 1 "$PUSH_ROUNDS"); do
  ctx=$WORK/ctx
  mkdir -p "$ctx"
  printf 'FROM scratch\n' >"$ctx/Dockerfile"
  for i in 1 2 3 4; do
    head -c 64M /dev/urandom >"$ctx/layer$i"
    printf 'COPY layer%s /layer%s\n' "$i" "$i" >>"$ctx/Dockerfile"
  done
  local_tag=shipcore-regbench:r$r
  DOCKER_BUILDKIT=0 docker build -q -t "$local_tag" "$ctx" >/dev/null
  rm -rf "$ctx"
  s_tag=127.0.0.1:$PORT/bench-push/img:r$r
  d_tag=$SHIPCORE_REGISTRY/bench-push/img:r$r
  IMAGES+=("$local_tag" "$s_tag" "$d_tag")
  docker tag "$local_tag" "$s_tag"
  docker tag "$local_tag" "$d_tag"
  if [ $((r % 2)) = 1 ]; then order="s d"; else order="d s"; fi
  for w in $order; do
    tag=$s_tag
    [ "$w" = d ] && tag=$d_tag
    t0=$(now)
    docker push -q "$tag" >/dev/null
    t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
    if [ "$w" = s ]; then p_s+=("$t"); else p_d+=("$t"); fi
  done
  # The layers docker-registry now holds, for the cleanup.
  while read -r d; do CREATED+=("$d"); done < <(
    curl -sf -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      "$DIST/v2/bench-push/img/manifests/r$r" | grep -o 'sha256:[0-9a-f]\{64\}')
  # Nothing of the image stays on the engine: each pull fetches every layer.
  docker rmi -f "$local_tag" "$s_tag" "$d_tag" >/dev/null
  # Pulls are short and the engine's unpacking dominates them: PULLS
  # pairs per round.
  pulls=""
  for _ in $(seq 1 "$PULLS"); do
    for w in $order; do
      tag=$s_tag
      [ "$w" = d ] && tag=$d_tag
      t0=$(now)
      docker pull -q "$tag" >/dev/null
      t=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }')
      if [ "$w" = s ]; then l_s+=("$t"); else l_d+=("$t"); fi
      docker rmi -f "$tag" >/dev/null
    done
    pulls="$pulls shipd ${l_s[-1]} s, docker-registry ${l_d[-1]} s;"
  done
  say "push round $r: push shipd ${p_s[-1]} s, docker-registry ${p_d[-1]} s; pulls:$pulls"
done
docker logout "127.0.0.1:$PORT" >/dev/null
mp_s=$(echo "${p_s[*]}" | median)
mp_d=$(echo "${p_d[*]}" | median)
ml_s=$(echo "${l_s[*]}" | median)
ml_d=$(echo "${l_d[*]}" | median)
say ""
say "4 x 64 MiB image (medians)          shipd      docker-registry   shipd / docker-registry"
say "docker push ($PUSH_ROUNDS each)           $mp_s s    $mp_d s   $(ratio "$mp_d" "$mp_s")x"
say "docker pull ($((PUSH_ROUNDS * PULLS)) each)          $ml_s s    $ml_d s   $(ratio "$ml_d" "$ml_s")x"

say ""
say "(figures also in $OUT)"
