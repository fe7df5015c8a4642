package data_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lorafn/lorafn/core/data"
)

// bytesEncoder is a toy tokenizer: one token per byte. Real callers pass
// a *tokenizer.Tokenizer.
type bytesEncoder struct{}

func (bytesEncoder) Encode(text string, addSpecial bool) []int {
	ids := make([]int, len(text))
	for i := range text {
		ids[i] = int(text[i])
	}
	return ids
}
func (bytesEncoder) VocabSize() int                 { return 256 }
func (bytesEncoder) TokenID(tok string) (int, bool) { return 0, false }

func ExamplePrepare() {
	out, _ := os.MkdirTemp("", "prep")
	defer os.RemoveAll(out)
	jsonl := `{"prompt": "2+2=", "completion": "4"}
{"text": 5}
{"prompt": "3+3=", "completion": "6"}
`
	stats, err := data.Prepare(context.Background(), data.NewJSONLReader(strings.NewReader(jsonl), "sums.jsonl"),
		bytesEncoder{}, out, data.Options{ErrorBudget: 0.5})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(stats.Accepted, "accepted;", stats.Rejections[0].Detail)

	train, err := data.OpenShards(filepath.Join(out, data.TrainDir))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer train.Close()
	ex, _ := train.Example(1)
	fmt.Println(ex.IDs)
	fmt.Println(ex.Labels) // only the completion carries loss
	// Output:
	// 2 accepted; sums.jsonl:2: field "text": want a string, got a number
	// [51 43 51 61 54]
	// [-100 -100 -100 -100 54]
}
