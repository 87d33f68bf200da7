package policies

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"portcullis/internal/policy"
)

// forward-request's defaults, as APIM's.
const (
	defaultForwardTimeout = 300 * time.Second
	maxForwardTimeout     = 24 * time.Hour
)

// Reasons of forward-request's failures. BackendConnectionFailure is APIM's; the error-status
// reason is Portcullis's name for fail-on-error-status-code, which APIM does not document.
const (
	ReasonBackendConnectionFailure = "BackendConnectionFailure"
	ReasonBackendErrorStatusCode   = "BackendErrorStatusCode"
)

// forwardRequest sends the request to the backend through ctx.Backend.
type forwardRequest struct {
	opts policy.ForwardOptions
	// timeout and followRedirects are set when the attribute is a policy expression.
	timeout         *policy.Value
	followRedirects *policy.Value
}

func compileForwardRequest(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	f := &forwardRequest{opts: policy.ForwardOptions{Timeout: defaultForwardTimeout, BufferResponse: true}}
	if len(el.Children) > 0 {
		return nil, policy.Errorf(el.Children[0].Pos, "<forward-request> takes no child elements (found <%s>)", el.Children[0].Name)
	}
	for _, a := range el.Attrs {
		var err error
		switch a.Name {
		case "id":
		case "timeout":
			v, verr := c.Value(a)
			if verr != nil {
				return nil, verr
			}
			if v.IsExpr() {
				f.timeout = &v
				continue
			}
			f.opts.Timeout, err = parseForwardTimeout(v.Const)
		case "follow-redirects":
			v, verr := c.Value(a)
			if verr != nil {
				return nil, verr
			}
			if v.IsExpr() {
				f.followRedirects = &v
				continue
			}
			f.opts.FollowRedirects, err = parseForwardBool(v.Const)
		case "buffer-request-body":
			f.opts.BufferRequestBody, err = parseForwardBool(a.Value)
		case "buffer-response":
			f.opts.BufferResponse, err = parseForwardBool(a.Value)
		case "fail-on-error-status-code":
			f.opts.FailOnErrorStatusCode, err = parseForwardBool(a.Value)
		case "http-version":
			switch strings.TrimSpace(a.Value) {
			case "1", "2or1":
			case "2":
				err = errors.New("HTTP/2-only backends are not supported: use \"1\" or \"2or1\"")
			default:
				err = errors.New(`must be "1", "2or1" or "2"`)
			}
		default:
			return nil, policy.Errorf(a.Pos, "<forward-request> has no attribute %s (it takes timeout, follow-redirects, buffer-request-body, buffer-response, fail-on-error-status-code, http-version, id)", a.Name)
		}
		if err != nil {
			return nil, policy.Errorf(a.Pos, "<forward-request> %s=%q: %v", a.Name, a.Value, err)
		}
	}
	return f, nil
}

func (f *forwardRequest) Run(ctx *policy.Context) error {
	opts := f.opts
	if f.timeout != nil {
		s, err := f.timeout.String(ctx)
		if err != nil {
			return err
		}
		if opts.Timeout, err = parseForwardTimeout(s); err != nil {
			return fmt.Errorf("forward-request timeout %q: %w", s, err)
		}
	}
	if f.followRedirects != nil {
		s, err := f.followRedirects.String(ctx)
		if err != nil {
			return err
		}
		if opts.FollowRedirects, err = parseForwardBool(s); err != nil {
			return fmt.Errorf("forward-request follow-redirects %q: %w", s, err)
		}
	}
	if ctx.Backend == nil {
		return &policy.Failure{
			Source:     "forward-request",
			Reason:     ReasonBackendConnectionFailure,
			Message:    "Internal server error",
			Detail:     "no backend transport is configured for this request",
			StatusCode: http.StatusInternalServerError,
		}
	}
	if err := ctx.Backend.Forward(ctx, opts); err != nil {
		var fail *policy.Failure
		if errors.As(err, &fail) {
			return err
		}
		return &policy.Failure{
			Source:     "forward-request",
			Reason:     ReasonBackendConnectionFailure,
			Message:    "Internal server error",
			Detail:     "the backend could not be reached: " + err.Error(),
			StatusCode: http.StatusInternalServerError,
			Err:        err,
		}
	}
	if opts.FailOnErrorStatusCode && ctx.Response != nil && ctx.Response.StatusCode >= 400 && ctx.Response.StatusCode <= 599 {
		code := ctx.Response.StatusCode
		return &policy.Failure{
			Source:     "forward-request",
			Reason:     ReasonBackendErrorStatusCode,
			Message:    http.StatusText(code),
			Detail:     "the backend answered " + strconv.Itoa(code) + " and fail-on-error-status-code is true",
			StatusCode: code,
		}
	}
	return nil
}

// parseForwardTimeout reads a timeout in whole seconds.
func parseForwardTimeout(s string) (time.Duration, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return 0, errors.New("must be a whole number of seconds, at least 1")
	}
	d := time.Duration(n) * time.Second
	if d > maxForwardTimeout {
		return 0, errors.New("must be at most 86400 seconds")
	}
	return d, nil
}

// parseForwardBool reads APIM's booleans, true or false in any case.
func parseForwardBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, errors.New(`must be "true" or "false"`)
}
