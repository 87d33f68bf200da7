package policy

import (
	"errors"
	"net/http"
	"strconv"
	"unicode/utf8"
)

// Pipeline is one operation's compiled policy: global ⊕ product ⊕ API ⊕ operation with
// <base/> resolved. It is immutable and safe for concurrent use.
type Pipeline struct {
	sections [numSections][]Step
}

// Reason of a step error that is not a *Failure: APIM's for a policy expression that throws.
const ReasonExpressionValueEvaluationFailure = "ExpressionValueEvaluationFailure"

// internalErrorMessage is APIM's client-facing message for a 500 it does not explain.
const internalErrorMessage = "Internal server error"

// Run runs ctx through inbound, backend and outbound. When a step fails, the remaining steps
// are skipped, ctx.LastError is set, ctx.Response becomes the default error response
// ({"statusCode": N, "message": "..."}) and on-error runs and may change or replace it
// (return-response). When Run returns, ctx.Response holds what to send (the gateway fills
// it when the pipeline neither forwarded nor answered). The error returned is the failure
// that sent the request through on-error, for the operator's log; nil otherwise.
func (p *Pipeline) Run(ctx *Context) error {
	defer ctx.complete()
	var err error
	for s := range numSections - 1 {
		if err = runSteps(ctx, p.sections[s]); err != nil {
			break
		}
	}
	if err == nil || errors.Is(err, ErrResponseSent) {
		return nil
	}
	se := asStepError(err)
	ctx.LastError = se.lastError()
	setErrorResponse(ctx, ctx.LastError.StatusCode, se.clientMessage(), se.header())
	if oerr := runSteps(ctx, p.sections[3]); oerr != nil && !errors.Is(oerr, ErrResponseSent) {
		// on-error itself failed: APIM answers a plain 500.
		setErrorResponse(ctx, http.StatusInternalServerError, internalErrorMessage, nil)
		return errors.Join(se, asStepError(oerr))
	}
	return se
}

// Steps returns the compiled steps of a section (inbound, backend, outbound, on-error), for
// tests and for tools that show the effective policy.
func (p *Pipeline) Steps(section string) []Step {
	i := sectionIndex(section)
	if i < 0 {
		return nil
	}
	return p.sections[i]
}

func runSteps(ctx *Context, steps []Step) error {
	for _, s := range steps {
		if err := s.Run(ctx); err != nil {
			return err
		}
	}
	return nil
}

// StepError is a step's failure with where it happened: what context.LastError reports.
type StepError struct {
	Name     string // the policy element, e.g. validate-jwt
	Path     string // e.g. choose[1]/when[2]/validate-jwt[1]
	PolicyID string // the element's id attribute
	Scope    string
	Section  string
	Err      error // a *Failure, or what the step returned
}

func (e *StepError) Error() string {
	return e.Scope + " " + e.Section + " " + e.Path + ": " + e.Err.Error()
}

func (e *StepError) Unwrap() error { return e.Err }

// lastError is context.LastError for the failure.
func (e *StepError) lastError() *LastError {
	le := &LastError{
		Source:   e.Name,
		Scope:    e.Scope,
		Section:  e.Section,
		Path:     e.Path,
		PolicyID: e.PolicyID,
	}
	var f *Failure
	if errors.As(e.Err, &f) {
		if f.Source != "" {
			le.Source = f.Source
		}
		le.Reason = f.Reason
		le.Message = f.Message
		if f.Detail != "" {
			le.Message = f.Detail
		}
		le.StatusCode = f.StatusCode
		if le.StatusCode < 100 || le.StatusCode > 599 {
			le.StatusCode = http.StatusInternalServerError
		}
		return le
	}
	le.Reason = ReasonExpressionValueEvaluationFailure
	le.Message = "Expression evaluation failed. " + e.Err.Error()
	le.StatusCode = http.StatusInternalServerError
	return le
}

// clientMessage is the message of the default error body: the failure's own, or APIM's
// generic text for anything else (its detail goes to LastError and the log only).
func (e *StepError) clientMessage() string {
	var f *Failure
	if errors.As(e.Err, &f) && f.Message != "" {
		return f.Message
	}
	return internalErrorMessage
}

func (e *StepError) header() []Field {
	var f *Failure
	if errors.As(e.Err, &f) {
		return f.Header
	}
	return nil
}

// asStepError returns err as a *StepError, wrapping an error that did not come through a
// bound step (a step built by hand) as the pipeline's own.
func asStepError(err error) *StepError {
	var se *StepError
	if errors.As(err, &se) {
		return se
	}
	return &StepError{Name: "pipeline", Path: "", Err: err}
}

// boundStep runs a compiled policy and labels its failure with where the policy stands.
type boundStep struct {
	step Step
	info *StepError // the labels; Err unset
}

func bindStep(s Step, el *Element, c *Compiler) Step {
	info := &StepError{Name: el.Name, Path: el.Path(), Scope: c.Scope, Section: c.Section}
	if id, ok := el.Attr("id"); ok {
		info.PolicyID = id.Value
	}
	return &boundStep{step: s, info: info}
}

func (b *boundStep) Run(ctx *Context) error {
	err := b.step.Run(ctx)
	if err == nil {
		return nil
	}
	return b.label(err)
}

func (b *boundStep) label(err error) error {
	if errors.Is(err, ErrResponseSent) {
		return err
	}
	var se *StepError
	if errors.As(err, &se) {
		return err // a nested step (inside choose, retry, …) has labelled it already
	}
	labelled := *b.info
	labelled.Err = err
	return &labelled
}

// setErrorResponse replaces ctx.Response with APIM's default error response.
func setErrorResponse(ctx *Context, status int, message string, header []Field) {
	if ctx.Response == nil {
		ctx.Response = &Response{}
	}
	r := ctx.Response
	r.StatusCode = status
	r.StatusReason = http.StatusText(status)
	r.Header.Reset()
	r.Header.Add("Content-Type", "application/json")
	for _, f := range header {
		r.Header.Add(f.Name, f.Value)
	}
	r.Body.Set(ErrorBody(status, message))
}

// ErrorBody is APIM's error body: {"statusCode": 401, "message": "..."}. The gateway uses
// it for its own errors too (404 Resource not found), so every error has one shape.
func ErrorBody(status int, message string) []byte {
	b := make([]byte, 0, 40+len(message))
	b = append(b, `{"statusCode": `...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `, "message": `...)
	b = appendJSONString(b, message)
	b = append(b, '}')
	return b
}

// appendJSONString quotes s as a JSON string. Unlike encoding/json it leaves <, > and &
// alone, as APIM does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20 || c == 0x7f:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+n]...)
		}
		i += n
	}
	return append(b, '"')
}
