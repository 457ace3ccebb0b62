# Backtrack — developer entry points. `make demo` and `make test` work from a fresh clone:
# they install what is missing (npm packages, Debian packages, Maven jars) first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help prerequisites deps stack-up stack-down stack-status typecheck lint unit integration test demo check clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

prerequisites: ## install PostgreSQL server binaries, Java, Maven and the native build tools when missing (Debian/Ubuntu)
	@bash infra/prerequisites.sh

# CKJS_LINKING=dynamic: the native Kafka client (@confluentinc/kafka-javascript) is compiled
# against the system's OpenSSL and zlib instead of downloading a prebuilt binary or the
# libraries' sources. An .npmrc cannot carry it; every `npm ci` needs it in its environment.
node_modules/.package-lock.json: package.json package-lock.json
	CKJS_LINKING=dynamic npm ci --no-audit --no-fund

deps: prerequisites node_modules/.package-lock.json ## prerequisites and npm packages

stack-up: deps ## start the local stack (Postgres, Kafka, S3Proxy) or reuse the running one
	@npm run --silent stack:up

stack-down: ## stop the local stack and remove its data
	@npm run --silent stack:down

stack-status: ## show the local stack
	@npm run --silent stack:status

typecheck: deps ## tsc --noEmit
	npm run --silent typecheck

lint: deps ## eslint and prettier --check
	npm run --silent lint

unit: deps ## unit tests (no servers)
	npm run --silent test

integration: stack-up ## integration tests against the local stack
	npm run --silent test:int

test: deps ## everything CI runs: stack up, typecheck, lint, unit, integration, stack down
	@bash infra/test-all.sh

demo: deps ## the main job on the local stack
	@bash infra/demo.sh

check: typecheck lint unit integration ## all checks, leaving the stack running

clean: stack-down ## stop the stack, remove build output and cached jars
	rm -rf dist .reports infra/.jars
