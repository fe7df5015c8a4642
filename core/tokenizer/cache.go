package tokenizer

import (
	"strings"
	"sync"
)

// Like the reference, cache at most wordCacheCapacity words, each shorter
// than wordCacheMaxLen bytes; once full, new words are not cached.
const (
	wordCacheCapacity = 10000
	wordCacheMaxLen   = 256
)

// wordCache maps a pre-tokenized word to its BPE ids. It is safe for
// concurrent use and bounded in size.
type wordCache struct {
	mu       sync.RWMutex
	capacity int
	m        map[string][]int
}

func newWordCache(capacity int) *wordCache {
	return &wordCache{capacity: capacity, m: make(map[string][]int)}
}

func (c *wordCache) get(word string) ([]int, bool) {
	if len(word) >= wordCacheMaxLen {
		return nil, false
	}
	c.mu.RLock()
	ids, ok := c.m[word]
	c.mu.RUnlock()
	return ids, ok
}

// put stores copies of word and ids.
func (c *wordCache) put(word string, ids []int) {
	if len(word) >= wordCacheMaxLen {
		return
	}
	c.mu.Lock()
	if len(c.m) < c.capacity {
		// Clone the key: word may point into a large input text.
		c.m[strings.Clone(word)] = append([]int(nil), ids...)
	}
	c.mu.Unlock()
}
