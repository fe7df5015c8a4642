package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/lorafn/lorafn/local/twin"
)

// runLocal serves the local twin of lorafn's AWS services until
// interrupted. Provision it with localstack/provision.sh, as LocalStack.
func runLocal(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("local", stdout)
	addr := fs.String("addr", "127.0.0.1:4566", "address to listen on (LocalStack's port by default)")
	dataDir := fs.String("data-dir", "", "keep objects, state machines, functions, rules, schedules and executions here across restarts (default: memory)")
	lambdaMode := fs.String("lambda", twin.LambdaProcess, "run functions as their bootstrap process through the Runtime API (process) or in this process (inprocess)")
	bucket := fs.String("batch-bucket", "lorafn", "bucket Batch jobs train from when the job sets no LORAFN_BUCKET")
	quiet := fs.Bool("quiet", false, "do not log requests' effects")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	opts := twin.Options{Dir: *dataDir, Lambda: *lambdaMode, BatchBucket: *bucket}
	if exe, err := os.Executable(); err == nil {
		// Batch jobs run as local processes of this same binary.
		opts.BatchCommand = []string{exe, "batch-train"}
	}
	if !*quiet {
		opts.Logf = func(format string, args ...any) {
			fmt.Fprintf(stdout, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
		}
	}
	tw, err := twin.New(opts)
	if err != nil {
		return err
	}
	defer tw.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := "http://" + ln.Addr().String()
	tw.Start(url)
	fmt.Fprintf(stdout, "lorafn local on %s (S3, Step Functions, Lambda, EventBridge, Scheduler, Batch)\n  export AWS_ENDPOINT_URL=%s\n", url, url)
	srv := &http.Server{Handler: tw, ReadHeaderTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shut)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
