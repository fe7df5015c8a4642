package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is one entry of tokenizer.json's added_tokens.
type addedToken struct {
	content    string
	singleWord bool
	lstrip     bool
	rstrip     bool
	normalized bool
	special    bool
}

// segment is a stretch of input text: either an added token (id >= 0) or
// normalized text still to be pre-tokenized (id < 0).
type segment struct {
	text  string
	id    int
	first bool // starts the input text
}

// addedVocab holds the added tokens and cuts them out of input text first,
// as the reference's AddedVocabulary does.
type addedVocab struct {
	byContent  map[string]int
	byID       map[int]addedToken
	normalForm map[int]string // normalized content of normalized tokens, where it differs
	special    map[string]bool
	raw        tokenMatcher // tokens with normalized: false, matched on raw text
	norm       tokenMatcher // tokens with normalized: true, matched on normalized text
}

// newAddedVocab registers tokens in order. Like the reference, a token's id
// is its existing id (added earlier or in the model vocab), else the next
// free id after the model vocabulary; the ids written in the file are not
// used. lookup finds model ids; modelSize is the model vocab's entry count.
func newAddedVocab(tokens []addedToken, lookup func(string) (int, bool), modelSize int, n normalizer) *addedVocab {
	v := &addedVocab{
		byContent:  map[string]int{},
		byID:       map[int]addedToken{},
		normalForm: map[int]string{},
		special:    map[string]bool{},
	}
	nextID := modelSize
	for _, t := range tokens {
		if t.content == "" {
			continue
		}
		id, ok := v.byContent[t.content]
		if !ok {
			id, ok = lookup(t.content)
		}
		if !ok {
			id = nextID
			nextID++
		}
		if t.normalized && n != nil {
			if f := n.normalize(t.content); f != t.content {
				v.normalForm[id] = f
			}
		}
		v.byContent[t.content] = id
		if t.special {
			v.special[t.content] = true
		}
		v.byID[id] = t
	}
	var raw, norm []matchEntry
	for id, t := range v.byID {
		if t.normalized {
			pat := t.content
			if f, ok := v.normalForm[id]; ok {
				pat = f
			}
			norm = append(norm, matchEntry{pat, id})
		} else {
			raw = append(raw, matchEntry{t.content, id})
		}
	}
	v.raw = newTokenMatcher(raw)
	v.norm = newTokenMatcher(norm)
	return v
}

// split cuts added tokens out of text, normalizing the text between them.
func (v *addedVocab) split(text string, n normalizer) []segment {
	var out []segment
	for _, s := range v.find(text, v.raw, true, nil) {
		if s.id >= 0 {
			out = append(out, s)
			continue
		}
		if n != nil {
			s.text = n.normalize(s.text)
		}
		out = v.find(s.text, v.norm, s.first, out)
	}
	return out
}

// find appends the segments of text around the matches of m, applying each
// token's single_word, lstrip and rstrip rules; empty segments are dropped.
func (v *addedVocab) find(text string, m tokenMatcher, first bool, out []segment) []segment {
	emit := func(start, end, id int) {
		if end > start {
			out = append(out, segment{text: text[start:end], id: id, first: first && start == 0})
		}
	}
	done := 0
	for pos := 0; pos < len(text); {
		start, end, id := m.next(text, pos)
		if id < 0 {
			break
		}
		pos = end
		t := v.byID[id]
		if t.singleWord {
			before := start == 0 || !endsWithWordChar(text[:start])
			after := end == len(text) || !startsWithWordChar(text[end:])
			if !before || !after {
				continue
			}
		}
		if t.lstrip {
			start = max(len(strings.TrimRightFunc(text[:start], unicode.IsSpace)), done)
		}
		if t.rstrip {
			end = len(text) - len(strings.TrimLeftFunc(text[end:], unicode.IsSpace))
		}
		start = min(start, end)
		emit(done, start, -1)
		emit(start, end, id)
		done = end
	}
	emit(done, len(text), -1)
	return out
}

func endsWithWordChar(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isRustWordChar(r)
}

func startsWithWordChar(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isRustWordChar(r)
}

// idToToken returns an added token's text as the reference decodes it (the
// normalized form for normalized tokens).
func (v *addedVocab) idToToken(id int) (string, bool) {
	t, ok := v.byID[id]
	if !ok {
		return "", false
	}
	if f, ok := v.normalForm[id]; ok {
		return f, true
	}
	return t.content, true
}

// matchEntry is one pattern of a tokenMatcher.
type matchEntry struct {
	pattern string
	id      int
}

// tokenMatcher finds added tokens leftmost-longest, like an Aho-Corasick
// automaton in LeftmostLongest mode.
type tokenMatcher struct {
	byFirst [256][]matchEntry // by first byte, longest pattern first
}

func newTokenMatcher(entries []matchEntry) tokenMatcher {
	var m tokenMatcher
	sort.Slice(entries, func(i, j int) bool {
		if len(entries[i].pattern) != len(entries[j].pattern) {
			return len(entries[i].pattern) > len(entries[j].pattern)
		}
		return entries[i].pattern < entries[j].pattern
	})
	for _, e := range entries {
		if e.pattern != "" {
			b := e.pattern[0]
			m.byFirst[b] = append(m.byFirst[b], e)
		}
	}
	return m
}

// next returns the leftmost-longest match at or after pos, or id -1.
func (m *tokenMatcher) next(text string, pos int) (start, end, id int) {
	for i := pos; i < len(text); i++ {
		for _, e := range m.byFirst[text[i]] {
			if strings.HasPrefix(text[i:], e.pattern) {
				return i, i + len(e.pattern), e.id
			}
		}
	}
	return 0, 0, -1
}
