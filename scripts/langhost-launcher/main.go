// Command langhost-launcher starts one of the Node.js, Go or Java language hosts that scripts/setup-pulumi
// builds, with the project's runtime options turned into the flags that host understands.
//
// Those hosts come from older releases (sdk/v3 v3.68.0 for Node.js, v3.65.0 for Go, pulumi-java v1.12.0). They
// read a project's runtime options (`typescript`, `nodeargs`, `binary`, `use-executor`, ...) only as flags,
// `-<option>=<value>`, which is how the CLIs of their time started them; the current CLI starts a host with the
// engine address alone and sends the options inside its requests. setup-pulumi installs this program under
// each host's plugin name (pulumi-language-nodejs, pulumi-language-go, pulumi-language-java) and keeps the
// real host beside it as langhost-<language>-upstream; the program picks the host from its own name.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

const pluginPrefix = "pulumi-language-"

// hostOptions are the runtime options each host takes as flags. Options the host does not know (newer ones,
// such as Node.js's `packagemanager`) are left out: passed as flags they would stop it.
var hostOptions = map[string][]string{
	"nodejs": {"typescript", "tsconfig", "nodeargs"},
	"go":     {"binary", "buildTarget"},
	"java":   {"binary", "use-executor"},
}

// projectFileNames are the names the Pulumi CLI accepts for a project file, in the order it tries them.
var projectFileNames = []string{"Pulumi.json", "Pulumi.yaml", "Pulumi.yml"}

// runtimeSpec is the part of Pulumi.yaml this launcher reads: `runtime` is a bare name or a mapping with
// `name` and `options`.
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

// findProject returns the project file governing dir: the nearest one in dir or above, as the CLI finds it.
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

// hasRoot reports whether the caller passed -root or --root already (an older CLI does, with the options).
// Other flags, such as the logging ones the CLI passes when asked to be verbose, may come with or without it.
func hasRoot(args []string) bool {
	for _, arg := range args {
		trimmed := strings.TrimLeft(arg, "-")
		if len(trimmed) == len(arg) || len(arg)-len(trimmed) > 2 {
			continue
		}
		if trimmed == "root" || strings.HasPrefix(trimmed, "root=") {
			return true
		}
	}
	return false
}

// optionFlags returns `-root=<project root>` and one `-<name>=<value>` per runtime option of the project
// governing cwd that the language's host knows, sorted by name; none when cwd belongs to no project.
func optionFlags(language, cwd string) ([]string, error) {
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
	var names []string
	for _, name := range hostOptions[language] {
		if _, given := proj.Runtime.Options[name]; given {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	flags := []string{"-root=" + filepath.Dir(path)}
	for _, name := range names {
		switch value := proj.Runtime.Options[name].(type) {
		case string, bool, int, float64:
			flags = append(flags, fmt.Sprintf("-%s=%v", name, value))
		case nil:
		default:
			return nil, fmt.Errorf("%s: runtime option %q must be a string, a number or a boolean, not %v",
				path, name, value)
		}
	}
	return flags, nil
}

func run() error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("could not locate this launcher: %w", err)
	}
	name := filepath.Base(os.Args[0])
	if !strings.HasPrefix(name, pluginPrefix) {
		return fmt.Errorf("started as %q: this launcher must be installed as %s<language>", name, pluginPrefix)
	}
	language := strings.TrimPrefix(name, pluginPrefix)
	if _, known := hostOptions[language]; !known {
		return fmt.Errorf("started as %q: this launcher starts only the Node.js, Go and Java hosts", name)
	}
	host := filepath.Join(filepath.Dir(self), "langhost-"+language+"-upstream")
	if _, err := os.Stat(host); err != nil {
		return fmt.Errorf("the %s language host %s is missing; rerun scripts/setup-pulumi", language, host)
	}
	args := os.Args[1:]
	var flags []string
	if !hasRoot(args) {
		cwd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("could not read the working directory: %w", err)
		}
		if flags, err = optionFlags(language, cwd); err != nil {
			return err
		}
	}
	// Flags first: each host's flag parser stops at the engine address, which the CLI passes last.
	argv := append(append([]string{host}, flags...), args...)
	if err := syscall.Exec(host, argv, os.Environ()); err != nil {
		return fmt.Errorf("could not start %s: %w", host, err)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
		os.Exit(1)
	}
}
