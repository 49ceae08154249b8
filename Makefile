# Tacit: `make demo` runs the main job, `make test` runs the tests.
GO      ?= go
BIN     := bin/tacit
# An execution count, not a duration: a time limit can end a run mid-minimisation,
# which Go's fuzzer reports as a failure ("context deadline exceeded").
FUZZTIME ?= 60000x

.PHONY: all build demo demo-device test lint fuzz bench scale generate clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/tacit

# A coordinator and the 610 devices of the embedded MovieLens data on
# loopback QUIC, about 100 devices a round; then the central twin, side by side.
# Watch http://127.0.0.1:7080/ while it runs.
demo: build
	$(BIN) simulate --transport quic --http 127.0.0.1:7080 --clients-per-round 100 --rounds 60 --out out/demo --twin
	$(BIN) report out/demo

# One person's device, set up from their own ml-latest-small ratings, and 11
# other people's, in secure rounds with a coordinator on loopback; then the
# person's recommendations, each explained by their own past ratings. About
# a minute; its files land in out/demo-device.
demo-device: build
	TACIT=$(BIN) bash scripts/demo-device.sh

test: lint deploy-check
	$(GO) test -count=1 ./...
	$(MAKE) c-example gomobile-check
	$(MAKE) promtool-metrics
	$(MAKE) fuzz

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Every fuzz target, briefly; seeds live in each package's testdata/fuzz.
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

.PHONY: c-example gomobile-check promtool-metrics

# promtool (Debian's prometheus package) lints the /metrics text of a
# coordinator that ran two rounds (coordinator.TestMetricsExposition
# writes it to out/metrics.txt): names, units, suffixes, help.
promtool-metrics:
	@command -v promtool >/dev/null || { echo "promtool is missing: apt-get install -y prometheus"; exit 1; }
	TACIT_METRICS_OUT=$(CURDIR)/out/metrics.txt $(GO) test -count=1 -run '^TestMetricsExposition$$' ./coordinator
	promtool check metrics < out/metrics.txt

# The C API (device/cabi) as a shared library and its header in out/c, and
# examples/c/device.c compiled against them and run in a fresh directory.
c-example:
	$(GO) build -buildmode=c-shared -o out/c/libtacitdevice.so ./device/cabi
	$(CC) -Wall -Wextra -I out/c -o out/c/device examples/c/device.c -L out/c -ltacitdevice
	@dir=$$(mktemp -d) && LD_LIBRARY_PATH=$(CURDIR)/out/c out/c/device $$dir/device; rc=$$?; rm -rf $$dir; exit $$rc

# gobind (golang.org/x/mobile, pinned) over package device, as gomobile bind
# would run it for Android: fails on an error, or on an exported identifier
# it skips as unbindable. A go.work in out/gobind adds x/mobile, whose bind
# package gobind needs, without adding it to go.mod; the bindings go to
# out/gobind/_gen (the leading _ keeps them out of ./... for go vet), kept
# only when the check fails.
MOBILE_VERSION := v0.0.0-20261011034528-197770444867
GOBIND := bin/gobind
gomobile-check:
	@$(GO) version -m $(GOBIND) 2>/dev/null | grep -q 'golang.org/x/mobile[[:space:]]*$(MOBILE_VERSION)' || GOBIN=$(CURDIR)/bin $(GO) install golang.org/x/mobile/cmd/gobind@$(MOBILE_VERSION)
	@rm -rf out/gobind && mkdir -p out/gobind && \
	mob=$$($(GO) mod download -json golang.org/x/mobile@$(MOBILE_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p') && \
	printf 'go 1.26.0\n\nuse (\n\t%s\n\t%s\n)\n' "$(CURDIR)" "$$mob" > out/gobind/go.work
	@echo "gobind -lang=go,java ./device"; GOWORK=$(CURDIR)/out/gobind/go.work $(GOBIND) -lang=go,java -outdir out/gobind/_gen ./device 2>out/gobind/stderr; \
	rc=$$?; if [ $$rc -ne 0 ] || [ -s out/gobind/stderr ]; then cat out/gobind/stderr; echo "gobind failed ($$rc)"; exit 1; fi
	@skipped=$$(grep -rhoE --include='*.go' --include='*.java' 'skipped [a-z]+ [A-Za-z0-9_.]+' out/gobind/_gen | awk '{print $$3}' | sed 's/_\././' | sort -u); \
	if [ -n "$$skipped" ]; then for s in $$skipped; do echo "gobind skips $$s: gomobile cannot bind its type"; done; \
	  echo "the bindings are in out/gobind/_gen"; exit 1; fi; rm -rf out/gobind/_gen

bench:
	$(GO) test -run='^$$' -bench=. ./...
	$(MAKE) scale

# Memory and time of one round of 1,000 devices on large synthetic populations.
scale: build
	@for users in 100000 1000000; do \
	  echo "== synthetic:users=$$users,items=10000, one round of 1000 devices"; \
	  $(BIN) simulate --quiet \
	    --data synthetic:users=$$users,items=10000 --factors 32 \
	    --rounds 1 --clients-per-round 1000 --eval-users 1000 || exit 1; \
	done

# Regenerates proto/tacitpb from proto/tacit.proto with pinned tools:
# protoc 3.21.12 (Debian bookworm's protobuf-compiler) and protoc-gen-go v1.36.12.
PROTOC_GEN_GO := bin/protoc-gen-go
generate:
	@command -v protoc >/dev/null || (apt-get update && apt-get install -y protobuf-compiler)
	@protoc --version | grep -q '3.21.12' || echo "warning: protoc is not 3.21.12; the output may differ from the committed code"
	@$(PROTOC_GEN_GO) --version 2>/dev/null | grep -qx 'protoc-gen-go v1.36.12' || GOBIN=$(CURDIR)/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	protoc --plugin=protoc-gen-go=$(PROTOC_GEN_GO) --go_out=. --go_opt=module=github.com/tacitfl/tacit proto/tacit.proto

clean:
	rm -rf bin out

.PHONY: deploy-check

# The operator's files in deploy/: promtool checks the alert rules and the
# scrape config and runs the rules' unit tests; deploy/check's tests keep
# the dashboard, the rules, the Kubernetes manifests and the systemd unit in
# step with the coordinator (and have promtool parse the dashboard's
# queries, and systemd-analyze verify the unit when it is installed).
deploy-check:
	@command -v promtool >/dev/null || { echo "promtool is missing: apt-get install -y prometheus"; exit 1; }
	promtool check rules deploy/prometheus/tacit-alerts.yml
	promtool check config deploy/prometheus/prometheus.yml
	promtool test rules deploy/prometheus/tacit-alerts_test.yml
	$(GO) test -count=1 ./deploy/check
