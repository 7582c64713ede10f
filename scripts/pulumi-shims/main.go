// Command pulumi-language-python starts the Python language host that scripts/setup-pulumi builds, with the
// project's runtime options turned into the flags that host understands, and serves the language runtime in
// front of it, answering the code-generation calls that host predates.
//
// The only language host the module proxy serves comes from sdk/v3 v3.68.0. It reads a project's
// `virtualenv` option only from its own `-root` and `-virtualenv` flags, while the CLI it runs under
// (v3.274) starts it with the engine address alone and sends the options inside its requests. Without this
// launcher a project written to Pulumi's conventions (`runtime: {name: python, options: {toolchain: pip,
// virtualenv: venv}}`) would run on the system Python. setup-pulumi installs this program as
// pulumi-language-python and the real host beside it as `langhost-python-upstream`; the real host finds
// pulumi-language-python-exec beside itself, so both must stay in the same directory.
//
// That host also answers GenerateProgram, GenerateProject, GeneratePackage and Link "not implemented", which
// breaks `pulumi import` (after it has written the import to state), `pulumi convert` and `pulumi package
// gen-sdk --language python`. So the launcher starts the host as a child, serves the LanguageRuntime service on
// a port of its own, answers the three with the Python generators of pkg/v3 (codegen.go) and Link with a line
// of requirements.txt (link.go), and forwards every other call to the host unchanged (proxy.go).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// startUpstream starts the real host with argv and returns it with the port it announced on its stdout. The
// rest of its stdout is copied to ours; its stderr is ours. The host stays in this process group, so the CLI
// stopping the plugin stops it too, and it is killed if this launcher dies first.
func startUpstream(host string, argv []string) (*exec.Cmd, *bufio.Reader, int, error) {
	// A pipe of our own rather than cmd.StdoutPipe: Wait must not wait for the programs the host starts,
	// which may hold on to the pipe.
	readEnd, writeEnd, err := os.Pipe()
	if err != nil {
		return nil, nil, 0, err
	}
	cmd := &exec.Cmd{
		Path:        host,
		Args:        argv,
		Stdin:       os.Stdin,
		Stdout:      writeEnd,
		Stderr:      os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	err = cmd.Start()
	_ = writeEnd.Close()
	if err != nil {
		_ = readEnd.Close()
		return nil, nil, 0, fmt.Errorf("could not start %s: %w", host, err)
	}
	reader := bufio.NewReader(readEnd)
	line, readErr := reader.ReadString('\n')
	port, convErr := strconv.Atoi(strings.TrimSpace(line))
	if readErr != nil || convErr != nil || port <= 0 {
		// The host failed before serving; its own message is on stderr. Pass on what else it printed.
		_, _ = os.Stdout.WriteString(line)
		_, _ = io.Copy(os.Stdout, reader)
		_ = cmd.Wait()
		return nil, nil, 0, &hostExit{code: cmd.ProcessState.ExitCode()}
	}
	return cmd, reader, port, nil
}

// hostExit is the real host's own failure, already reported on stderr: the launcher exits with its code.
type hostExit struct{ code int }

func (e *hostExit) Error() string {
	return fmt.Sprintf("the language host exited with code %d", e.code)
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

	// Pdeathsig follows the thread that started the host: keep this goroutine on that thread for good.
	runtime.LockOSThread()
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	cmd, hostOutput, upstreamPort, err := startUpstream(host, argv)
	if err != nil {
		return err
	}
	go func() {
		for sig := range signals {
			_ = cmd.Process.Signal(sig)
		}
	}()
	px, err := newProxy(net.JoinHostPort("127.0.0.1", strconv.Itoa(upstreamPort)), codegenHandlers())
	if err != nil {
		_ = cmd.Process.Kill()
		return err
	}
	port, err := px.serve()
	if err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("could not serve the language runtime: %w", err)
	}
	// The CLI reads the first line of stdout as the port; whatever the host prints later follows it.
	fmt.Printf("%d\n", port)
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(os.Stdout, hostOutput)
		close(copied)
	}()
	// The host serves until the engine goes away or the CLI stops it; the launcher lives exactly as long.
	_ = cmd.Wait()
	// Pass on the host's last words, without waiting for programs it started that still hold its stdout.
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		return &hostExit{code: code}
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		var exit *hostExit
		if errors.As(err, &exit) {
			if exit.code <= 0 {
				exit.code = 1
			}
			os.Exit(exit.code)
		}
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
}
