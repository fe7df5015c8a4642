package main

import (
	"strings"
	"testing"
)

func TestChunksKeepWordsAndBounds(t *testing.T) {
	para := strings.Repeat("The whale swam. ", 30) // 480 bytes, 30 sentences
	text := "Title\n\n" + para + "\n\n" + strings.Repeat("x", 130) + " tail"
	got := chunks(text, 100)
	var words []string
	for _, c := range got {
		if c == "" {
			t.Fatal("empty chunk")
		}
		if len(c) > 100 {
			t.Errorf("chunk of %d bytes, want at most 100: %q", len(c), c)
		}
		words = append(words, strings.Fields(c)...)
	}
	// Every word survives in order, except the one longer than a chunk,
	// which is cut.
	want := strings.Fields(text)
	joined, wantJoined := strings.Join(words, ""), strings.Join(want, "")
	if joined != wantJoined {
		t.Errorf("chunks lost or reordered text:\n got %q\nwant %q", joined, wantJoined)
	}
	// The long paragraph is cut at sentence ends.
	for _, c := range got[1 : len(got)-2] {
		if !strings.HasSuffix(c, "swam.") {
			t.Errorf("chunk %q does not end at a sentence end", c)
		}
	}
}

func TestSpaced(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e", "f"}
	if got := strings.Join(spaced(items, 3), ""); got != "ace" {
		t.Errorf("spaced = %q, want ace", got)
	}
	if got := len(spaced(items, 10)); got != 6 {
		t.Errorf("spaced kept %d of 6 items", got)
	}
}
