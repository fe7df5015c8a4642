package data

import "fmt"

// Kind classifies why a record was rejected; Stats counts rejections by
// kind.
type Kind string

const (
	KindBadJSON    Kind = "bad_json"       // the line is not a JSON object (or a malformed CSV row)
	KindNoFormat   Kind = "unknown_format" // none of the known field sets is present
	KindMissing    Kind = "missing_field"
	KindType       Kind = "wrong_type"
	KindEmpty      Kind = "empty"
	KindTooLong    Kind = "too_long"
	KindNoTraining Kind = "nothing_to_train" // no token carries loss
	KindTemplate   Kind = "chat_template"    // the chat template cannot render the record
	KindTokens     Kind = "bad_token_id"     // pre-tokenized ids outside the vocabulary
)

// LineError is a problem with one record: where it is and what is wrong.
// Reading can go on after a LineError.
type LineError struct {
	File  string
	Line  int    // 1-based
	Field string // the JSON field or CSV column at fault; empty for the whole line
	Kind  Kind
	Err   error
}

func (e *LineError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s:%d: field %q: %v", e.File, e.Line, e.Field, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }
