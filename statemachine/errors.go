package statemachine

import (
	"errors"
	"fmt"
)

// Error names predefined by the Amazon States Language (ASL spec, "Errors")
// and by the Lambda integration (AWS Step Functions developer guide,
// "Handling errors"). Retry and Catch match on these strings.
const (
	ErrAll                       = "States.ALL"
	ErrTaskFailed                = "States.TaskFailed"
	ErrTimeout                   = "States.Timeout"
	ErrHeartbeatTimeout          = "States.HeartbeatTimeout"
	ErrRuntime                   = "States.Runtime"
	ErrNoChoiceMatched           = "States.NoChoiceMatched"
	ErrResultPathMatchFailure    = "States.ResultPathMatchFailure"
	ErrParameterPathFailure      = "States.ParameterPathFailure"
	ErrIntrinsicFailure          = "States.IntrinsicFailure"
	ErrDataLimitExceeded         = "States.DataLimitExceeded"
	ErrBranchFailed              = "States.BranchFailed"
	ErrPermissions               = "States.Permissions"
	ErrLambdaUnknown             = "Lambda.Unknown"
	ErrLambdaServiceException    = "Lambda.ServiceException"
	ErrLambdaAWSLambdaException  = "Lambda.AWSLambdaException"
	ErrLambdaSdkClientException  = "Lambda.SdkClientException"
	ErrLambdaTooManyRequests     = "Lambda.TooManyRequestsException"
	ErrLambdaResponseTooLarge    = "Function.ResponseSizeTooLarge"
	ErrExecutionAlreadyExists    = "ExecutionAlreadyExists"
	ErrInvalidName               = "InvalidName"
	ErrInvalidExecutionInput     = "InvalidExecutionInput"
	ErrInvalidDefinition         = "InvalidDefinition"
	ErrUnsupportedFeature        = "UnsupportedFeature"
	ErrStateMachineDoesNotExist  = "StateMachineDoesNotExist"
	errHistoryLimitExceededCause = "the execution reached the maximum number of history events"
)

// TaskError is a named failure, the shape every error takes inside an
// execution. Resources return it to give a failure the name Retry and Catch
// match on: a Lambda function's errorType (say "Validation.BadDataset"), or
// a service error such as Lambda.ServiceException. Any other error a
// Resources implementation returns is reported as States.TaskFailed with the
// error text as its Cause.
type TaskError struct {
	Name  string // the Error field: "States.Timeout", "Lambda.ServiceException", ...
	Cause string // human-readable detail; for Lambda, the function's error JSON
}

func (e *TaskError) Error() string {
	if e.Cause == "" {
		return e.Name
	}
	return e.Name + ": " + e.Cause
}

// failure builds a TaskError with a formatted cause.
func failure(name, format string, args ...any) *TaskError {
	return &TaskError{Name: name, Cause: fmt.Sprintf(format, args...)}
}

// asTaskError names any error: TaskErrors keep their name, others become
// States.TaskFailed.
func asTaskError(err error) *TaskError {
	var te *TaskError
	if errors.As(err, &te) {
		return te
	}
	return &TaskError{Name: ErrTaskFailed, Cause: err.Error()}
}

// APIError is what the service's API calls (StartExecution and friends)
// return: Code is the AWS error code, e.g. ExecutionAlreadyExists or
// InvalidName.
type APIError struct {
	Code    string
	Message string
}

func (e *APIError) Error() string { return "statemachine: " + e.Code + ": " + e.Message }

// DefinitionError reports an invalid state machine definition. State and
// Field locate the problem ("TrainChunk", "Retry[0].BackoffRate"); both are
// empty for top-level errors. Code is InvalidDefinition or
// UnsupportedFeature.
type DefinitionError struct {
	Code  string
	State string
	Field string
	Msg   string
}

func (e *DefinitionError) Error() string {
	where := ""
	switch {
	case e.State != "" && e.Field != "":
		where = fmt.Sprintf("state %q, field %s: ", e.State, e.Field)
	case e.State != "":
		where = fmt.Sprintf("state %q: ", e.State)
	case e.Field != "":
		where = fmt.Sprintf("field %s: ", e.Field)
	}
	return "statemachine: " + e.Code + ": " + where + e.Msg
}
