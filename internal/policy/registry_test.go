package policy

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// The policies of these tests: small real steps that leave a trace of what ran, so the
// pipeline's ordering, merging and error handling can be observed from outside.
//
//	<mark name="A"/>                     appends A to the trace
//	<fail status="401" reason="R" message="M" detail="D" header="Name: value"/>
//	<boom/>                              fails with a plain error, as a throwing expression
//	<respond status="418"/>              answers (return-response)
//	<forward-request/>                   appends "forward"
//	<choose><when condition="true|false">…</when><otherwise>…</otherwise></choose>
func testRegistry() Registry {
	return Registry{
		"mark":            compileMark,
		"fail":            compileFail,
		"boom":            compileBoom,
		"respond":         compileRespond,
		"forward-request": compileTestForward,
		"choose":          compileTestChoose,
		"set-header":      compileMark,
		"validate-jwt":    compileMark,
	}
}

func trace(ctx *Context) []string {
	t, _ := ctx.Variables["trace"].([]string)
	return t
}

func appendTrace(ctx *Context, s string) {
	ctx.Variables["trace"] = append(trace(ctx), s)
}

func compileMark(el *Element, c *Compiler) (Step, error) {
	name := el.Name
	if a, ok := el.Attr("name"); ok {
		name = a.Value
	}
	return StepFunc(func(ctx *Context) error {
		appendTrace(ctx, name)
		return nil
	}), nil
}

func compileFail(el *Element, c *Compiler) (Step, error) {
	f := Failure{Source: "fail", StatusCode: 500}
	for _, a := range el.Attrs {
		switch a.Name {
		case "status":
			n, err := strconv.Atoi(a.Value)
			if err != nil {
				return nil, Errorf(a.Pos, "status must be a number")
			}
			f.StatusCode = n
		case "reason":
			f.Reason = a.Value
		case "message":
			f.Message = a.Value
		case "detail":
			f.Detail = a.Value
		case "source":
			f.Source = a.Value
		case "header":
			name, value, _ := strings.Cut(a.Value, ": ")
			f.Header = append(f.Header, Field{name, value})
		}
	}
	return StepFunc(func(ctx *Context) error {
		appendTrace(ctx, "fail")
		failure := f
		return &failure
	}), nil
}

func compileBoom(el *Element, c *Compiler) (Step, error) {
	return StepFunc(func(ctx *Context) error {
		appendTrace(ctx, "boom")
		return errors.New("Object reference not set to an instance of an object.")
	}), nil
}

func compileRespond(el *Element, c *Compiler) (Step, error) {
	status := 200
	if a, ok := el.Attr("status"); ok {
		status, _ = strconv.Atoi(a.Value)
	}
	return StepFunc(func(ctx *Context) error {
		appendTrace(ctx, "respond")
		if ctx.Response == nil {
			ctx.Response = &Response{}
		}
		ctx.Response.StatusCode = status
		ctx.Response.Body.Set([]byte("answered"))
		return ErrResponseSent
	}), nil
}

func compileTestForward(el *Element, c *Compiler) (Step, error) {
	return StepFunc(func(ctx *Context) error {
		appendTrace(ctx, "forward")
		return nil
	}), nil
}

func compileTestChoose(el *Element, c *Compiler) (Step, error) {
	type branch struct {
		cond  bool
		steps []Step
	}
	var branches []branch
	for _, w := range el.Children {
		b := branch{cond: true}
		if w.Name == "when" {
			a, _ := w.Attr("condition")
			b.cond = a.Value == "true"
		}
		steps, err := c.Steps(w.Children)
		if err != nil {
			return nil, err
		}
		b.steps = steps
		branches = append(branches, b)
	}
	return StepFunc(func(ctx *Context) error {
		for _, b := range branches {
			if b.cond {
				return runSteps(ctx, b.steps)
			}
		}
		return nil
	}), nil
}

func newTestContext() *Context {
	return &Context{Variables: map[string]any{}, Response: &Response{}}
}

// mustLoad loads src as a document called name with the test registry's loader.
func mustLoad(t *testing.T, l *Loader, name, src string) *Document {
	t.Helper()
	d, err := l.Load(name, []byte(src))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return d
}
