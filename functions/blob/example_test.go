package blob_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lorafn/lorafn/functions/blob"
)

// Example shows the two conditional writes the workflow is built on:
// claiming a run manifest once, and moving a pointer only from the
// version last read.
func Example() {
	ctx := context.Background()
	var store blob.Store = &blob.Mem{} // blob.NewS3(client, bucket) in Lambda

	_, err := store.Put(ctx, "runs/r1/manifest.json", strings.NewReader(`{"state":"claimed"}`), blob.PutOptions{IfNoneMatch: true})
	fmt.Println("first claim:", err)
	_, err = store.Put(ctx, "runs/r1/manifest.json", strings.NewReader(`{"state":"claimed"}`), blob.PutOptions{IfNoneMatch: true})
	fmt.Println("duplicate claim lost:", errors.Is(err, blob.ErrPreconditionFailed))

	v1, _ := store.Put(ctx, "adapters/demo/CURRENT.json", strings.NewReader(`{"version":1}`), blob.PutOptions{})
	_, err = store.Put(ctx, "adapters/demo/CURRENT.json", strings.NewReader(`{"version":2}`), blob.PutOptions{IfMatch: v1})
	fmt.Println("promote from v1:", err)
	_, err = store.Put(ctx, "adapters/demo/CURRENT.json", strings.NewReader(`{"version":3}`), blob.PutOptions{IfMatch: v1})
	fmt.Println("stale promote lost:", errors.Is(err, blob.ErrPreconditionFailed))
	// Output:
	// first claim: <nil>
	// duplicate claim lost: true
	// promote from v1: <nil>
	// stale promote lost: true
}
