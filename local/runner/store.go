package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lorafn/lorafn/functions/blob"
)

// S3Store returns a store on bucket at an S3-compatible endpoint (lorafn's
// local server, LocalStack), reached with path-style requests and dummy
// credentials, and creates the bucket if it does not exist.
func S3Store(ctx context.Context, endpoint, bucket string) (*blob.S3, error) {
	cfg := aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("lorafn-local", "lorafn-local", ""),
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *types.BucketAlreadyOwnedByYou
	var exists *types.BucketAlreadyExists
	if err != nil && !errors.As(err, &owned) && !errors.As(err, &exists) {
		return nil, fmt.Errorf("creating bucket %s at %s: %w", bucket, endpoint, err)
	}
	return blob.NewS3(client, bucket), nil
}
