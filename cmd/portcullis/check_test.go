package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		args   []string // nil: check --config portcullis.yaml
		code   int
		stdout string
		stderr string // every line, working-directory paths made relative
		// stderrRE replaces stderr where the wording belongs to another package: only the
		// positions and the element are ours to pin.
		stderrRE string
	}{
		{
			name:   "valid",
			files:  map[string]string{"portcullis.yaml": configFor("http://127.0.0.1:9"), "policies/global.xml": forwardPolicy},
			code:   0,
			stdout: "portcullis.yaml: valid (1 APIs, 0 operations)\n",
		},
		{
			name: "configuration problems, all listed",
			files: map[string]string{"portcullis.yaml": `gateway:
  policy: missing.xml
  apis:
    - name: a
      path: a
      backend: http://127.0.0.1:9
    - name: a
      path: b
      backend: nope
  unknown: 1
`},
			code: 1,
			stderr: "portcullis.yaml:10:3: unknown key \"unknown\"\n" +
				"portcullis: portcullis.yaml is not valid (1 problem)\n",
		},
		{
			name: "validation problems, all listed",
			files: map[string]string{"portcullis.yaml": `gateway:
  policy: missing.xml
  apis:
    - name: a
      path: a
      backend: http://127.0.0.1:9
    - name: a
      path: b
      backend: nope
`},
			code: 1,
			stderr: "portcullis.yaml:2:11: file missing.xml does not exist (looked for missing.xml)\n" +
				"portcullis.yaml:7:13: API name \"a\" is already used on line 4\n" +
				"portcullis.yaml:9:16: backend must be an absolute http:// or https:// URL, found \"nope\"\n" +
				"portcullis: portcullis.yaml is not valid (3 problems)\n",
		},
		{
			name: "policy problems name the policy file",
			files: map[string]string{
				"portcullis.yaml":     configFor("http://127.0.0.1:9"),
				"policies/global.xml": "<policies>\n  <inbound>\n    <no-such-policy />\n  </inbound>\n  <backend><forward-request timeout=\"x\"/></backend>\n</policies>\n",
			},
			code: 1,
			stderrRE: `^policies/global.xml:3:5: [^\n]*<no-such-policy>[^\n]*\n` +
				`policies/global.xml:5:38: [^\n]*timeout[^\n]*\n` +
				`portcullis: portcullis.yaml is not valid \(2 problems\)\n$`,
		},
		{
			name:   "no --config",
			args:   []string{"check"},
			code:   2,
			stderr: "portcullis: check needs --config FILE\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			t.Chdir(dir)
			args := tt.args
			if args == nil {
				args = []string{"check", "--config", "portcullis.yaml"}
			}
			code, stdout, stderr := runMain(args...)
			stderr = strings.ReplaceAll(stderr, dir+string(filepath.Separator), "")
			stderrOK := stderr == tt.stderr
			if tt.stderrRE != "" {
				stderrOK = regexp.MustCompile(tt.stderrRE).MatchString(stderr)
			}
			if code != tt.code || stdout != tt.stdout || !stderrOK {
				t.Errorf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

// The example in the README must stay valid.
func TestCheckExample(t *testing.T) {
	if _, err := os.Stat("../../examples/portcullis.yaml"); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runMain("check", "--config", "../../examples/portcullis.yaml")
	if code != 0 {
		t.Errorf("exit %d\n%s%s", code, stdout, stderr)
	}
}
