package main

import "github.com/spf13/cobra"

func newAppCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "app",
		Short:  "(not built yet)",
		Hidden: true,
		RunE: func(*cobra.Command, []string) error {
			return usageError{errNotBuilt}
		},
	}
}
