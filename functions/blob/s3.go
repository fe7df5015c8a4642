package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// DefaultPartSize is the size above which S3.Put switches to a multipart
// upload, and the size of each part. Bodies are buffered one part at a
// time, so it is also Put's memory use.
const DefaultPartSize = 16 << 20

// S3 is a Store backed by one S3 bucket, through aws-sdk-go-v2. It works
// against AWS and any S3-compatible endpoint (lorafn's local server,
// LocalStack).
type S3 struct {
	Client *s3.Client
	Bucket string
	// PartSize overrides DefaultPartSize; S3 requires at least 5 MiB.
	PartSize int64
}

var _ Store = (*S3)(nil)

// NewS3Client builds an S3 client from the environment as the AWS SDK
// reads it (credentials, AWS_REGION, AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3,
// shared config files), with three changes for local endpoints:
//
//   - when an endpoint URL is set, requests use path-style addressing
//     (http://host/bucket/key), since a local endpoint has no wildcard DNS
//     for bucket.host;
//   - when no region is configured, us-east-1 is used;
//   - when an endpoint URL is set and no access key is in the environment,
//     fixed dummy credentials are used: local servers accept any.
//
// Call it once, in a main.
func NewS3Client(ctx context.Context) (*s3.Client, error) {
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	var opts []func(*config.LoadOptions) error
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion("us-east-1"))
	}
	if endpoint != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" && os.Getenv("AWS_PROFILE") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("lorafn-local", "lorafn-local", "")))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("blob: load AWS config: %w", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.UsePathStyle = true
		}
	}), nil
}

// NewS3 returns a Store for bucket through client.
func NewS3(client *s3.Client, bucket string) *S3 { return &S3{Client: client, Bucket: bucket} }

// Get implements Store.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return nil, Info{}, s.wrap("get", key, err, false)
	}
	return out.Body, Info{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), LastModified: aws.ToTime(out.LastModified)}, nil
}

// Head implements Store.
func (s *S3) Head(ctx context.Context, key string) (Info, error) {
	out, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.Bucket, Key: &key})
	if err != nil {
		return Info{}, s.wrap("head", key, err, false)
	}
	return Info{Key: key, Size: aws.ToInt64(out.ContentLength), ETag: aws.ToString(out.ETag), LastModified: aws.ToTime(out.LastModified)}, nil
}

// Put implements Store. Bodies up to PartSize go in one PutObject; larger
// ones in a multipart upload whose completion carries the conditions, so
// the object appears whole or not at all.
func (s *S3) Put(ctx context.Context, key string, body io.Reader, opts PutOptions) (string, error) {
	partSize := s.PartSize
	if partSize <= 0 {
		partSize = DefaultPartSize
	}
	// Read up to one part; a small body (most of what the workflow
	// writes) costs only its own size.
	var first bytes.Buffer
	n, err := io.CopyN(&first, body, partSize)
	if err != nil && err != io.EOF {
		return "", &Error{Op: "put", Key: key, Err: err}
	}
	if n < partSize {
		in := &s3.PutObjectInput{Bucket: &s.Bucket, Key: &key, Body: bytes.NewReader(first.Bytes()), ContentLength: aws.Int64(n)}
		if opts.ContentType != "" {
			in.ContentType = &opts.ContentType
		}
		if opts.IfNoneMatch {
			in.IfNoneMatch = aws.String("*")
		}
		if opts.IfMatch != "" {
			in.IfMatch = &opts.IfMatch
		}
		if len(opts.Tags) > 0 {
			in.Tagging = aws.String(tagging(opts.Tags))
		}
		out, err := s.Client.PutObject(ctx, in)
		if err != nil {
			return "", s.wrap("put", key, err, true)
		}
		return aws.ToString(out.ETag), nil
	}
	return s.putMultipart(ctx, key, first.Bytes(), body, opts)
}

