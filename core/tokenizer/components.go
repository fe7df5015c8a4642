package tokenizer

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// parser builds pipeline components from their JSON; path is the JSON
// field being parsed, for error messages.
type parser struct {
	table *byteTable
}

// typed reads a component's "type" and decodes the whole object into v.
func typed(raw json.RawMessage, path string, v any) (string, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if head.Type == nil {
		return "", fmt.Errorf("%s: missing \"type\"", path)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return "", fmt.Errorf("%s (type %q): %w", path, *head.Type, err)
	}
	return *head.Type, nil
}

func unknownType(path, typ string) error {
	return fmt.Errorf("%s: unsupported type %q", path, typ)
}

// patternJSON is {"String": "..."} or {"Regex": "..."}.
type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

// compile returns a regex for Regex patterns, or nil and the literal.
func (p patternJSON) compile(path string) (*splitRegex, string, error) {
	switch {
	case p.Regex != nil:
		re, err := compilePattern(*p.Regex)
		if err != nil {
			return nil, "", fmt.Errorf("%s.pattern.Regex: %w", path, err)
		}
		return re, "", nil
	case p.String != nil:
		return nil, *p.String, nil
	}
	return nil, "", fmt.Errorf("%s.pattern: want {\"String\": ...} or {\"Regex\": ...}", path)
}

