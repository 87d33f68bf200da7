package policy

import (
	"errors"
	"fmt"
)

// Step is one compiled policy statement. Run returns nil to go on, a *Failure to stop the
// section and run on-error, or ErrResponseSent when the step has written the final response
// (return-response), which ends the pipeline without on-error.
type Step interface {
	Run(ctx *Context) error
}

// StepFunc adapts a function to Step.
type StepFunc func(ctx *Context) error

// Run calls f.
func (f StepFunc) Run(ctx *Context) error { return f(ctx) }

// ErrResponseSent ends the pipeline: the step has set ctx.Response as the final answer.
var ErrResponseSent = errors.New("response sent")

// Failure is a policy's refusal or error: what becomes context.LastError and, unless on-error
// answers otherwise, the APIM error body {"statusCode": StatusCode, "message": Message}.
type Failure struct {
	Source     string // policy name, or a built-in step such as "configuration"
	Reason     string // machine-readable reason, e.g. TokenExpired
	Message    string // what the client's error body says
	StatusCode int
	// Detail is for the operator's log and context.LastError.Message when it says more than
	// the client should see (what was expected and what was found).
	Detail string
	// Header is added to the default error response (e.g. WWW-Authenticate).
	Header []Field
	Err    error // the underlying error, if any
}

func (f *Failure) Error() string {
	msg := f.Message
	if f.Detail != "" {
		msg = f.Detail
	}
	if f.Reason != "" {
		return fmt.Sprintf("%s: %s: %s", f.Source, f.Reason, msg)
	}
	return fmt.Sprintf("%s: %s", f.Source, msg)
}

func (f *Failure) Unwrap() error { return f.Err }

// Pos is a position in a policy file: 1-based line and column.
type Pos struct {
	File      string
	Line, Col int
}

// String is "file:line:col"; a position with no line (the file as a whole, e.g. it cannot be
// read) is just "file", since "file:0:0" names a place that does not exist.
func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// Error is a load-time error at a position in a policy file.
type Error struct {
	Pos Pos
	Msg string
	Err error
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a load error at pos.
func Errorf(pos Pos, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Pos: pos, Msg: err.Error(), Err: errors.Unwrap(err)}
}

// Expression is a compiled policy expression, @(...) or @{...}.
type Expression interface {
	Eval(ctx *Context) (any, error)
}

// ExpressionCompiler compiles the source of one expression (including its @( ) or @{ }
// delimiters) found at pos.
type ExpressionCompiler func(src string, pos Pos) (Expression, error)
