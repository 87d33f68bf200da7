package main

import "github.com/spf13/cobra"

func newCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "check",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errNotBuilt}
		},
	}
}
