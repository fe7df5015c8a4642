// Package blobtest checks that a blob.Store behaves as the interface
// documents, like testing/fstest.TestFS does for file systems. Every
// implementation runs the same suite.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/lorafn/lorafn/functions/blob"
)

// Run checks store, which must start empty. large is the size in bytes of
// one object written and read back whole (pick one above an
// implementation's multipart threshold to cover that path).
func Run(t *testing.T, store blob.Store, large int) {
	ctx := context.Background()

	t.Run("missing", func(t *testing.T) {
		if _, _, err := store.Get(ctx, "nope/x"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Get of a missing key: %v, want ErrNotFound", err)
		}
		if _, err := store.Head(ctx, "nope/x"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Head of a missing key: %v, want ErrNotFound", err)
		}
		var be *blob.Error
		if _, err := store.Head(ctx, "nope/x"); !errors.As(err, &be) || be.Op != "head" || !strings.Contains(be.Key, "nope/x") {
			t.Errorf("Head error %v does not name the operation and key", err)
		}
		if err := store.Delete(ctx, "nope/x"); err != nil {
			t.Errorf("Delete of a missing key: %v, want success", err)
		}
	})

	t.Run("put-get-head", func(t *testing.T) {
		etag, err := store.Put(ctx, "runs/r1/status.json", strings.NewReader(`{"step":3}`), blob.PutOptions{ContentType: "application/json"})
		if err != nil || etag == "" {
			t.Fatalf("Put = %q, %v", etag, err)
		}
		got, info, err := blob.ReadAll(ctx, store, "runs/r1/status.json")
		if err != nil || string(got) != `{"step":3}` {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
		if info.ETag != etag || info.Size != 10 || info.Key != "runs/r1/status.json" {
			t.Errorf("Get info = %+v, want ETag %s size 10", info, etag)
		}
		h, err := store.Head(ctx, "runs/r1/status.json")
		if err != nil || h.ETag != etag || h.Size != 10 || h.LastModified.IsZero() {
			t.Errorf("Head = %+v, %v", h, err)
		}
		etag2, err := store.Put(ctx, "runs/r1/status.json", strings.NewReader(`{"step":4}`), blob.PutOptions{})
		if err != nil || etag2 == etag {
			t.Errorf("overwrite: ETag %q (was %q), %v; want a new ETag", etag2, etag, err)
		}
		if _, err := store.Put(ctx, "empty", strings.NewReader(""), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if got, info, err := blob.ReadAll(ctx, store, "empty"); err != nil || len(got) != 0 || info.Size != 0 {
			t.Errorf("empty object = %q %+v %v", got, info, err)
		}
	})

	t.Run("if-none-match", func(t *testing.T) {
		if _, err := store.Put(ctx, "runs/r2/manifest.json", strings.NewReader("first"), blob.PutOptions{IfNoneMatch: true}); err != nil {
			t.Fatalf("create: %v", err)
		}
		_, err := store.Put(ctx, "runs/r2/manifest.json", strings.NewReader("second"), blob.PutOptions{IfNoneMatch: true})
		if !errors.Is(err, blob.ErrPreconditionFailed) {
			t.Errorf("second create: %v, want ErrPreconditionFailed", err)
		}
		if got, _, _ := blob.ReadAll(ctx, store, "runs/r2/manifest.json"); string(got) != "first" {
			t.Errorf("failed create changed the object to %q", got)
		}
	})

	t.Run("if-match", func(t *testing.T) {
		e1, err := store.Put(ctx, "adapters/a/CURRENT.json", strings.NewReader("v1"), blob.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e2, err := store.Put(ctx, "adapters/a/CURRENT.json", strings.NewReader("v2"), blob.PutOptions{IfMatch: e1})
		if err != nil {
			t.Fatalf("move with the current ETag: %v", err)
		}
		_, err = store.Put(ctx, "adapters/a/CURRENT.json", strings.NewReader("v3"), blob.PutOptions{IfMatch: e1})
		if !errors.Is(err, blob.ErrPreconditionFailed) {
			t.Errorf("move with a stale ETag: %v, want ErrPreconditionFailed", err)
		}
		_, err = store.Put(ctx, "adapters/none/CURRENT.json", strings.NewReader("v1"), blob.PutOptions{IfMatch: e2})
		if !errors.Is(err, blob.ErrPreconditionFailed) {
			t.Errorf("If-Match on a missing key: %v, want ErrPreconditionFailed", err)
		}
		if got, info, _ := blob.ReadAll(ctx, store, "adapters/a/CURRENT.json"); string(got) != "v2" || info.ETag != e2 {
			t.Errorf("after a failed move: %q %s, want v2 %s", got, info.ETag, e2)
		}
	})

	t.Run("race", func(t *testing.T) {
		// Of several concurrent creates exactly one wins, and of several
		// concurrent moves from the same ETag at most one.
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = store.Put(ctx, "race/claim", strings.NewReader(strings.Repeat("x", i+1)), blob.PutOptions{IfNoneMatch: true})
			}()
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !errors.Is(err, blob.ErrPreconditionFailed) {
				t.Errorf("losing create: %v, want ErrPreconditionFailed", err)
			}
		}
		if wins != 1 {
			t.Errorf("%d concurrent creates succeeded, want 1", wins)
		}
		base, err := store.Put(ctx, "race/pointer", strings.NewReader("base"), blob.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = store.Put(ctx, "race/pointer", strings.NewReader(strings.Repeat("y", i+1)), blob.PutOptions{IfMatch: base})
			}()
		}
		wg.Wait()
		wins = 0
		for _, err := range errs {
			if err == nil {
				wins++
			}
		}
		if wins != 1 {
			t.Errorf("%d concurrent moves from one ETag succeeded, want 1", wins)
		}
	})

	t.Run("list", func(t *testing.T) {
		keys := []string{"list/b", "list/a/2", "list/a/1", "list/a.txt", "list-other", "lis"}
		for _, k := range keys {
			if _, err := store.Put(ctx, k, strings.NewReader(k), blob.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		infos, err := store.List(ctx, "list/")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, i := range infos {
			got = append(got, i.Key)
			if i.Size != int64(len(i.Key)) || i.ETag == "" {
				t.Errorf("List entry %+v: wrong size or no ETag", i)
			}
		}
		if want := "list/a.txt list/a/1 list/a/2 list/b"; strings.Join(got, " ") != want {
			t.Errorf("List(list/) = %v, want %s (byte order)", got, want)
		}
		if infos, err := store.List(ctx, "list/a/"); err != nil || len(infos) != 2 {
			t.Errorf("List(list/a/) = %v, %v", infos, err)
		}
		if infos, err := store.List(ctx, "zzz/"); err != nil || len(infos) != 0 {
			t.Errorf("List of an empty prefix = %v, %v", infos, err)
		}
		if err := store.Delete(ctx, "list/a/1"); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Head(ctx, "list/a/1"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("Head after Delete: %v, want ErrNotFound", err)
		}
	})

	t.Run("large", func(t *testing.T) {
		data := make([]byte, large)
		for i := range data {
			data[i] = byte(i*7 + i/4099)
		}
		etag, err := store.Put(ctx, "models/m/model.safetensors", bytes.NewReader(data), blob.PutOptions{IfNoneMatch: true})
		if err != nil {
			t.Fatal(err)
		}
		rc, info, err := store.Get(ctx, "models/m/model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) || info.Size != int64(large) || info.ETag != etag {
			t.Errorf("large object: %d bytes back (want %d), equal %v, ETag %s vs %s, %v", len(got), large, bytes.Equal(got, data), info.ETag, etag, err)
		}
		_, err = store.Put(ctx, "models/m/model.safetensors", bytes.NewReader(data), blob.PutOptions{IfNoneMatch: true})
		if !errors.Is(err, blob.ErrPreconditionFailed) {
			t.Errorf("large create over an existing key: %v, want ErrPreconditionFailed", err)
		}
	})

	t.Run("failed-body", func(t *testing.T) {
		// A body that fails part way must leave nothing behind.
		_, err := store.Put(ctx, "partial", io.MultiReader(strings.NewReader("abc"), errReader{}), blob.PutOptions{})
		if err == nil {
			t.Fatal("Put with a failing body succeeded")
		}
		if _, err := store.Head(ctx, "partial"); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("after a failed Put, Head: %v, want ErrNotFound", err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }
