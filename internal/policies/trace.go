package policies

import (
	"strings"

	"portcullis/internal/policy"
)

// TraceEvent is one trace message of a request.
type TraceEvent struct {
	RequestID string
	Source    string
	Severity  string // verbose | information | error
	Message   string
	Metadata  []policy.Field
}

// TraceDeps say where trace messages go.
type TraceDeps struct {
	// Sink receives each message; nil drops them without evaluating the message, as APIM does
	// when tracing is off.
	Sink func(TraceEvent)
}

type trace struct {
	sink     func(TraceEvent)
	source   string
	severity string
	message  policy.Value
	metadata []traceMetadata
}

type traceMetadata struct {
	name, value policy.Value
}

func (d TraceDeps) compileTrace(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "source", "severity")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el, "message", "metadata"); err != nil {
		return nil, err
	}
	t := &trace{sink: d.Sink, severity: "verbose"}
	if t.source, _, err = r.constant("source", true); err != nil {
		return nil, err
	}
	if sev, ok, err := r.constant("severity", false); err != nil {
		return nil, err
	} else if ok {
		switch s := strings.ToLower(strings.TrimSpace(sev)); s {
		case "verbose", "information", "error":
			t.severity = s
		default:
			a, _ := el.Attr("severity")
			return nil, policy.Errorf(a.Pos, "<trace> severity must be verbose, information or error, found %q", sev)
		}
	}
	var message *policy.Element
	for _, ch := range el.Children {
		switch ch.Name {
		case "message":
			if message != nil {
				return nil, policy.Errorf(ch.Pos, "<trace> takes one <message> (the first is at %d:%d)", message.Pos.Line, message.Pos.Col)
			}
			message = ch
			if t.message, err = c.TextValue(ch); err != nil {
				return nil, err
			}
		case "metadata":
			mr, err := readElement(ch, c, "name", "value")
			if err != nil {
				return nil, err
			}
			name, err := mr.value("name", true)
			if err != nil {
				return nil, err
			}
			v, err := mr.value("value", true)
			if err != nil {
				return nil, err
			}
			t.metadata = append(t.metadata, traceMetadata{name: *name, value: *v})
		}
	}
	if message == nil {
		// The older form of trace carries its message as the element's text.
		if len(el.Children) > 0 || strings.TrimSpace(el.Text) == "" {
			return nil, policy.Errorf(el.Pos, "<trace> needs a <message>")
		}
		if t.message, err = c.TextValue(el); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *trace) Run(ctx *policy.Context) error {
	if t.sink == nil {
		return nil
	}
	msg, err := t.message.String(ctx)
	if err != nil {
		return err
	}
	ev := TraceEvent{RequestID: ctx.RequestID, Source: t.source, Severity: t.severity, Message: msg}
	for _, m := range t.metadata {
		name, err := m.name.String(ctx)
		if err != nil {
			return err
		}
		v, err := m.value.String(ctx)
		if err != nil {
			return err
		}
		ev.Metadata = append(ev.Metadata, policy.Field{Name: name, Value: v})
	}
	t.sink(ev)
	return nil
}
