# Build, run and test caddy-liveness. Usage: make -f xcaddy.mk <target>
#   build  writes ./caddy (Caddy with this module) with the xcaddy pinned in go.mod
#   run    builds, starts a demo upstream on loopback and runs
#          examples/Caddyfile (vendor local: the offline check) on
#          http://localhost:8080, with a selfie page at /
#   run-emulator  the same with the vendor emulators on loopback and
#          examples/emulator.Caddyfile (verdicts by marker, see the README)
#   test   everything CI runs: gofmt, go vet, staticcheck, go mod tidy,
#          the Caddy-free check of
#          internal/, go test -race, fuzz targets for FUZZTIME each,
#          build smoke test, two-instance test, differential suite,
#          hostile loads; the
#          tests that need Redis get a throwaway redis-server on a free
#          loopback port (scripts/with-redis.sh installs it if missing)
#   differential  the request reader against real upstream frameworks
#          (Werkzeug, gunicorn, Django, Starlette, FastAPI, multer,
#          busboy, formidable, PHP, Go net/http): no upstream may use an
#          image the gate did not judge; installs them first
#   reference  the offline check (vendor local) against minivision's own
#          pipeline in OpenCV DNN on ~115 generated photos; installs
#          Debian's python3-opencv first
#   multiinstance  two built Caddy processes sharing one Redis
#   soak   load and fault test: real Caddy, faulty emulator, hashing upstream
#   hostile  seven hostile loads (huge concurrent uploads, slow bodies,
#          header-only reconnects, a queue past max_concurrent, a vendor
#          that redirects or floods headers, 5000 images in one request)
#          against bare reverse_proxy and liveness, under a memory ceiling
#   browser  the selfie page of examples/Caddyfile in headless Chromium
#   bench-local  the offline check against onnxruntime-node, one thread
#   bench  what the gate costs: real Caddy bare vs gated side by side, plus
#          the Go benchmarks of the handler and the floor (BENCHMARKS.md)
#   fuzz   every fuzz target for FUZZTIME (make -f xcaddy.mk fuzz FUZZTIME=10m)

CADDY_VERSION ?= v2.11.9
MODULE        := github.com/caddy-liveness/caddy-liveness
EMULATOR_ADDR ?= 127.0.0.1:9780
UPSTREAM_ADDR ?= 127.0.0.1:9781
GO            ?= go
FUZZTIME      ?= 10s

.PHONY: failover build run run-emulator reference browser bench-local test fmt-check vet staticcheck tidy-check deps-check unit fuzz soak hostile smoke emulator multiinstance bench differential

build:
	$(GO) tool xcaddy build $(CADDY_VERSION) --with $(MODULE)@v0.0.0=. --output ./caddy

emulator:
	$(GO) build -o ./liveness-emulator ./cmd/liveness-emulator

# The emulator (here only the demo upstream's echo; with run-emulator the
# vendor APIs too) stops when Caddy does (Ctrl-C).
run: build emulator
	@./liveness-emulator -listen $(EMULATOR_ADDR) -echo $(UPSTREAM_ADDR) & \
	emu=$$!; trap 'kill $$emu 2>/dev/null' EXIT INT TERM; \
	./caddy run --config examples/Caddyfile --adapter caddyfile

run-emulator: build emulator
	@./liveness-emulator -listen $(EMULATOR_ADDR) -echo $(UPSTREAM_ADDR) & \
	emu=$$!; trap 'kill $$emu 2>/dev/null' EXIT INT TERM; \
	./caddy run --config examples/emulator.Caddyfile --adapter caddyfile

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# staticcheck, pinned in go.mod as a tool like xcaddy: the default build,
# the pure-Go kernels, and the suites behind build tags.
staticcheck:
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags purego ./vendors/local/...
	$(GO) tool staticcheck -tags 'bench multiinstance soak hostile browser differential reference failover' ./...

# go.mod and go.sum say exactly what the code imports.
tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod or go.sum is not tidy: run go mod tidy"; exit 1; }