func (s *S3) putMultipart(ctx context.Context, key string, buf []byte, body io.Reader, opts PutOptions) (etag string, err error) {
	if opts.IfNoneMatch {
		// Fail before uploading gigabytes; Complete checks again.
		if _, herr := s.Head(ctx, key); herr == nil {
			return "", &Error{Op: "put", Key: key, Err: ErrPreconditionFailed}
		} else if !errors.Is(herr, ErrNotFound) {
			return "", &Error{Op: "put", Key: key, Err: herr}
		}
	}
	in := &s3.CreateMultipartUploadInput{Bucket: &s.Bucket, Key: &key}
	if opts.ContentType != "" {
		in.ContentType = &opts.ContentType
	}
	if len(opts.Tags) > 0 {
		in.Tagging = aws.String(tagging(opts.Tags))
	}
	cr, err := s.Client.CreateMultipartUpload(ctx, in)
	if err != nil {
		return "", s.wrap("put", key, err, true)
	}
	defer func() {
		if err != nil {
			// Free the parts even when ctx is what failed.
			abort, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			s.Client.AbortMultipartUpload(abort, &s3.AbortMultipartUploadInput{Bucket: &s.Bucket, Key: &key, UploadId: cr.UploadId})
		}
	}()
	var parts []types.CompletedPart
	n := len(buf)
	for num := int32(1); n > 0; num++ {
		out, perr := s.Client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: &s.Bucket, Key: &key, UploadId: cr.UploadId, PartNumber: aws.Int32(num),
			Body: bytes.NewReader(buf[:n]), ContentLength: aws.Int64(int64(n)),
		})
		if perr != nil {
			return "", s.wrap("put", key, perr, true)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag,
			ChecksumCRC32: out.ChecksumCRC32, ChecksumCRC32C: out.ChecksumCRC32C, ChecksumCRC64NVME: out.ChecksumCRC64NVME,
			ChecksumSHA1: out.ChecksumSHA1, ChecksumSHA256: out.ChecksumSHA256})
		var rerr error
		n, rerr = io.ReadFull(body, buf)
		if rerr != nil && rerr != io.ErrUnexpectedEOF && rerr != io.EOF {
			return "", &Error{Op: "put", Key: key, Err: rerr}
		}
		if num == 10000 && n > 0 {
			return "", &Error{Op: "put", Key: key, Err: fmt.Errorf("body exceeds 10,000 parts of %d bytes", len(buf))}
		}
	}
	cin := &s3.CompleteMultipartUploadInput{Bucket: &s.Bucket, Key: &key, UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}
	if opts.IfNoneMatch {
		cin.IfNoneMatch = aws.String("*")
	}
	if opts.IfMatch != "" {
		cin.IfMatch = &opts.IfMatch
	}
	out, err := s.Client.CompleteMultipartUpload(ctx, cin)
	if err != nil {
		return "", s.wrap("put", key, err, true)
	}
	return aws.ToString(out.ETag), nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	var out []Info
	p := s3.NewListObjectsV2Paginator(s.Client, &s3.ListObjectsV2Input{Bucket: &s.Bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.wrap("list", prefix, err, false)
		}
		for _, o := range page.Contents {
			out = append(out, Info{Key: aws.ToString(o.Key), Size: aws.ToInt64(o.Size), ETag: aws.ToString(o.ETag), LastModified: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	if _, err := s.Client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.Bucket, Key: &key}); err != nil {
		return s.wrap("delete", key, err, false)
	}
	return nil
}

// wrap maps S3's errors onto the sentinels. For conditional writes a
// missing key (If-Match) and a concurrent conditional write (409
// ConditionalRequestConflict) are precondition failures too: either way
// the caller's view of the key is out of date.
func (s *S3) wrap(op, key string, err error, write bool) error {
	var ae smithy.APIError
	code := ""
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	status := 0
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	switch {
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed,
		write && (code == "NoSuchKey" || code == "ConditionalRequestConflict" || status == http.StatusConflict):
		err = fmt.Errorf("%w: %w", ErrPreconditionFailed, err)
	case code == "NoSuchKey" || code == "NotFound" || (status == http.StatusNotFound && code != "NoSuchBucket"):
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return &Error{Op: op, Key: "s3://" + s.Bucket + "/" + key, Err: err}
}

// tagging encodes tags as S3's x-amz-tagging header: URL-encoded k=v pairs.
func tagging(tags map[string]string) string {
	v := url.Values{}
	for k, t := range tags {
		v.Set(k, t)
	}
	return v.Encode()
}
