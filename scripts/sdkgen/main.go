// Command sdkgen writes the Python, Node.js and Go SDKs of a Pulumi package schema with Pulumi's own code
// generators, the ones the language hosts run for `pulumi package gen-sdk`. The Python host that
// scripts/setup-pulumi builds does not answer that request, so this does the hosts' part in one process: bind
// the schema once as the CLI does, hand each generator a freshly bound copy as each host does, and write
// <out>/<language>/ from scratch.
//
//	sdkgen <schema.json> <out-dir>
//
// The package is generated in pack mode (schema meta.supportPack), as `pulumi package add` does for local
// SDKs: every SDK then carries the schema's version (pyproject/setup.py, package.json, pulumi-plugin.json)
// and the Go SDK gets its own go.mod, so a program can point a replace directive at it. The Node.js SDK is a
// local SDK too (main bin/index.js, compiled by its postinstall script when npm installs it).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	"github.com/blang/semver"
	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const tool = "pulumi-sdkgen-ardent"

// noPlugins resolves no other package: the schema must stand alone, and nothing is downloaded or started.
type noPlugins struct{}

var errNoPlugins = errors.New("sdkgen loads no other packages: the schema may reference only its own types")

func (noPlugins) LoadPackage(string, *semver.Version) (*schema.Package, error) {
	return nil, errNoPlugins
}

func (noPlugins) LoadPackageV2(context.Context, *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, errNoPlugins
}

func (noPlugins) LoadPackageReference(string, *semver.Version) (schema.PackageReference, error) {
	return nil, errNoPlugins
}

func (noPlugins) LoadPackageReferenceV2(context.Context, *schema.PackageDescriptor) (schema.PackageReference, error) {
	return nil, errNoPlugins
}

func bind(spec schema.PackageSpec) (*schema.Package, error) {
	pkg, diags, err := schema.BindSpec(spec, noPlugins{}, schema.ValidationOptions{AllowDanglingReferences: true})
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return pkg, nil
}

// rebind is the host's side: it receives the CLI's bound package as JSON and binds it again.
func rebind(bound []byte) (*schema.Package, error) {
	var spec schema.PackageSpec
	if err := json.Unmarshal(bound, &spec); err != nil {
		return nil, err
	}
	return bind(spec)
}

var generators = []struct {
	language string
	generate func(*schema.Package) (map[string][]byte, error)
}{
	{"python", func(p *schema.Package) (map[string][]byte, error) {
		return python.GeneratePackage(tool, p, nil, noPlugins{})
	}},
	{"nodejs", func(p *schema.Package) (map[string][]byte, error) {
		return nodejs.GeneratePackage(tool, p, nil, nil, true, noPlugins{})
	}},
	{"go", func(p *schema.Package) (map[string][]byte, error) {
		files, err := gogen.GeneratePackage(tool, p, nil)
		if err != nil {
			return nil, err
		}
		return files, requireGoSDK(files, goSDKFloor)
	}},
}

// goSDKFloor is the lowest github.com/pulumi/pulumi/sdk/v3 the generated Go SDK compiles with: its resources'
// Exists call ctx.ExistsResource with a StringInput id, as v3.274.0 first declared it, while the generator writes
// v3.269.0 into go.mod. The support matrix's bounds-go-sdk session runs a program on exactly this version.
const goSDKFloor = "v3.274.0"

var goSDKRequire = regexp.MustCompile(`(?m)^require github\.com/pulumi/pulumi/sdk/v3 v\S+$`)

// requireGoSDK sets the version of the Go SDK's one requirement on the pulumi SDK in its go.mod.
func requireGoSDK(files map[string][]byte, version string) error {
	gomod, ok := files["go.mod"]
	if !ok || len(goSDKRequire.FindAll(gomod, -1)) != 1 {
		return errors.New("the Go generator's go.mod does not require github.com/pulumi/pulumi/sdk/v3 on one line")
	}
	files["go.mod"] = goSDKRequire.ReplaceAll(gomod, []byte("require github.com/pulumi/pulumi/sdk/v3 "+version))
	return nil
}

// write replaces dir with exactly files, in a fixed order and with fixed modes, so reruns are byte-identical.
func write(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func run(schemaPath, out string) error {
	data, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	if spec.Version == "" {
		return fmt.Errorf("%s: the schema has no version, which the SDKs are published under", schemaPath)
	}
	pkg, err := bind(spec)
	if err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	pkg.SupportPack = true
	bound, err := pkg.MarshalJSON()
	if err != nil {
		return err
	}
	for _, g := range generators {
		p, err := rebind(bound)
		if err != nil {
			return fmt.Errorf("%s: %w", g.language, err)
		}
		files, err := g.generate(p)
		if err != nil {
			return fmt.Errorf("generating the %s SDK: %w", g.language, err)
		}
		if err := write(filepath.Join(out, g.language), files); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: sdkgen <schema.json> <out-dir>")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "sdkgen:", err)
		os.Exit(1)
	}
}
