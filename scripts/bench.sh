#!/usr/bin/env bash
# bench.sh: every performance figure of DESIGN.md §7 in one run, then one
# summary. `make bench` runs it after `make build`. Figures are printed, never
# asserted: compare them with the targets shown beside them.
#
# Sections (BENCH_ONLY picks some, comma-separated; default all):
#   pades     signer/pades in-package benchmarks (sign vs crypto floor)
#   check     verify-before-publish: checking an output vs signing it, per type
#   module    bench/ module: signagent vs pdfsign rc1 over the corpus
#   bigsign   peak RSS signing one large PDF
#   peer      poppler's pdfsig, one process per file (needs pdfsig, certutil, pk12util)
#   pipeline  agent end to end vs the bare signer, settle-to-publish latency, drop-to-publish
#             latency of one file into an idle inbox and of bursts (default settle and 500ms);
#             the floor: what the design makes the agent add per document, same files
#   backlog   real binary with a backlog of small PDFs at start-up
#   signstash agent through signstash-sim: async 2,500 x 200 KB per transport (base64, multipart) side by side,
#             with the CPU of the agent's file work alone over the same files; 25 x 20 MB, 1 x 50 vs 50 x 1
#   share     network shares: one scan with 10,000 and 100,000 files present; write-to-signed
#             latency on a FUSE bindfs inbox written underneath (no events), one agent and two
#
# Knobs (environment):
#   BENCH_CORPUS          PDFs to sign            (default testdata/corpus)
#   BENCH_BENCHTIME       go test -benchtime      (1s)
#   BENCH_BIGSIGN_MB      size of the large PDF   (100)
#   BENCH_DOCS            pipeline documents      (1000)
#   BENCH_ROUNDS          pipeline rounds         (2)
#   BENCH_PACED           paced-latency documents (400; 0 skips)
#   BENCH_TRIALS          drop-to-publish trials, one file each, per settle (50; 0 skips)
#   BENCH_BURSTS          drop-to-publish bursts of 50 documents, per settle (3)
#   BENCH_WORKERS         signer workers          (0: one per CPU)
#   BENCH_BACKLOG         backlog documents       (100000)
#   BENCH_BACKLOG_SETTLE  backlog folder settle   (2s, the product default)
#   BENCH_BACKLOG_DRAIN   1: wait until the backlog is published (long)
#   BENCH_SIGNSTASH_SMALL documents of ~200 KB in one async request (2500)
#   BENCH_SIGNSTASH_LARGE documents of 20 MB in one async request   (25)
#   BENCH_SIGNSTASH_TRANSPORTS transports of the 2,500 x 200 KB run  (base64,multipart)
#   BENCH_SIGNSTASH_ONLY  signstash scenarios: small,large,requests  (all)
#   BENCH_SIGNSTASH_PERF  directory: profile the agent with perf record (unset: no profile)
#   BENCH_SIGNSTASH_CONTENT documents: padding (compresses well) or opaque (does not)  (padding)
#   BENCH_SHARE_DOCS      share latency documents (60; the two-agent run writes as many)
#   BENCH_KEEP            1: keep the work directory
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CGO_ENABLED=0
export PATH="$(go env GOPATH)/bin:$PATH"

corpus=${BENCH_CORPUS:-$root/testdata/corpus}
benchtime=${BENCH_BENCHTIME:-1s}
only=${BENCH_ONLY:-pades,check,module,bigsign,peer,pipeline,backlog,signstash,share}

work=$(mktemp -d "${TMPDIR:-/tmp}/signagent-bench.XXXXXX")
if [ "${BENCH_KEEP:-0}" = 1 ]; then
	echo "work directory: $work"
else
	trap 'rm -rf "$work"' EXIT
fi
summary=$work/summary
: >"$summary"
failed=""

want() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }
section() { printf '\n=== %s\n' "$*"; }
note() { printf '%s\n' "$*" >>"$summary"; }
# benchline: one `go test -bench` result per line as "name: value unit, ...".
benchline() { awk '{ printf "%s:", $1; for (i = 3; i < NF; i += 2) printf " %s %s%s", $(i), $(i+1), (i+2 < NF ? "," : ""); print "" }'; }
# run NAME CMD...: runs a section's command with its output shown and kept.
run() {
	local name=$1
	shift
	if "$@" 2>&1 | tee "$work/$name.out"; then
		return 0
	fi
	failed="$failed $name"
	note "[$name] FAILED (see the output above)"
	return 1
}

section "build"
start=$(date +%s)
go build -trimpath -o bin/signagent ./cmd/signagent &&
	go build -trimpath -o bin/signstash-sim ./cmd/signstash-sim &&
	go build -o "$work/pipeline" ./internal/bench/pipeline &&
	go build -o "$work/backlog" ./internal/bench/backlog &&
	go build -o "$work/share" ./internal/bench/share &&
	go build -o "$work/bigsign" ./internal/bench/bigsign || {
	echo "bench.sh: build failed" >&2
	exit 1
}
echo "go $(go env GOVERSION), $(nproc) CPUs, $(uname -sm); load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
[ -d "$corpus" ] || { echo "bench.sh: corpus $corpus not found; set BENCH_CORPUS" >&2; exit 1; }

if want pades; then
	section "signer/pades: BenchmarkSign (median corpus PDF) vs BenchmarkCryptoFloor (SHA-256 + one RSA-2048 signature)"
	if run pades go test -run '^$' -bench . -benchmem -benchtime "$benchtime" ./signer/pades; then
		grep -h '^Benchmark' "$work/pades.out" | benchline | sed 's/^/[pades] /' >>"$summary"
	fi
fi

if want check; then
	section "signer: BenchmarkCheckOutput — the check every output passes before it is published, beside signing it"
	if run check go test -run '^$' -bench BenchmarkCheckOutput -benchmem -benchtime "$benchtime" ./signer; then
		grep -h '^Benchmark' "$work/check.out" | benchline | sed 's/^/[check] /' >>"$summary"
	fi
fi

if want module; then
	section "bench/ module: signagent vs pdfsign rc1 over the corpus"
	if run module sh -c "cd bench && go test -run '^\$' -bench . -benchmem -benchtime '$benchtime'"; then
		grep -h '^Benchmark' "$work/module.out" | benchline | sed 's/^/[module] /' >>"$summary"
	fi
fi

if want bigsign; then
	mb=${BENCH_BIGSIGN_MB:-100}
	section "bigsign: peak RSS signing a ${mb} MiB PDF"
	if run bigsign "$work/bigsign" -mb "$mb" -dir "$work"; then
		note "[bigsign] $(tail -n 1 "$work/bigsign.out")"
	fi
fi

if want peer; then
	section "bench/peer.sh: poppler pdfsig -add-signature, one process per file"
	missing=""
	for t in pdfsig certutil pk12util openssl; do command -v "$t" >/dev/null || missing="$missing $t"; done
	if [ -n "$missing" ]; then
		echo "skipped: not installed:$missing (apt-get install poppler-utils libnss3-tools openssl)"
		note "[peer] skipped: not installed:$missing"
	elif run peer bench/peer.sh "$corpus"; then
		peer_us=$(sed -n 's/.* \([0-9][0-9]*\) us per file.*/\1/p' "$work/peer.out" | tail -n 1)
		ours_ns=$(awk '/BenchmarkCorpus\/signagent/ { for (i=3;i<=NF;i++) if ($(i)=="ns/doc") print $(i-1) }' "$work/module.out" 2>/dev/null | tail -n 1)
		line="[peer] $(tail -n 1 "$work/peer.out")"
		if [ -n "$peer_us" ] && [ -n "$ours_ns" ]; then
			line="$line; signagent $(awk -v n="$ours_ns" 'BEGIN{printf "%.0f", n/1000}') us per file in-process = $(awk -v p="$peer_us" -v n="$ours_ns" 'BEGIN{printf "%.0f", p*1000/n}')x cheaper (target >= 10x)"
		fi
		note "$line"
	fi
