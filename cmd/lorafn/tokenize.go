package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lorafn/lorafn/core/tokenizer"
)

// maxLineBytes bounds one input line of lorafn tokenize.
const maxLineBytes = 64 << 20

func runTokenize(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("tokenize", stdout)
	tokPath := fs.String("tokenizer", "", "tokenizer.json, or a model folder holding one")
	noSpecial := fs.Bool("no-special", false, "do not add special tokens (encode(text, add_special_tokens=False)); with --decode, drop special tokens from the text")
	decode := fs.Bool("decode", false, "read one JSON list of ids per line and print its text")
	input := fs.String("input", "-", "file to read lines from; - is standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("tokenizer", *tokPath); err != nil {
		return err
	}
	tok, err := loadTokenizer(*tokPath)
	if err != nil {
		return err
	}
	in := io.Reader(os.Stdin)
	name := "stdin"
	if *input != "-" {
		f, err := os.Open(*input)
		if err != nil {
			return err
		}
		defer f.Close()
		in, name = f, *input
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<16), maxLineBytes)
	w := bufio.NewWriter(stdout)
	for line := 1; sc.Scan(); line++ {
		if line%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		text := strings.TrimSuffix(sc.Text(), "\r")
		if *decode {
			var ids []int
			if err := json.Unmarshal([]byte(text), &ids); err != nil {
				return fmt.Errorf("%s:%d: want a JSON list of token ids: %v", name, line, err)
			}
			for i, id := range ids {
				if _, ok := tok.Token(id); !ok {
					return fmt.Errorf("%s:%d: item %d: id %d is not in the vocabulary (size %d)", name, line, i, id, tok.VocabSize())
				}
			}
			fmt.Fprintln(w, tok.Decode(ids, *noSpecial))
			continue
		}
		ids := tok.Encode(text, !*noSpecial)
		if ids == nil {
			ids = []int{}
		}
		out, _ := json.Marshal(ids)
		w.Write(out)
		w.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return w.Flush()
}

// loadTokenizer loads tokenizer.json from a file or a model folder.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "tokenizer.json")
	}
	return tokenizer.Load(path)
}
