package s3

import (
	"context"
	"math/rand/v2"
	neturl "net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// referenceList is ListObjectsV2 without pagination, written directly
// from S3's documentation: keys under prefix in byte order, those with
// the delimiter after the prefix rolled up into distinct common prefixes.
func referenceList(keys []string, prefix, delimiter string) (objects, prefixes []string) {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	seen := map[string]bool{}
	for _, k := range sorted {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := k[len(prefix):]
		if delimiter != "" && strings.Contains(rest, delimiter) {
			cp := prefix + rest[:strings.Index(rest, delimiter)+len(delimiter)]
			if !seen[cp] {
				seen[cp] = true
				prefixes = append(prefixes, cp)
			}
			continue
		}
		objects = append(objects, k)
	}
	return objects, prefixes
}

// TestListObjectsV2Pagination compares every page size, prefix and
// delimiter against the unpaginated reference, through the SDK paginator
// (continuation tokens) and the aws CLI's URL encoding of keys.
func TestListObjectsV2Pagination(t *testing.T) {
	ctx := context.Background()
	_, url := startServer(t, Options{})
	c := sdkClient(url, true, nil)
	mustCreateBucket(t, c, "list")
	rng := rand.New(rand.NewPCG(1, 2))
	parts := []string{"a", "b", "a/", "/", "-", "x y", "é", "%2F", "+", "runs/", "z"}
	var keys []string
	for len(keys) < 120 {
		var sb strings.Builder
		for n := 1 + rng.IntN(5); n > 0; n-- {
			sb.WriteString(parts[rng.IntN(len(parts))])
		}
		k := sb.String()
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
			put(t, c, "list", k, k)
		}
	}
	for _, prefix := range []string{"", "a", "a/", "runs/", "x", "nothing"} {
		for _, delimiter := range []string{"", "/", "a"} {
			wantObjs, wantPrefixes := referenceList(keys, prefix, delimiter)
			for _, pageSize := range []int32{1, 2, 7, 1000} {
				for _, enc := range []bool{false, true} {
					in := &s3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String(prefix), MaxKeys: aws.Int32(pageSize)}
					if delimiter != "" {
						in.Delimiter = aws.String(delimiter)
					}
					if enc {
						in.EncodingType = "url"
					}
					var objs, prefixes []string
					pages := 0
					p := s3.NewListObjectsV2Paginator(c, in)
					for p.HasMorePages() {
						page, err := p.NextPage(ctx)
						if err != nil {
							t.Fatal(err)
						}
						pages++
						n := len(page.Contents) + len(page.CommonPrefixes)
						if n > int(pageSize) || int(aws.ToInt32(page.KeyCount)) != n {
							t.Fatalf("page of %d entries, KeyCount %d, max %d", n, aws.ToInt32(page.KeyCount), pageSize)
						}
						for _, o := range page.Contents {
							objs = append(objs, decodeListed(t, aws.ToString(o.Key), enc))
							if aws.ToInt64(o.Size) != int64(len(decodeListed(t, aws.ToString(o.Key), enc))) {
								t.Errorf("size of %q", aws.ToString(o.Key))
							}
						}
						for _, cp := range page.CommonPrefixes {
							prefixes = append(prefixes, decodeListed(t, aws.ToString(cp.Prefix), enc))
						}
						if pages > 500 {
							t.Fatal("pagination does not end")
						}
					}
					// Page order interleaves keys and prefixes; compare each set in order.
					if !slices.Equal(objs, wantObjs) || !slices.Equal(prefixes, wantPrefixes) {
						t.Errorf("prefix %q delimiter %q page %d url %v:\n got keys %q prefixes %q\nwant keys %q prefixes %q",
							prefix, delimiter, pageSize, enc, objs, prefixes, wantObjs, wantPrefixes)
					}
				}
			}
		}
	}
}

func decodeListed(t *testing.T, s string, encoded bool) string {
	if !encoded {
		return s
	}
	// The SDK does not decode; S3 encodes as a query value.
	d, err := queryUnescape(s)
	if err != nil {
		t.Fatalf("listed key %q is not URL-encoded: %v", s, err)
	}
	return d
}

func queryUnescape(s string) (string, error) { return neturl.QueryUnescape(s) }

// TestListObjectsV1 pages with markers the way V1 clients do: NextMarker
// when a delimiter is given, else the last key.
func TestListObjectsV1(t *testing.T) {
	ctx := context.Background()
	_, url := startServer(t, Options{})
	c := sdkClient(url, true, nil)
	mustCreateBucket(t, c, "v1list")
	keys := []string{"a/1", "a/2", "b", "c/x/y", "d"}
	for _, k := range keys {
		put(t, c, "v1list", k, k)
	}
	for _, delimiter := range []string{"", "/"} {
		wantObjs, wantPrefixes := referenceList(keys, "", delimiter)
		var objs, prefixes []string
		marker := ""
		for page := 0; ; page++ {
			in := &s3.ListObjectsInput{Bucket: aws.String("v1list"), MaxKeys: aws.Int32(1), Marker: aws.String(marker)}
			if delimiter != "" {
				in.Delimiter = aws.String(delimiter)
			}
			out, err := c.ListObjects(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out.Contents {
				objs = append(objs, aws.ToString(o.Key))
				marker = aws.ToString(o.Key)
			}
			for _, p := range out.CommonPrefixes {
				prefixes = append(prefixes, aws.ToString(p.Prefix))
			}
			if !aws.ToBool(out.IsTruncated) {
				break
			}
			if delimiter != "" {
				marker = aws.ToString(out.NextMarker)
			}
			if page > 20 {
				t.Fatal("V1 pagination does not end")
			}
		}
		if !slices.Equal(objs, wantObjs) || !slices.Equal(prefixes, wantPrefixes) {
			t.Errorf("delimiter %q: keys %q prefixes %q, want %q %q", delimiter, objs, prefixes, wantObjs, wantPrefixes)
		}
	}
}

// TestListObjectsV2StartAfter: keys after start-after only, with and
// without pagination.
func TestListObjectsV2StartAfter(t *testing.T) {
	ctx := context.Background()
	_, url := startServer(t, Options{})
	c := sdkClient(url, true, nil)
	mustCreateBucket(t, c, "after")
	keys := []string{"runs/a/step-1", "runs/a/step-2", "runs/a/step-3", "runs/b/step-1"}
	for _, k := range keys {
		put(t, c, "after", k, "x")
	}
	for _, pageSize := range []int32{1, 1000} {
		var got []string
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("after"), StartAfter: aws.String("runs/a/step-1"), MaxKeys: aws.Int32(pageSize)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(page.StartAfter) != "runs/a/step-1" {
				t.Errorf("StartAfter not echoed: %q", aws.ToString(page.StartAfter))
			}
			for _, o := range page.Contents {
				got = append(got, aws.ToString(o.Key))
			}
		}
		if !slices.Equal(got, keys[1:]) {
			t.Errorf("page size %d: %q, want %q", pageSize, got, keys[1:])
		}
	}
	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("after"), ContinuationToken: aws.String("!!not-a-token")})
	if apiCode(err) != "InvalidArgument" {
		t.Errorf("bad continuation token: %v, want InvalidArgument", err)
	}
}
