// Command sdkgen writes the Python, Node.js and Go SDKs of a Pulumi package schema with Pulumi's own code
// generators, the ones the language hosts run for `pulumi package gen-sdk`. The Python host that
// scripts/setup-pulumi builds does not answer that request, so this does the hosts' part in one process: bind
// the schema once as the CLI does, hand each generator a freshly bound copy as each host does, and write
// <out>/<language>/ from scratch. It also writes the build files the generators leave out: the Go module's
// go.mod at <out>/go.mod and the Java SDK's Maven pom at <out>/java/pom.xml.
//
//	sdkgen -java-sdk <com.pulumi:pulumi version> <schema.json> <out-dir>
//
// The package is generated in pack mode (schema meta.supportPack): every SDK then carries the schema's version
// (pyproject, package.json, pulumi-plugin.json). The Node.js SDK is generated for publishing, not as a local
// SDK: no postinstall compile, TypeScript only as a development dependency (scripts/sdk-packages compiles it
// and packs the result). The Go module is <out>/ itself, its path the schema's Go importBasePath without its
// trailing /go/<package>, so that it is tagged sdk/vX.Y.Z in the repository and fetched by `go get`.
package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

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
		return nodejs.GeneratePackage(tool, p, nil, nil, false, noPlugins{})
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

func run(schemaPath, out, javaSDK string) error {
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
		if g.language == "go" {
			if err := moveGoModule(spec, files, out); err != nil {
				return fmt.Errorf("%s: %w", schemaPath, err)
			}
		}
		if err := write(filepath.Join(out, g.language), files); err != nil {
			return err
		}
	}
	pom, err := mavenPom(spec, javaSDK)
	if err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	if err := os.MkdirAll(filepath.Join(out, "java"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "java", "pom.xml"), pom, 0o644)
}

// goModulePath is the schema's Go importBasePath without its trailing /go/<package>: the module is the SDK
// folder as a whole, as for Pulumi's own providers, and the package lives at <module>/go/<package>.
func goModulePath(spec schema.PackageSpec) (string, error) {
	var info struct {
		ImportBasePath string `json:"importBasePath"`
	}
	if raw, ok := spec.Language["go"]; ok {
		if err := json.Unmarshal(raw, &info); err != nil {
			return "", fmt.Errorf("language.go: %w", err)
		}
	}
	suffix := "/go/" + spec.Name
	module, found := strings.CutSuffix(info.ImportBasePath, suffix)
	if !found || module == "" {
		return "", fmt.Errorf("language.go.importBasePath %q must end in %q (the module is what comes before)",
			info.ImportBasePath, suffix)
	}
	return module, nil
}

// moveGoModule takes the go.mod the generator writes beside the package and writes it one level up, at
// <out>/go.mod, under the module path the importBasePath implies.
func moveGoModule(spec schema.PackageSpec, files map[string][]byte, out string) error {
	module, err := goModulePath(spec)
	if err != nil {
		return err
	}
	gomod, ok := files["go.mod"]
	if !ok {
		return errors.New("the Go generator wrote no go.mod")
	}
	delete(files, "go.mod")
	lines := strings.SplitN(string(gomod), "\n", 2)
	if !strings.HasPrefix(lines[0], "module ") || len(lines) != 2 {
		return fmt.Errorf("the Go generator's go.mod does not start with a module line: %q", lines[0])
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "go.mod"), []byte("module "+module+"\n"+lines[1]), 0o644)
}

// mavenGroupID names the Java artifact's group after the repository, the way Maven Central verifies a
// namespace: io.github.<owner> for a GitHub repository, the reversed host then the owner elsewhere.
func mavenGroupID(repository string) (string, error) {
	address, err := url.Parse(repository)
	if err != nil {
		return "", fmt.Errorf("repository %q: %w", repository, err)
	}
	owner, _, _ := strings.Cut(strings.Trim(address.Path, "/"), "/")
	if address.Host == "" || owner == "" {
		return "", fmt.Errorf("repository %q is not <scheme>://<host>/<owner>/<name>", repository)
	}
	labels := strings.Split(strings.ToLower(address.Hostname()), ".")
	if len(labels) == 2 && (labels[0] == "github" || labels[0] == "gitlab") {
		labels = []string{"io", labels[0]}
	} else {
		for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
			labels[i], labels[j] = labels[j], labels[i]
		}
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(owner))
	return strings.Join(append(labels, clean), "."), nil
}

func xmlText(text string) string {
	var escaped strings.Builder
	_ = xml.EscapeText(&escaped, []byte(text))
	return escaped.String()
}

// licenseURLs are the texts of the licences a published pom may name: Maven Central wants each licence's URL.
var licenseURLs = map[string]string{
	"Apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0.txt",
}

// scmAddresses are the pom's scm url, connection and developerConnection, all derived from the repository.
func scmAddresses(repository string) (string, string, string, error) {
	address, err := url.Parse(repository)
	if err != nil || address.Host == "" || strings.Trim(address.Path, "/") == "" {
		return "", "", "", fmt.Errorf("repository %q is not <scheme>://<host>/<owner>/<name>", repository)
	}
	path := strings.TrimSuffix(strings.Trim(address.Path, "/"), ".git")
	web := address.Scheme + "://" + address.Host + "/" + path
	return web, "scm:git:" + web + ".git", "scm:git:ssh://git@" + address.Hostname() + "/" + path + ".git", nil
}

