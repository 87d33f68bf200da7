package policies

import (
	"bytes"

	"portcullis/internal/policy"
)

// findAndReplace is find-and-replace: every occurrence of from in the body becomes to (the
// request body in inbound and backend, the response body in outbound and on-error).
type findAndReplace struct {
	target   messageTarget
	from, to *policy.Value
}

func compileFindAndReplace(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "from", "to")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	f := &findAndReplace{target: sectionTarget(c)}
	if f.from, err = r.value("from", true); err != nil {
		return nil, err
	}
	if _, ok := el.Attr("to"); !ok {
		return nil, policy.Errorf(el.Pos, "<find-and-replace> needs a to attribute")
	}
	if f.to, err = r.value("to", false); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *findAndReplace) Run(ctx *policy.Context) error {
	from, err := evalString(ctx, f.from)
	if err != nil {
		return err
	}
	to, err := evalString(ctx, f.to)
	if err != nil {
		return err
	}
	if from == "" {
		return nil
	}
	body := targetBody(ctx, f.target)
	data, err := body.Bytes()
	if err != nil {
		return err
	}
	if bytes.Contains(data, []byte(from)) {
		body.Set(bytes.ReplaceAll(data, []byte(from), []byte(to)))
	}
	return nil
}
