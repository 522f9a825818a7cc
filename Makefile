# The README's two commands: `make demo` and `make test`. Everything else is a step of those.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help setup deps lab lab-down demo demo-cold test test-full test-upgrade test-plan lint sanity unit build integration molecule e2e e2e-full e2e-bridge testbed testbed-down clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

setup: ## virtualenv with the pinned Python dependencies (.venv)
	hack/setup.sh

deps: ## Debian packages, dockerd, QEMU binfmt handlers
	hack/deps.sh

lab: setup deps ## lab images and machines (cached), the lab cluster hosts, the offline bundle, their registry (playbooks/registry.yml, from the bundle) and the cluster and application images in it
	hack/lab.sh up --topology cluster
	hack/bundle.sh
	source hack/env.sh && ansible-playbook -i inventories/lab playbooks/registry.yml
	hack/images.sh push 172.29.0.5:5000 --ca .lab/registry/ca.crt --username "$$(cat .lab/registry/username)" --password-file .lab/registry/password
	XC_IMAGES_SET=apps hack/images.sh push 172.29.0.5:5000 --ca .lab/registry/ca.crt --username "$$(cat .lab/registry/username)" --password-file .lab/registry/password

lab-down: ## stop and remove the lab hosts
	hack/lab.sh down --topology cluster

demo: lab ## the main job: site.yml on inventories/lab, then a per-host summary
	hack/demo.sh

demo-cold: ## `make demo` from a fresh clone with an empty cache, as on a new machine (75-111 min measured; the full tier's last stage)
	hack/demo-cold.sh

test: ## the gate (CI): every stage, the tests of the gate tier (tests/tiers.yml), each stage timed; at most 35 min warm
	XC_TIER=gate hack/test.sh

test-full: ## the full tier: every test, every molecule scenario, e2e on every foreign machine (not in CI; before an issue is resolved)
	XC_TIER=full hack/test.sh

test-upgrade: setup deps ## playbooks/upgrade.yml on a lab of its own, from the previous minor (full tier; tests/e2e/test_upgrade.py)
	XC_TIER=full hack/e2e.sh -k test_upgrade

test-plan: setup ## which tier each test is in (tests/tiers.yml), per file; runs nothing
	hack/test.sh plan

lint sanity unit build integration molecule e2e: ## one stage of `make test` (XC_TIER=full: of `make test-full`)
	hack/test.sh $@

e2e-full: ## the e2e stage of the full tier (topology cluster-full: the loong64 and mips64el machines too)
	XC_TIER=full hack/test.sh e2e

e2e-bridge: ## the full tier's e2e on the bridge CNI: the first rollout, nodes, Pods and the Pod network of the lab cluster with kubernetes_cni: bridge (the gate's lab runs flannel)
	XC_TIER=full hack/test.sh e2e-bridge

testbed: setup ## build (cached) and start the Kubernetes testbed
	hack/testbed.sh up

testbed-down: ## stop the Kubernetes testbed
	hack/testbed.sh down

clean: ## remove local state (not the caches under /var/cache/xinchuang)
	-hack/testbed.sh down
	-hack/lab.sh down --topology cluster-full
	rm -rf .venv .collections .testbed .lab build .test-stages.log .test-reports
