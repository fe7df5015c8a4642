// Package tokenizer loads Hugging Face tokenizer.json files (and GPT-2's
// legacy encoder.json + vocab.bpe pair) and encodes and decodes text exactly
// like the Hugging Face tokenizers library for BPE vocabularies.
//
// Supported components, by tokenizer.json field:
//
//   - model: BPE, with "a b" string or ["a","b"] pair merges, ignore_merges,
//     byte_fallback, unk_token and fuse_unk, continuing_subword_prefix and
//     end_of_word_suffix. dropout must be null or 0.
//   - normalizer: Sequence, Prepend, Replace, Strip, Lowercase, NFC, NFD,
//     NFKC, NFKD.
//   - pre_tokenizer: ByteLevel, Split (Regex or String pattern, every
//     behavior, invert), Digits, Metaspace, Whitespace, WhitespaceSplit,
//     Sequence.
//   - post_processor: TemplateProcessing, ByteLevel, BertProcessing,
//     RobertaProcessing, Sequence.
//   - decoder: ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace,
//     Sequence.
//   - added_tokens with lstrip, rstrip, single_word, normalized and special.
//
// Any other component type makes Parse fail with an error naming the JSON
// field and the type value.
//
// Chat templates: lorafn renders conversations natively for the families
// in ChatTemplateNames (ChatML with the Qwen2, Qwen2.5 and SmolLM2 default
// system prompts, Llama-3, Llama-2, Mistral v0.2, Zephyr). DetectChatTemplate
// recognises a tokenizer_config.json chat_template by fragments only that
// family's template contains and refuses anything else (including near
// misses such as Mistral v0.1 or Llama-3.1), since a guessed format would
// train on text the served model never sees. Renderings are checked in the
// tests against @huggingface/jinja rendering the real template strings;
// where that engine and Python's Jinja differ (Llama-2 with an empty system
// message), lorafn follows transformers. RenderedChat.Train marks the
// assistant turns (content and end-of-turn marker) for completion-only
// loss.
//
// Training: BPETrainer learns a GPT-2 style byte-level BPE tokenizer.json
// deterministically (word counts, most frequent pair first, ties broken by
// the pair's strings). The tests check that Hugging Face's tokenizers loads
// the written file and encodes exactly as this package does.
//
// Split patterns are read from the file and translated from Oniguruma
// syntax (what the reference uses) to Go's RE2: \s, \S, \d, \w and their
// negations become explicit Unicode classes, ^ and $ become line anchors,
// and a top-level alternative \s+(?!\S) is emulated (RE2 has no
// lookahead): a whitespace run followed by a non-space character gives back
// its last character, which is then matched again.
//
// Known deviations from the reference:
//
//   - truncation and padding in tokenizer.json are ignored (Encode never
//     truncates or pads).
//   - Unicode tables are Go's (Unicode 15.0); the reference's regex engine
//     and normalization tables may classify code points added later
//     differently.
//   - Lowercase uses Go's simple per-rune lowering; Rust's to_lowercase
//     expands a few characters (e.g. U+0130) to two.
//   - Metaspace with prepend_scheme "first" treats a piece as first when it
//     starts the input text; the reference also looks at offsets moved by
//     normalizers that delete leading characters.
//   - Regex patterns may not combine the \s+(?!\S) emulation with ^, \A, \b
//     or \B; other lookarounds, atomic groups and possessive quantifiers are
//     rejected.
package tokenizer
