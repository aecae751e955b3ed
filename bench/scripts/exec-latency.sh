#!/usr/bin/env bash
# Pier's own benchmark: wall time of `docker exec <ctr> true` in a running container, RUNS runs
# after WARMUP warm-ups (the issue's target: at most half of Docker's). Uses the shared lib.sh.
# Env: DOCKER_HOST, IMAGE (busybox:local), RUNS (30), WARMUP (3), BENCH_SHARED (../shared/bench)
BENCH_SHARED=${BENCH_SHARED:-$(cd "$(dirname "$0")/../../../shared/bench" && pwd)}
. "$BENCH_SHARED/lib.sh"
RUNS=${RUNS:-30}; WARMUP=${WARMUP:-3}
LBL=exec-latency
check_engine
tmp=$(mktemp); trap 'rm -f "$tmp"; rm_label $LBL' EXIT
rm_label $LBL
id=$(d run -d --label docker-bench=$LBL "$IMAGE" sleep 86400) || die "run failed"
fail=0
for i in $(seq "$WARMUP"); do d exec "$id" true || fail=$((fail+1)); done
for i in $(seq "$RUNS"); do
  t0=$(now_ns)
  if d exec "$id" true; then
    t1=$(now_ns); ms_between "$t0" "$t1" >> "$tmp"; echo >> "$tmp"
  else
    fail=$((fail+1))
  fi
done
sed -i '/^$/d' "$tmp"
log "per-exec ms: $(tr '\n' ' ' < "$tmp")"
summary exec-latency "runs=$RUNS warmup=$WARMUP failures=$fail $(stats "$tmp" | sed -E 's/(median|min|max|mean)=/\1_ms=/g')"
