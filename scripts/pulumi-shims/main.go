// Command pulumi-language-python starts the Python language host that scripts/setup-pulumi builds, with the
// project's runtime options turned into the flags that host understands.
//
// The only language host the module proxy serves comes from sdk/v3 v3.68.0. It reads a project's
// `virtualenv` option only from its own `-root` and `-virtualenv` flags, while the CLI it runs under
// (v3.274) starts it with the engine address alone and sends the options inside its requests. Without this
// launcher a project written to Pulumi's conventions (`runtime: {name: python, options: {toolchain: pip,
// virtualenv: venv}}`) would run on the system Python. setup-pulumi installs this program as
// pulumi-language-python and the real host beside it as `langhost-python-upstream`; the real host finds
// pulumi-language-python-exec beside itself, so both must stay in the same directory.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// upstreamHost is the file name of the real (v3.68.0) language host, beside this launcher.
const upstreamHost = "langhost-python-upstream"

// projectFileNames are the names the Pulumi CLI accepts for a project file, in the order it tries them.
var projectFileNames = []string{"Pulumi.json", "Pulumi.yaml", "Pulumi.yml"}

// runtimeSpec is the part of Pulumi.yaml this launcher reads. `runtime` is either a bare name
// (`runtime: python`) or a mapping with `name` and `options`.
type runtimeSpec struct {
	Name    string
	Options map[string]any
}

func (r *runtimeSpec) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		return node.Decode(&r.Name)
	}
	var full struct {
		Name    string         `yaml:"name"`
		Options map[string]any `yaml:"options"`
	}
	if err := node.Decode(&full); err != nil {
		return err
	}
	r.Name, r.Options = full.Name, full.Options
	return nil
}

type project struct {
	Runtime runtimeSpec `yaml:"runtime"`
}

// findProject returns the project file that governs dir: the nearest one in dir or above, as the CLI
// finds it. The CLI starts the language host in the program's directory, which is the project root or,
// with `main:`, a directory below it.
func findProject(dir string) (string, bool) {
	for {
		for _, name := range projectFileNames {
			candidate := filepath.Join(dir, name)
			if info, err := os.Stat(candidate); err == nil && info.Mode().IsRegular() {
				return candidate, true
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// hasFlag reports whether args already carry -name or --name (with or without =value).
func hasFlag(args []string, name string) bool {
	for _, arg := range args {
		trimmed := strings.TrimLeft(arg, "-")
		if len(trimmed) == len(arg) || len(arg)-len(trimmed) > 2 {
			continue
		}
		if trimmed == name || strings.HasPrefix(trimmed, name+"=") {
			return true
		}
	}
	return false
}

// optionString reads a string runtime option; a value of another type is an error, as it is for the CLI.
func optionString(options map[string]any, key string) (string, error) {
	value, ok := options[key]
	if !ok || value == nil {
		return "", nil
	}
	text, ok := value.(string)
	if !ok {
		return "", fmt.Errorf("runtime option %q must be a string, not %v", key, value)
	}
	return text, nil
}

// hostFlags returns the flags that tell the v3.68 host about the project governing cwd: `-root`, and
// `-virtualenv` when the project names one (relative paths are resolved by the host against `-root`, the
// directory holding Pulumi.yaml, as the official host does). It returns no flags when the caller passes
// them already (an older CLI does) or when cwd belongs to no project.
func hostFlags(args []string, cwd string) ([]string, error) {
	if hasFlag(args, "root") || hasFlag(args, "virtualenv") {
		return nil, nil
	}
	path, found := findProject(cwd)
	if !found {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var proj project
	if err := yaml.Unmarshal(data, &proj); err != nil {
		return nil, fmt.Errorf("could not read %s: %w", path, err)
	}
	toolchain, err := optionString(proj.Runtime.Options, "toolchain")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch toolchain {
	case "", "pip":
	case "uv", "poetry":
		return nil, fmt.Errorf(
			"%s asks for `toolchain: %s`, which the Python language host built by scripts/setup-pulumi "+
				"(from Pulumi sdk v3.68.0) cannot run; use `toolchain: pip` with `virtualenv: <dir>`, "+
				"or run this project with the official Pulumi CLI", path, toolchain)
	default:
		return nil, fmt.Errorf("%s: unknown Python toolchain %q (expected pip, uv or poetry)", path, toolchain)
	}
	virtualenv, err := optionString(proj.Runtime.Options, "virtualenv")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	flags := []string{"-root=" + filepath.Dir(path)}
	if virtualenv != "" {
		flags = append(flags, "-virtualenv="+virtualenv)
	}
	return flags, nil
}

func run() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("could not locate this launcher: %w", err)
	}
	host := filepath.Join(filepath.Dir(self), upstreamHost)
	if _, err := os.Stat(host); err != nil {
		return fmt.Errorf("the Python language host %s is missing; rerun scripts/setup-pulumi", host)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("could not read the working directory: %w", err)
	}
	args := os.Args[1:]
	flags, err := hostFlags(args, cwd)
	if err != nil {
		return err
	}
	// Flags first: the host's flag parser stops at the engine address, which the CLI passes last.
	argv := append(append([]string{host}, flags...), args...)
	if err := syscall.Exec(host, argv, os.Environ()); err != nil {
		return fmt.Errorf("could not start %s: %w", host, err)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
}
