package runs

import (
	"errors"
	"strings"
)

// StepError is a failure a workflow step reports by name, so that the state
// machine can route it (Catch) and the run's manifest can explain it.
// Reasons carries precise causes, such as file:line messages of rejected
// records.
type StepError struct {
	Name    string // the error name Step Functions sees, e.g. "lorafn.DataError"
	Msg     string
	Reasons []string
}

// Error names.
const (
	DataError   = "lorafn.DataError"   // the dataset cannot be used
	ConfigError = "lorafn.ConfigError" // the run configuration is invalid
	ModelError  = "lorafn.ModelError"  // the base model cannot be used
)

func (e *StepError) Error() string {
	if len(e.Reasons) == 0 {
		return e.Msg
	}
	return e.Msg + ReasonSep + strings.Join(e.Reasons, ReasonSep)
}

// ReasonSep separates a StepError's message from each of its reasons in
// the error text, so the text stays readable and the reasons can be
// recovered from it.
const ReasonSep = "\n  - "

// SplitReasons splits an error text made by StepError.Error into the
// message and the reasons.
func SplitReasons(text string) (string, []string) {
	parts := strings.Split(text, ReasonSep)
	return parts[0], parts[1:]
}

// ErrorName returns the Step Functions error name of err: a StepError's
// Name, otherwise "lorafn.Error".
func ErrorName(err error) string {
	var se *StepError
	if errors.As(err, &se) {
		return se.Name
	}
	return "lorafn.Error"
}
