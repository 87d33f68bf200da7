package policies

import (
	"net/http"
	"strings"

	"portcullis/internal/policy"
)

// mockResponse is mock-response: it ends the pipeline with the status code and content type
// given. APIM fills the body from the API definition's examples; Portcullis has no API
// definitions, so the body is empty, as APIM's is when no example exists.
type mockResponse struct {
	status      int
	contentType string
}

func compileMockResponse(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "status-code", "content-type")
	if err != nil {
		return nil, err
	}
	if err := onlyChildren(el); err != nil {
		return nil, err
	}
	status, err := r.constInt("status-code", false, http.StatusOK, 100, 599)
	if err != nil {
		return nil, err
	}
	ct, _, err := r.constant("content-type", false)
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(ct, "\r\n") {
		a, _ := el.Attr("content-type")
		return nil, policy.Errorf(a.Pos, "<mock-response> content-type contains a line break")
	}
	return &mockResponse{status: int(status), contentType: strings.TrimSpace(ct)}, nil
}

func (m *mockResponse) Run(ctx *policy.Context) error {
	resp := &policy.Response{StatusCode: m.status, StatusReason: http.StatusText(m.status)}
	if m.contentType != "" {
		resp.Header.Set("Content-Type", m.contentType)
	}
	resp.Body.Set(nil)
	ctx.Response = resp
	return policy.ErrResponseSent
}
