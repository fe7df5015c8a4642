package s3_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	locals3 "github.com/lorafn/lorafn/local/s3"
)

// Example serves an in-memory S3 on a loopback port and uses it with the
// AWS SDK, as lorafn's tests and the local twin do.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := locals3.New(locals3.Options{}) // Options{Dir: "..."} keeps data on disk
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan error)
	go func() { done <- srv.Serve(ctx, ln) }()

	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + ln.Addr().String()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("any", "any", ""), // not verified
	})
	client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lorafn")})
	client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lorafn"), Key: aws.String("runs/r1/manifest.json"), Body: strings.NewReader("{}"), IfNoneMatch: aws.String("*")})
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("lorafn"), Key: aws.String("runs/r1/manifest.json"), Body: strings.NewReader("{}"), IfNoneMatch: aws.String("*")})
	fmt.Println("second claim fails:", strings.Contains(fmt.Sprint(err), "PreconditionFailed"))
	out, _ := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lorafn"), Key: aws.String("runs/r1/manifest.json")})
	body, _ := io.ReadAll(out.Body)
	fmt.Println(string(body), aws.ToString(out.ETag))

	cancel() // Serve shuts down gracefully and returns nil
	select {
	case err := <-done:
		fmt.Println("serve:", err)
	case <-time.After(10 * time.Second):
		fmt.Println("serve did not stop")
	}
	// Output:
	// second claim fails: true
	// {} "99914b932bd37a50b983c5e7c90ae93b"
	// serve: <nil>
}
