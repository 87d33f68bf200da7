// Command portcullis runs the Portcullis gateway, identity service and admin API, and the
// tools around them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func main() {
	os.Exit(Main(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit statuses (CONTRACT.md §1).
const (
	exitOK      = 0
	exitInvalid = 1
	exitUsage   = 2
)

// usageError marks a command-line mistake (exit 2).
type usageError struct{ error }

// Main runs the command line with args and returns the exit status. End-to-end tests call it
// directly.
func Main(args []string, stdout, stderr io.Writer) int {
	return MainContext(context.Background(), args, stdout, stderr)
}

// MainContext is Main with a context whose end stops long-running commands (serve) the way
// SIGTERM does, so that tests can run and stop them in-process.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "portcullis:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitInvalid
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "portcullis",
		Short:         "Protect HTTP APIs with OAuth 2.0: an APIM-compatible gateway and an Entra ID-compatible identity service",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	// Each constructor builds fresh flag state, so that Main can run many times in one process.
	root.AddCommand(
		newVersionCommand(),
		newServeCommand(),
		newDevCommand(),
		newCheckCommand(),
		newAppCommand(),
		newKeysCommand(),
		newTokenCommand(),
		newPolicyCommand(),
	)
	requireSubcommands(root)
	return root
}

// Set by the build (-ldflags "-X main.version=...").
var version = "dev"

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			commit := "unknown"
			if info, ok := debug.ReadBuildInfo(); ok {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						commit = s.Value
					}
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "portcullis %s (commit %s, %s)\n", version, commit, runtime.Version())
			return nil
		},
	}
}

var errNotBuilt = errors.New("this command is not built yet")
