package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"portcullis/internal/admin"
	"portcullis/internal/config"
	"portcullis/internal/gateway"
	"portcullis/internal/jwt"
	"portcullis/internal/keys"
	"portcullis/internal/policies"
	"portcullis/internal/policy"
	"portcullis/internal/policy/expr"
	"portcullis/internal/policycheck"
)

func newPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with policy documents",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("policy needs a sub-command: portcullis policy check FILE…")}
		},
	}
	cmd.AddCommand(newPolicyCheckCommand())
	return cmd
}

func newPolicyCheckCommand() *cobra.Command {
	var (
		scope       string
		namedValues []string
		configPath  string
	)
	cmd := &cobra.Command{
		Use:   "check FILE…",
		Short: "Find errors and likely mistakes in policy documents",
		Long: "Loads and compiles each policy document as the gateway would and reports, one\n" +
			"file:line:col: error|warning: message line each on stderr: unsupported elements,\n" +
			"expressions that do not compile, sections without <base/> below the global scope, and\n" +
			"validate-jwt settings whose openid-config, issuers and audiences belong to different\n" +
			"token versions. Nothing is fetched. Exit status 0 when there is nothing to report, 1 otherwise.",
		RunE: func(cmd *cobra.Command, files []string) error {
			if len(files) == 0 {
				return usageError{errors.New("policy check needs at least one policy file: portcullis policy check FILE…")}
			}
			switch scope {
			case policy.ScopeGlobal, policy.ScopeProduct, policy.ScopeAPI, policy.ScopeOperation:
			default:
				return usageError{fmt.Errorf("--scope %q is not a scope: use global, product, api or operation", scope)}
			}
			nv := map[string]string{}
			cfg := &config.Config{Gateway: &config.Gateway{}}
			if configPath != "" {
				c, err := config.Load(configPath)
				if err != nil {
					return invalidConfig{configPath, printProblems(cmd.ErrOrStderr(), err)}
				}
				if c.Gateway == nil {
					return fmt.Errorf("%s has no gateway section: policy check takes named values, fragments and certificates from it", configPath)
				}
				cfg = c
				for k, v := range c.Gateway.NamedValues {
					nv[k] = v
				}
			}
			for _, kv := range namedValues {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--named-value %q is not name=value: write it as --named-value tenant-id=…", kv)}
				}
				nv[k] = v
			}
			loader, done, err := checkLoader(cfg, nv)
			if err != nil {
				return err
			}
			defer done()
			return reportPolicyFindings(cmd.OutOrStdout(), cmd.ErrOrStderr(), files,
				&policycheck.Checker{Loader: loader, Scope: scope})
		},
	}
	cmd.Flags().StringVar(&scope, "scope", policy.ScopeAPI, "scope the documents are written for: global, product, api or operation")
	cmd.Flags().StringArrayVar(&namedValues, "named-value", nil, "a named value for {{name}}, as name=value (repeatable)")
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file to take named values, fragments and certificates from")
	return cmd
}

// checkLoader builds a loader with the gateway's registry and expression compiler. Its key
// cache never reaches the network: a policy check must not depend on, or call, an identity
// provider.
func checkLoader(cfg *config.Config, namedValues map[string]string) (*policy.Loader, func(), error) {
	g := *cfg.Gateway
	certs, err := gateway.LoadCertificates(g.Certificates)
	if err != nil {
		return nil, nil, err
	}
	kcache, err := keys.NewCache(keys.Options{
		Client: &http.Client{Transport: offline{}},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, nil, err
	}
	kc := &keyCaches{keys: kcache, tokens: jwt.NewCache(1)}
	// log-to-eventhub needs its loggers to exist, but a check must not create their files.
	loggers := make(map[string]config.Logger, len(g.Loggers))
	for id := range g.Loggers {
		loggers[id] = config.Logger{Stdout: true}
	}
	g.Loggers = loggers
	checkCfg := *cfg
	checkCfg.Gateway = &g
	svc := &services{log: slog.New(slog.DiscardHandler), metrics: admin.NewMetrics(nil)}
	deps, err := svc.policyDeps(&checkCfg, kc, io.Discard)
	if err != nil {
		kc.close()
		return nil, nil, err
	}
	return &policy.Loader{
		NamedValues:  namedValues,
		FragmentsDir: g.Fragments,
		Registry:     policies.Registry(deps),
		Expressions:  expr.Compile,
		Certificates: certs,
	}, kc.close, nil
}

// offline is the transport of policy check's key cache.
type offline struct{}

func (offline) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("policy check does not fetch keys")
}

// policyProblems is returned once the findings are printed.
type policyProblems struct{ errors, warnings, files int }

func (p policyProblems) Error() string {
	return fmt.Sprintf("%s and %s in %s", plural(p.errors, "error"), plural(p.warnings, "warning"), plural(p.files, "file"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func reportPolicyFindings(stdout, stderr io.Writer, files []string, c *policycheck.Checker) error {
	var p policyProblems
	for _, f := range files {
		found := c.CheckFile(f)
		if len(found) == 0 {
			fmt.Fprintf(stdout, "%s: no problems\n", f)
			continue
		}
		p.files++
		for _, x := range found {
			fmt.Fprintln(stderr, shortenPaths(x.String()))
			if x.Severity == policycheck.Warning {
				p.warnings++
			} else {
				p.errors++
			}
		}
	}
	if p.files > 0 {
		return p
	}
	return nil
}

// shortenPaths shortens absolute paths under the working directory, as check does.
func shortenPaths(line string) string {
	if l := problemLines(errors.New(line)); len(l) == 1 {
		return l[0]
	}
	return line
}
