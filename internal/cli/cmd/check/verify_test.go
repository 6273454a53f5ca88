package check

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/internal/testutil/fakeec2"
)

// TestCheckVerboseConfirmsAWSWithEC2: `check -v` asks EC2 (the fake, through the real SDK) to accept the
// credentials the offline check found: accepted, AWS is enabled; revoked, it is disabled with EC2's answer as
// the reason and left out of the cached set. Without -v nothing is asked. Not parallel: the SDK reads the
// process's environment.
func TestCheckVerboseConfirmsAWSWithEC2(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": fakeec2.AccessKey, "AWS_SECRET_ACCESS_KEY": "fake-secret"}
	ec2 := fakeAWS(t, env)
	m := newMachine(t, nil, env)

	out, errOut, err := m.run(t, "-v", "aws", "local")
	if err != nil {
		t.Fatalf("check -v: %v\n%s", err, errOut)
	}
	want := "  ✔ AWS: enabled\n    Using environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY\n"
	if !strings.Contains(out, want) {
		t.Errorf("stdout lacks %q:\n%s", want, out)
	}
	if got := m.cached(t); !slices.Equal(got, []string{"aws", "local"}) {
		t.Errorf("cached %v, want [aws local]", got)
	}
	if calls := ec2.Calls(); !slices.Equal(calls, []string{"DescribeRegions"}) {
		t.Errorf("EC2 calls %v, want one DescribeRegions", calls)
	}

	// The key is revoked: offline it still looks usable, but EC2 refuses it.
	ec2.SetAccessKeys("AKIAOTHER")
	if out, _, err = m.run(t, "aws"); err != nil || !strings.Contains(out, "  ✔ AWS: enabled\n") {
		t.Errorf("check without -v: err %v, stdout:\n%s", err, out)
	}
	if n := len(ec2.Calls()); n != 1 {
		t.Errorf("check without -v called EC2 (%d calls in all)", n)
	}
	out, _, err = m.run(t, "--verbose", "aws")
	if err != nil {
		t.Fatalf("check -v with a revoked key: %v (disabled infra is not a failure)", err)
	}
	t.Logf("check -v with a revoked key:\n%s", out)
	for _, want := range []string{
		"  ✘ AWS: disabled\n    Reason: the credentials found (environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) were rejected: ",
		"AuthFailure",
		"🎉 Enabled infra 🎉\n  Local\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if got := m.cached(t); !slices.Equal(got, []string{"local"}) {
		t.Errorf("cached %v after the revoked check, want [local]", got)
	}
}

// fakeAWS starts a fake EC2 and points the AWS SDK of this process at it, with nothing of this machine's AWS
// configuration (no files, no instance metadata); vars add to or override that environment.
func fakeAWS(t *testing.T, vars map[string]string) *fakeec2.Server {
	t.Helper()
	ec2 := fakeec2.New(t)
	env := map[string]string{
		"AWS_ENDPOINT_URL_EC2": ec2.URL, "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
		"AWS_MAX_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "",
		"AWS_CONFIG_FILE": filepath.Join(t.TempDir(), "none"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(t.TempDir(), "none"),
		"AWS_PROFILE": "", "AWS_SESSION_TOKEN": "",
	}
	for k, v := range vars {
		env[k] = v
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	return ec2
}
