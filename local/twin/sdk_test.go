package twin

import (
	"archive/zip"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

func sdkConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// TestStepFunctionsWithTheSDK drives the Step Functions API with
// aws-sdk-go-v2: its JSON protocol, timestamps and typed errors.
func TestStepFunctionsWithTheSDK(t *testing.T) {
	_, endpoint := startTwin(t, Options{Lambda: LambdaInProcess})
	ctx := t.Context()
	c := sfn.NewFromConfig(sdkConfig(), func(o *sfn.Options) { o.BaseEndpoint = aws.String(endpoint) })
	created, err := c.CreateStateMachine(ctx, &sfn.CreateStateMachineInput{Name: aws.String("sdk"), Definition: aws.String(waitMachine), RoleArn: aws.String("arn:aws:iam::000000000000:role/x")})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(*created.CreationDate) > time.Minute {
		t.Fatalf("creation date %s", created.CreationDate)
	}
	started, err := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: created.StateMachineArn, Name: aws.String("one"), Input: aws.String(`{"wait": 0}`)})
	if err != nil {
		t.Fatal(err)
	}
	var d *sfn.DescribeExecutionOutput
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if d, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: started.ExecutionArn}); err != nil {
			t.Fatal(err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			break
		}
	}
	if d.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(d.Output) != `{"ok":true}` || d.StopDate == nil {
		t.Fatalf("execution %s, output %s", d.Status, aws.ToString(d.Output))
	}
	h, err := c.GetExecutionHistory(ctx, &sfn.GetExecutionHistoryInput{ExecutionArn: started.ExecutionArn})
	if err != nil {
		t.Fatal(err)
	}
	last := h.Events[len(h.Events)-1]
	if h.Events[0].Type != sfntypes.HistoryEventTypeExecutionStarted || last.Type != sfntypes.HistoryEventTypeExecutionSucceeded ||
		last.ExecutionSucceededEventDetails == nil || aws.ToString(last.ExecutionSucceededEventDetails.Output) != `{"ok":true}` {
		t.Fatalf("history %+v", h.Events)
	}
	list, err := c.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: created.StateMachineArn, StatusFilter: sfntypes.ExecutionStatusSucceeded})
	if err != nil || len(list.Executions) != 1 {
		t.Fatalf("ListExecutions: %v %v", list, err)
	}
	_, err = c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: aws.String(strings.Replace(*created.StateMachineArn, ":sdk", ":nope", 1))})
	var missing *sfntypes.StateMachineDoesNotExist
	if !errors.As(err, &missing) {
		t.Fatalf("start on a missing machine: %v", err)
	}
	_, err = c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(*started.ExecutionArn + "x")})
	var noExec *sfntypes.ExecutionDoesNotExist
	if !errors.As(err, &noExec) {
		t.Fatalf("describe a missing execution: %v", err)
	}
	// A long execution stopped by StopExecution is ABORTED with the error given.
	long, _ := c.StartExecution(ctx, &sfn.StartExecutionInput{StateMachineArn: created.StateMachineArn, Input: aws.String(`{"wait": 3600}`)})
	if _, err := c.StopExecution(ctx, &sfn.StopExecutionInput{ExecutionArn: long.ExecutionArn, Error: aws.String("Operator"), Cause: aws.String("enough")}); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: long.ExecutionArn}); d.Status != sfntypes.ExecutionStatusAborted || aws.ToString(d.Error) != "Operator" {
		t.Fatalf("stopped execution: %s %s", d.Status, aws.ToString(d.Error))
	}
}

func TestLambdaWithTheSDK(t *testing.T) {
	_, endpoint := startTwin(t, Options{Lambda: LambdaInProcess})
	ctx := t.Context()
	c := lambda.NewFromConfig(sdkConfig(), func(o *lambda.Options) { o.BaseEndpoint = aws.String(endpoint) })
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bootstrap")
	w.Write([]byte("x"))
	zw.Close()
	_, err := c.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("lorafn-validate"), Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("validate"),
		Role: aws.String("arn:aws:iam::000000000000:role/x"), Code: &lambdatypes.FunctionCode{ZipFile: buf.Bytes()},
		Architectures: []lambdatypes.Architecture{lambdatypes.ArchitectureArm64},
		Environment:   &lambdatypes.Environment{Variables: map[string]string{"LORAFN_BUCKET": "lorafn"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("lorafn-validate")})
	if err != nil || aws.ToString(got.Configuration.Handler) != "validate" || got.Configuration.Architectures[0] != lambdatypes.ArchitectureArm64 {
		t.Fatalf("GetFunction: %+v %v", got, err)
	}
	out, err := c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("lorafn-validate"), Payload: []byte(`{"request": {"dataset": "elsewhere/x.jsonl"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "must be under datasets/") {
		t.Fatalf("FunctionError %q, payload %s", aws.ToString(out.FunctionError), out.Payload)
	}
	_, err = c.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("nope")})
	var nf *lambdatypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("invoking a missing function: %v", err)
	}
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("lorafn-validate"), Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("validate"), Role: aws.String("r"), Code: &lambdatypes.FunctionCode{ZipFile: buf.Bytes()}})
	var conflict *lambdatypes.ResourceConflictException
	if !errors.As(err, &conflict) {
		t.Fatalf("creating it twice: %v", err)
	}
}
