package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"
)

// requireSubcommands makes every command that only groups sub-commands (token, app, keys, …)
// refuse an unknown or missing sub-command with a usage error (exit 2) naming the ones there
// are, instead of printing its help and exiting 0 as if it had done something. The root alone
// still prints its help.
//
// Every command's argument check (cobra.NoArgs, ExactArgs, …) is made a usage error too, with
// a pointer to the command's help.
func requireSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		requireSubcommands(c)
	}
	if check := cmd.Args; check != nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return usageError{fmt.Errorf("%w (see %s --help)", err, c.CommandPath())}
			}
			return nil
		}
	}
	if !cmd.HasAvailableSubCommands() {
		return
	}
	if cmd.Args == nil {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("%q is not a command of %s: use %s (see %s --help)",
					args[0], c.CommandPath(), subcommandNames(c), c.CommandPath())}
			}
			return nil
		}
	}
	if cmd.Runnable() {
		return
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if !c.HasParent() {
			return c.Help()
		}
		return usageError{fmt.Errorf("%s needs a sub-command: %s (see %s --help)", c.CommandPath(), subcommandNames(c), c.CommandPath())}
	}
}

func subcommandNames(c *cobra.Command) string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// unwrapPath drops the operation and path of an *fs.PathError, for messages that name the
// path themselves: "permission denied", not "mkdir /x/y: permission denied".
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