type componentJSON struct {
	// Sequence members.
	Normalizers   []json.RawMessage `json:"normalizers"`
	Pretokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`
	Decoders      []json.RawMessage `json:"decoders"`

	Pattern  patternJSON `json:"pattern"`
	Content  string      `json:"content"`
	Prepend  string      `json:"prepend"`
	Behavior string      `json:"behavior"`
	Invert   bool        `json:"invert"`

	AddPrefixSpace   *bool  `json:"add_prefix_space"`
	UseRegex         *bool  `json:"use_regex"`
	IndividualDigits bool   `json:"individual_digits"`
	Replacement      string `json:"replacement"`
	PrependScheme    string `json:"prepend_scheme"`
	Split            *bool  `json:"split"`

	StripLeft  bool `json:"strip_left"`
	StripRight bool `json:"strip_right"`
	Start      int  `json:"start"`
	Stop       int  `json:"stop"`

	Single        json.RawMessage             `json:"single"`
	SpecialTokens map[string]specialTokenJSON `json:"special_tokens"`
	Sep           []json.RawMessage           `json:"sep"`
	Cls           []json.RawMessage           `json:"cls"`
}

type specialTokenJSON struct {
	ID  string `json:"id"`
	IDs []int  `json:"ids"`
}

func (p *parser) normalizer(raw json.RawMessage, path string) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c componentJSON
	typ, err := typed(raw, path, &c)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var seq sequenceNorm
		for i, r := range c.Normalizers {
			n, err := p.normalizer(r, fmt.Sprintf("%s.normalizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if n != nil {
				seq = append(seq, n)
			}
		}
		return seq, nil
	case "Prepend":
		return prependNorm{prefix: c.Prepend}, nil
	case "Replace":
		re, lit, err := c.Pattern.compile(path)
		if err != nil {
			return nil, err
		}
		return &replaceNorm{re: re, literal: lit, content: c.Content}, nil
	case "Strip":
		return stripNorm{left: c.StripLeft, right: c.StripRight}, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "NFC", "NFD", "NFKC", "NFKD":
		return unicodeNorm(typ), nil
	}
	return nil, unknownType(path, typ)
}

func (p *parser) preTokenizer(raw json.RawMessage, path string) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c componentJSON
	typ, err := typed(raw, path, &c)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var seq sequencePre
		for i, r := range c.Pretokenizers {
			pt, err := p.preTokenizer(r, fmt.Sprintf("%s.pretokenizers[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if pt != nil {
				seq = append(seq, pt)
			}
		}
		return seq, nil
	case "ByteLevel":
		b := &byteLevelPre{addPrefixSpace: c.AddPrefixSpace == nil || *c.AddPrefixSpace, table: p.table}
		if c.UseRegex == nil || *c.UseRegex {
			if b.re, err = compilePattern(gpt2Pattern); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		return b, nil
	case "Split":
		re, lit, err := c.Pattern.compile(path)
		if err != nil {
			return nil, err
		}
		b, err := parseBehavior(c.Behavior)
		if err != nil {
			return nil, fmt.Errorf("%s.behavior: %w", path, err)
		}
		return &splitPre{re: re, literal: lit, behavior: b, invert: c.Invert}, nil
	case "Digits":
		return newDigitsPre(c.IndividualDigits), nil
	case "Metaspace":
		return parseMetaspace(c, path)
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return &funcPre{match: isWhiteSpace, behavior: behaviorRemoved}, nil
	}
	return nil, unknownType(path, typ)
}

func parseMetaspace(c componentJSON, path string) (*metaspacePre, error) {
	r, size := utf8.DecodeRuneInString(c.Replacement)
	if size == 0 || size != len(c.Replacement) {
		return nil, fmt.Errorf("%s.replacement: want one character, got %q", path, c.Replacement)
	}
	m := &metaspacePre{replacement: r, split: c.Split == nil || *c.Split}
	switch c.PrependScheme {
	case "", "always":
		m.scheme = prependAlways
	case "first":
		m.scheme = prependFirst
	case "never":
		m.scheme = prependNever
	default:
		return nil, fmt.Errorf("%s.prepend_scheme: unknown value %q", path, c.PrependScheme)
	}
	if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
		if c.PrependScheme != "" && m.scheme != prependNever {
			return nil, fmt.Errorf("%s: add_prefix_space false contradicts prepend_scheme %q", path, c.PrependScheme)
		}
		m.scheme = prependNever
	}
	return m, nil
}

func (p *parser) postProcessor(raw json.RawMessage, path string) (postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c componentJSON
	typ, err := typed(raw, path, &c)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var seq sequencePost
		for i, r := range c.Processors {
			pp, err := p.postProcessor(r, fmt.Sprintf("%s.processors[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if pp != nil {
				seq = append(seq, pp)
			}
		}
		return seq, nil
	case "ByteLevel":
		return nil, nil // only trims offsets; ids are unchanged
	case "TemplateProcessing":
		return parseTemplate(c, path)
	case "BertProcessing", "RobertaProcessing":
		cls, err := tokenIDPair(c.Cls, path+".cls")
		if err != nil {
			return nil, err
		}
		sep, err := tokenIDPair(c.Sep, path+".sep")
		if err != nil {
			return nil, err
		}
		return wrapPost{before: cls, after: sep}, nil
	}
	return nil, unknownType(path, typ)
}

// tokenIDPair reads a ["token", id] pair and returns the id.
func tokenIDPair(raw []json.RawMessage, path string) (int, error) {
	var id int
	if len(raw) != 2 || json.Unmarshal(raw[1], &id) != nil {
		return 0, fmt.Errorf("%s: want [\"token\", id]", path)
	}
	return id, nil
}

func (p *parser) decoder(raw json.RawMessage, path string) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	var c componentJSON
	typ, err := typed(raw, path, &c)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		var seq sequenceDec
		for i, r := range c.Decoders {
			d, err := p.decoder(r, fmt.Sprintf("%s.decoders[%d]", path, i))
			if err != nil {
				return nil, err
			}
			if d != nil {
				seq = append(seq, d)
			}
		}
		return seq, nil
	case "ByteLevel":
		return byteLevelDec{table: p.table}, nil
	case "Replace":
		re, lit, err := c.Pattern.compile(path)
		if err != nil {
			return nil, err
		}
		return replaceDec{r: &replaceNorm{re: re, literal: lit, content: c.Content}}, nil
	case "ByteFallback":
		return byteFallbackDec{}, nil
	case "Fuse":
		return fuseDec{}, nil
	case "Strip":
		r, size := utf8.DecodeRuneInString(c.Content)
		if size == 0 || size != len(c.Content) {
			return nil, fmt.Errorf("%s.content: want one character, got %q", path, c.Content)
		}
		if c.Start < 0 || c.Stop < 0 {
			return nil, fmt.Errorf("%s: start and stop must not be negative", path)
		}
		return stripDec{content: r, start: c.Start, stop: c.Stop}, nil
	case "Metaspace":
		m, err := parseMetaspace(c, path)
		if err != nil {
			return nil, err
		}
		return metaspaceDec{replacement: m.replacement, scheme: m.scheme}, nil
	}
	return nil, unknownType(path, typ)
}
