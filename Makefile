# Targets for building, testing and measuring the sandbox. `make help` lists them.
CARGO ?= cargo
# Where cargo puts what it builds (the target is named in .cargo/config.toml).
OUT = target/x86_64-unknown-linux-gnu

.PHONY: help deps build release test test-cgroup2 test-cgroup1 lint fmt bench load doctor languages rootfs clean

help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# What `make test` needs beyond the Rust toolchain, gcc and Python: Debian's python3 (run
# inside the sandbox), runuser (rootless tests), mmdebstrap (the built-image test), chromium
# and chromedriver (the playground's browser test).
TEST_PACKAGES = python3 util-linux mmdebstrap chromium chromium-driver

deps: ## Install what the tests need from Debian's packages (needs root; CI runs it)
	@missing="$$(for p in $(TEST_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || printf '%s ' $$p; done)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else echo "every test dependency is installed"; fi

build: ## Build everything (debug)
	$(CARGO) build --workspace

release: ## Build the runner binary optimized (static): target/x86_64-unknown-linux-gnu/release/runner
	$(CARGO) build --release -p runner-cli

test: deps languages ## Run every test (after installing what they need), then the sandbox's cases again warm; needs root, as in CI
	$(CARGO) test --workspace --no-fail-fast
	SANDBOX_TEST_WARM=1 $(CARGO) test -p sandbox --no-fail-fast --test statuses --test isolation --test hardening --test accuracy

test-cgroup2: ## The sandbox's kernel tests inside a QEMU guest with pure cgroup v2 (needs root, qemu)
	./tests/vm/run.sh

test-cgroup1: ## The same guest with the controllers on cgroup v1
	./tests/vm/run.sh --v1

lint: ## clippy (warnings are errors) and rustfmt check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check

fmt: ## Format the code
	$(CARGO) fmt --all

bench: ## Per-run overhead against the bare program and bwrap, and the judge's per-test overhead (needs hyperfine, bubblewrap)
	./bench/run.sh
	./bench/judge.sh

load: ## judge-server under 64 concurrent clients (wrk; DURATION=60 seconds per language; not in CI)
	./bench/load.sh

doctor: release ## What this host supports and what a run here enforces
	./$(OUT)/release/runner doctor

languages: ## Install the shipped languages' toolchains from Debian's packages (needs root)
	$(CARGO) build -q -p runner-cli
	@pkgs="$$(./$(OUT)/debug/runner languages --packages)"; \
	if [ -n "$$pkgs" ]; then \
	  echo "installing: $$pkgs"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$pkgs; \
	else echo "every shipped language's toolchain is installed"; fi
	./$(OUT)/debug/runner languages

ROOTFS ?= python3
rootfs: ## Build the root filesystem image ROOTFS (default python3) with mmdebstrap
	$(CARGO) build -q -p runner-cli
	command -v mmdebstrap >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap)
	./$(OUT)/debug/runner rootfs build $(ROOTFS)
	./$(OUT)/debug/runner rootfs list

clean: ## Remove build output
	$(CARGO) clean
