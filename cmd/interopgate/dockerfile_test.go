package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The Dockerfile builds a static binary in a build stage and ships it alone, as a non-root
// user, in an image with no shell.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms, users []string
	var entrypoint string
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "FROM":
			froms = append(froms, line)
		case "USER":
			users = append(users, fields[1])
		case "ENTRYPOINT":
			entrypoint = line
		}
	}
	if len(froms) < 2 {
		t.Fatalf("want a multi-stage build, got %d stages", len(froms))
	}
	final := froms[len(froms)-1]
	if !strings.Contains(final, "distroless/static") {
		t.Errorf("final stage %q: want a distroless static image (no shell)", final)
	}
	if !strings.Contains(string(data), "COPY --from=build /out/interopgate") {
		t.Error("the final stage must take the binary from the build stage")
	}
	if !regexp.MustCompile(`CGO_ENABLED=0 go build`).Match(data) {
		t.Error("the binary must be static (CGO_ENABLED=0)")
	}
	if len(users) == 0 || users[len(users)-1] == "root" || strings.HasPrefix(users[len(users)-1], "0") {
		t.Errorf("final user %v: want a non-root numeric user", users)
	}
	if !strings.Contains(entrypoint, "/usr/local/bin/interopgate") {
		t.Errorf("entrypoint %q", entrypoint)
	}
}
