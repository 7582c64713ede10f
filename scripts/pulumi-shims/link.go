package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Link is how `pulumi convert` and `pulumi package add` point a program at an SDK they generated locally. The
// v3.68 host predates it too. For the pip projects that host runs, linking is one line of requirements.txt:
// the SDK's directory, in place of any requirement on the same distribution.

// requirementName matches the distribution a requirements.txt line names (PEP 508), before any version,
// extras, marker or URL.
var requirementName = regexp.MustCompile(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)`)

// projectName reads `name = "..."` from the [project] table of a pyproject.toml.
var projectName = regexp.MustCompile(`(?m)^\[project\][^\[]*?^\s*name\s*=\s*"([^"]+)"`)

var nameSeparators = regexp.MustCompile(`[-_.]+`)

// normalizedName compares distribution names as pip does (PEP 503).
func normalizedName(name string) string {
	return strings.ToLower(nameSeparators.ReplaceAllString(name, "-"))
}

// distributionName is the name an SDK at path installs under: its pyproject.toml's, or for a built archive
// the part of its file name before the version.
func distributionName(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("the SDK to link is missing: %w", err)
	}
	if !info.IsDir() {
		return strings.SplitN(filepath.Base(path), "-", 2)[0], nil
	}
	data, err := os.ReadFile(filepath.Join(path, "pyproject.toml"))
	if err != nil {
		return "", fmt.Errorf("%s holds no pyproject.toml to install it from: %w", path, err)
	}
	match := projectName.FindSubmatch(data)
	if match == nil {
		return "", fmt.Errorf("%s names no project", filepath.Join(path, "pyproject.toml"))
	}
	return string(match[1]), nil
}

func link(_ context.Context, req *pulumirpc.LinkRequest) (*pulumirpc.LinkResponse, error) {
	if len(req.Packages) == 0 {
		return &pulumirpc.LinkResponse{}, nil // `pulumi convert` asks even when it generated no SDK
	}
	info := req.GetInfo()
	if info == nil || info.RootDirectory == "" {
		return nil, errors.New("the request names no program to link packages into")
	}
	programDir := info.ProgramDirectory
	if programDir == "" {
		programDir = info.RootDirectory
	}
	requirementsPath := filepath.Join(programDir, "requirements.txt")
	data, err := os.ReadFile(requirementsPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(data) == 0 {
		lines = nil
	}

	var instructions []string
	for _, dep := range req.Packages {
		// The CLI gives the SDK's path relative to the project root; requirements.txt paths are relative to it.
		sdk := filepath.Join(info.RootDirectory, dep.Path)
		dist, err := distributionName(sdk)
		if err != nil {
			return nil, err
		}
		entry, err := filepath.Rel(programDir, sdk)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(entry, ".") {
			entry = "./" + entry // pip reads a bare name as a distribution, not a path
		}
		kept := lines[:0]
		for _, line := range lines {
			match := requirementName.FindStringSubmatch(line)
			if strings.TrimSpace(line) == entry || (match != nil && normalizedName(match[1]) == normalizedName(dist)) {
				continue
			}
			kept = append(kept, line)
		}
		lines = append(kept, entry)
		alias := dep.GetPackage().GetName()
		if alias == "" {
			alias = dist
		}
		instructions = append(instructions, fmt.Sprintf("import %s as %s",
			strings.ReplaceAll(strings.ReplaceAll(dist, "-", "_"), ".", "_"), strings.ReplaceAll(alias, "-", "_")))
	}
	if err := os.WriteFile(requirementsPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	return &pulumirpc.LinkResponse{
		ImportInstructions: "You can then import the SDK in your Python code with:\n\n  " +
			strings.Join(instructions, "\n  ") + "\n",
	}, nil
}