// mavenPom is the Java SDK's build file: the artifact pulumi-<package> in the repository's group, at the
// schema's version, compiled for Java 11 against Pulumi's Java SDK at the generator's version, with the metadata
// Maven Central requires (name, description, url, licences with their URL, developers, scm) and a javadoc jar
// beside the sources jar. The developer is the schema's publisher, as the owner of the repository.
func mavenPom(spec schema.PackageSpec, javaSDK string) ([]byte, error) {
	if javaSDK == "" {
		return nil, errors.New("the version of Pulumi's Java SDK (-java-sdk) is needed for the Java SDK's pom")
	}
	group, err := mavenGroupID(spec.Repository)
	if err != nil {
		return nil, err
	}
	licenseURL, ok := licenseURLs[spec.License]
	if !ok {
		return nil, fmt.Errorf("license %q has no known URL for the pom; add it to licenseURLs", spec.License)
	}
	web, connection, developerConnection, err := scmAddresses(spec.Repository)
	if err != nil {
		return nil, err
	}
	if spec.Publisher == "" {
		return nil, errors.New("the schema names no publisher, which the pom lists as its developer")
	}
	owner := web[:strings.LastIndex(web, "/")]
	return []byte(fmt.Sprintf(pomTemplate, group, "pulumi-"+spec.Name, xmlText(spec.Version),
		xmlText(spec.DisplayName), xmlText(spec.Description), xmlText(web), xmlText(spec.License),
		xmlText(licenseURL), xmlText(spec.Publisher), xmlText(owner), xmlText(web), xmlText(connection),
		xmlText(developerConnection), xmlText("v"+spec.Version), xmlText(javaSDK))), nil
}

const pomTemplate = `<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/gen-sdk from the package schema; scripts/sdk-packages builds the artifact with it. -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
    <modelVersion>4.0.0</modelVersion>

    <groupId>%s</groupId>
    <artifactId>%s</artifactId>
    <version>%s</version>
    <packaging>jar</packaging>

    <name>%s</name>
    <description>%s</description>
    <url>%s</url>
    <licenses>
        <license>
            <name>%s</name>
            <url>%s</url>
            <distribution>repo</distribution>
        </license>
    </licenses>
    <developers>
        <developer>
            <name>%s</name>
            <url>%s</url>
        </developer>
    </developers>
    <scm>
        <url>%s</url>
        <connection>%s</connection>
        <developerConnection>%s</developerConnection>
        <tag>%s</tag>
    </scm>

    <properties>
        <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
        <maven.compiler.release>11</maven.compiler.release>
    </properties>

    <dependencies>
        <dependency>
            <groupId>com.pulumi</groupId>
            <artifactId>pulumi</artifactId>
            <version>%s</version>
        </dependency>
        <!-- The generated classes' @Nullable annotations. -->
        <dependency>
            <groupId>com.google.code.findbugs</groupId>
            <artifactId>jsr305</artifactId>
            <version>3.0.2</version>
        </dependency>
    </dependencies>

    <build>
        <plugins>
            <plugin>
                <groupId>org.apache.maven.plugins</groupId>
                <artifactId>maven-compiler-plugin</artifactId>
                <version>3.13.0</version>
            </plugin>
            <plugin>
                <groupId>org.apache.maven.plugins</groupId>
                <artifactId>maven-resources-plugin</artifactId>
                <version>3.3.1</version>
            </plugin>
            <plugin>
                <groupId>org.apache.maven.plugins</groupId>
                <artifactId>maven-jar-plugin</artifactId>
                <version>3.4.2</version>
            </plugin>
            <plugin>
                <groupId>org.apache.maven.plugins</groupId>
                <artifactId>maven-source-plugin</artifactId>
                <version>3.3.1</version>
                <executions>
                    <execution>
                        <id>attach-sources</id>
                        <goals>
                            <goal>jar-no-fork</goal>
                        </goals>
                    </execution>
                </executions>
            </plugin>
            <!-- The javadoc jar Maven Central requires; doclint off, the generated comments are not HTML. -->
            <plugin>
                <groupId>org.apache.maven.plugins</groupId>
                <artifactId>maven-javadoc-plugin</artifactId>
                <version>3.11.2</version>
                <configuration>
                    <doclint>none</doclint>
                    <quiet>true</quiet>
                </configuration>
                <executions>
                    <execution>
                        <id>attach-javadocs</id>
                        <goals>
                            <goal>jar</goal>
                        </goals>
                    </execution>
                </executions>
            </plugin>
        </plugins>
    </build>
</project>
`

func main() {
	javaSDK := flag.String("java-sdk", "", "the version of Pulumi's Java SDK (com.pulumi:pulumi) the Java SDK needs")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: sdkgen -java-sdk <version> <schema.json> <out-dir>")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), flag.Arg(1), *javaSDK); err != nil {
		fmt.Fprintln(os.Stderr, "sdkgen:", err)
		os.Exit(1)
	}
}