fi

if want pipeline; then
	section "pipeline: agent end to end vs the bare signer (in-process, same files, same workers)"
	if run pipeline "$work/pipeline" -corpus "$corpus" -docs "${BENCH_DOCS:-1000}" -rounds "${BENCH_ROUNDS:-2}" \
		-paced "${BENCH_PACED:-400}" -trials "${BENCH_TRIALS:-50}" -bursts "${BENCH_BURSTS:-3}" \
		-workers "${BENCH_WORKERS:-0}" -dir "$work/pipeline.d"; then
		grep -h '^workload\|^folder' "$work/pipeline.out" | sed 's/^/[pipeline] /' >>"$summary"
		grep -h '^RESULT' "$work/pipeline.out" | sed 's/^RESULT /[pipeline] /' >>"$summary"
	fi
fi

if want backlog; then
	section "backlog: bin/signagent run with ${BENCH_BACKLOG:-100000} PDFs waiting at start-up"
	drain=false
	[ "${BENCH_BACKLOG_DRAIN:-0}" = 1 ] && drain=true
	if run backlog "$work/backlog" -bin bin/signagent -files "${BENCH_BACKLOG:-100000}" \
		-settle "${BENCH_BACKLOG_SETTLE:-2s}" -workers "${BENCH_WORKERS:-0}" -drain="$drain" -dir "$work/backlog.d"; then
		grep -h '^RESULT' "$work/backlog.out" | sed 's/^RESULT /[backlog] /' >>"$summary"
	fi
fi

if want signstash; then
	section "signstash: agent through signstash-sim (async ${BENCH_SIGNSTASH_SMALL:-2500} x 200 KB per transport, ${BENCH_SIGNSTASH_LARGE:-25} x 20 MB; 1 x 50 vs 50 x 1)"
	if run signstash go run ./internal/bench/signstash -agent bin/signagent -sim bin/signstash-sim \
		-small "${BENCH_SIGNSTASH_SMALL:-2500}" -large "${BENCH_SIGNSTASH_LARGE:-25}" \
		-transports "${BENCH_SIGNSTASH_TRANSPORTS:-base64,multipart}" -only "${BENCH_SIGNSTASH_ONLY:-small,large,requests}" \
		-perf "${BENCH_SIGNSTASH_PERF:-}" -content "${BENCH_SIGNSTASH_CONTENT:-padding}"; then
		grep -h '^RESULT' "$work/signstash.out" | sed 's/^RESULT /[signstash] /' >>"$summary"
	fi
fi

if want share; then
	section "share: one scan of an inbox with 10,000 and 100,000 files (deep: list + stat all; listed: shallow, list only; unchanged: one stat)"
	if run share-scan go test -run '^$' -bench BenchmarkScan -benchtime 5x ./watcher; then
		grep -h '^Benchmark' "$work/share-scan.out" | benchline | sed 's/^/[share] /' >>"$summary"
	fi
	section "share: write-to-signed latency, inbox on a FUSE bindfs mount written from underneath (no file events)"
	if run share "$work/share" -bin bin/signagent -docs "${BENCH_SHARE_DOCS:-60}" -dir "$work/share.d"; then
		grep -h '^RESULT' "$work/share.out" | sed 's/^RESULT /[share] /' >>"$summary"
	fi
	rm -rf "$work/share.d"
	section "share: two agents with separate data directories on the same inbox: each document signed exactly once"
	if run share2 "$work/share" -bin bin/signagent -agents 2 -docs "${BENCH_SHARE_DOCS:-60}" -gap 200ms -dir "$work/share2.d"; then
		grep -h '^RESULT' "$work/share2.out" | sed 's/^RESULT /[share, 2 agents] /' >>"$summary"
	fi
fi

printf '\n=== summary (%ss; %s CPUs; load average now %s)\n' "$(($(date +%s) - start))" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
cat "$summary"
if [ -n "$failed" ]; then
	echo "failed sections:$failed"
	exit 1
fi
