// Package config loads the YAML configuration file: strict keys, ${ENV} substitution, paths
// relative to the file, and errors that name file, line and column. It validates shapes and
// references; compiling policies or seeding the directory is the job of the packages that own
// them.
package config