# The packages under internal/ are Caddy-free and know no vendor, and the
# offline check's own packages (vendors/local/antispoof, detect, graph, kernels,
# preproc, weights) are Caddy-free: the compiler holds those rules through this check.
deps-check:
	@bad=$$($(GO) list -f '{{.ImportPath}}: {{join .Deps " "}}' ./internal/... | \
		grep -E ' (github.com/caddyserver/caddy|github.com/caddy-liveness/caddy-liveness/vendors)' | cut -d: -f1); \
	if [ -n "$$bad" ]; then echo "internal packages importing Caddy or the vendors:"; echo "$$bad"; exit 1; fi
	@bad=$$($(GO) list -f '{{.ImportPath}}: {{join .Deps " "}}' ./vendors/local/antispoof ./vendors/local/detect ./vendors/local/graph ./vendors/local/kernels ./vendors/local/preproc ./vendors/local/weights | \
		grep -E ' github.com/caddyserver/caddy' | cut -d: -f1); \
	if [ -n "$$bad" ]; then echo "offline-check packages importing Caddy:"; echo "$$bad"; exit 1; fi

# The offline check's kernels have Go assembly and a pure-Go fallback
# (build tag purego): both are tested.
unit:
	scripts/with-redis.sh $(GO) test -race -count=1 ./...
	$(GO) test -count=1 -tags purego ./vendors/local/...

# Each Fuzz function of every package for FUZZTIME; see scripts/fuzz.sh.
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# Thousands of uploads through the built Caddy; SOAK_REQUESTS,
# SOAK_CONCURRENCY and SOAK_UNIQUE_IMAGES change the load.
soak: build
	$(GO) test -tags soak -run TestSoak -v -count=1 -timeout 20m ./soak

# HOSTILE_ROWS=1,4 picks rows; HOSTILE_OUT=<file> writes the table too
# (see hostile/hostile_test.go for the rest).
hostile: build
	$(GO) test -tags hostile -run TestHostile -v -count=1 -timeout 15m ./hostile

# Uploads through the built Caddy with reverse_proxy only and with liveness
# in front (cache hits, then misses against a vendor answering after 50 ms),
# as markdown tables; BENCH_DURATION, BENCH_CONCURRENCY, BENCH_ROUNDS,
# BENCH_WARMUP and BENCH_MISS_DELAY change the load. Then the Go benchmarks
# of the handler alone and of the floor (SHA-256, base64, multipart).
bench: build
	$(GO) test -tags bench -run TestBench -v -count=1 -timeout 10m ./bench
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s .
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./internal/extract

# The built binary must carry the handler and the vendor modules; the
# examples adapt; every config in the docs is caddy fmt clean and adapts
# (scripts/check-docs.sh).
smoke: build
	./caddy list-modules > .modules.txt
	grep -qx 'http.handlers.liveness' .modules.txt
	for m in spoofsense videosdk facia verifik local; do grep -qx "http.handlers.liveness.vendors.$$m" .modules.txt; done
	grep -qx 'admin.api.liveness' .modules.txt
	./caddy liveness check --help > /dev/null
	for f in examples/Caddyfile examples/emulator.Caddyfile; do \
		./caddy adapt --config $$f --adapter caddyfile > /dev/null && ./caddy fmt $$f | diff -u $$f - || exit 1; done
	scripts/offline-check.sh ./caddy
	scripts/check-docs.sh ./caddy
	@rm -f .modules.txt
	@echo "smoke: ok"

reference:
	vendors/local/reference/run.sh -timeout 10m

# The selfie page (examples/site) in headless Chromium driven by
# playwright-core, with a fake camera and the file picker; installs them
# first.
browser: build
	browser/run.sh -timeout 10m

# The offline check against onnxruntime-node running the same networks,
# one thread, side by side (installs onnxruntime-node from npm first).
bench-local:
	bench/local/run.sh

# Two processes of the built Caddy against one Redis and the emulator:
# shared verdicts, duplicates seen across instances, one vendor call for
# simultaneous misses.
# Primary failovers under load, on deployments of their own (Sentinel:
# the primary stalls and its replica takes over; cluster: a master
# stalls): writes keep being answered, none that Redis acknowledged is
# lost.
failover:
	scripts/with-redis.sh $(GO) test -tags failover -run TestFailover -v -count=1 -timeout 5m ./internal/store

multiinstance: build
	scripts/with-redis.sh $(GO) test -tags multiinstance -run TestTwoInstances -v -count=1 -timeout 5m ./multiinstance

# Every request of the corpus and the mutation fuzzer through the built
# Caddy to each framework's own parser (DIFF_* variables: see
# internal/extract/differential/doc.go).
differential: build
	internal/extract/differential/upstreams/install.sh
	$(GO) test -tags differential -count=1 -v -timeout 10m ./internal/extract/differential

test: fmt-check vet staticcheck tidy-check deps-check unit fuzz smoke reference browser multiinstance failover differential hostile
