package showgpus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stix-run/stix/api"
	"github.com/stix-run/stix/internal/catalog"
	"github.com/stix-run/stix/internal/cli"
	"github.com/stix-run/stix/internal/cluster"
	"github.com/stix-run/stix/internal/embedded"
	"github.com/stix-run/stix/internal/testutil"
)

// everyCloud enables every cloud the catalog snapshot has, so that listings without -a see them all.
var everyCloud = []string{"aws", "cudo", "gcp", "hyperbolic", "lambda", "nebius", "runpod", "local"}

// run executes `stix show-gpus args...` with every catalog cloud enabled. See runEnabled.
func run(t *testing.T, tty bool, args ...string) (string, string, error) {
	t.Helper()
	return runEnabled(t, tty, everyCloud, args...)
}

// runEnabled executes `stix show-gpus args...` through the command's real wiring and the embedded client, with
// the shared catalog snapshot (read in place, never downloaded) and enabled as the infra `stix check` enabled,
// and returns stdout, stderr and the error.
func runEnabled(t *testing.T, tty bool, enabled []string, args ...string) (string, string, error) {
	t.Helper()
	snapshot := testutil.SharedDir(t, "catalogs/v7")
	home := t.TempDir()
	out, errOut := &bytes.Buffer{}, &bytes.Buffer{}
	s := cli.Test(strings.NewReader(""), out, errOut)
	s.SetTTY(tty)
	client := embedded.New(embedded.Options{Core: cluster.Options{Home: home,
		CatalogSource: func() (catalog.Source, error) { return catalog.Dir(snapshot), nil },
		EnabledInfra:  func(context.Context) ([]string, error) { return slices.Clone(enabled), nil },
	}})
	t.Cleanup(func() { client.Close() })
	f := &cli.Factory{
		IOStreams: s,
		StixHome:  func() (string, error) { return home, nil },
		Client:    func() (api.Client, error) { return client, nil },
	}
	cmd := NewCmdShowGPUs(f, nil)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func mustRun(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errOut, err := run(t, false, args...)
	if err != nil {
		t.Fatalf("show-gpus %v: %v\n%s", args, err, errOut)
	}
	return out, errOut
}

// rows returns the TSV data lines of out whose first field is acc.
func rows(out, acc string) []string {
	var got []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, acc+"\t") {
			got = append(got, line)
		}
	}
	return got
}

func TestListsCommonGPUsAndTPUs(t *testing.T) {
	t.Parallel()
	out, errOut := mustRun(t)
	for _, want := range []string{
		"COMMON_GPU\tAVAILABLE_QUANTITIES\nA10\t1\nA10G\t1, 4\nA100\t1, 2, 4, 8\n",
		"\nH100\t1, 2, 3, 4, 5, 6, 7, 8\n",
		"\nT4\t1\n",
		"\n\nGOOGLE_TPU\tAVAILABLE_QUANTITIES\ntpu-v4-8\t1\n",
		"\ntpu-v6e-8\t1\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "OTHER_GPU") || strings.Contains(out, "MI300X") || strings.Contains(out, "tpu-v4-1024") {
		t.Errorf("other accelerators are for -a:\n%s", out)
	}
	if !strings.Contains(errOut, "Hint: use -a/--all") {
		t.Errorf("stderr = %q", errOut)
	}

	all, errAll := mustRun(t, "-a")
	if !strings.Contains(all, "\n\nOTHER_GPU\tAVAILABLE_QUANTITIES\nA100-80GB-SXM\t1, 2, 4, 8\n") ||
		!strings.Contains(all, "\nMI300X\t1, 2, 4, 8\n") || len(rows(all, "A100")) != 1 {
		t.Errorf("-a:\n%s", all)
	}
	if strings.Contains(errAll, "Hint") {
		t.Errorf("-a still hints at -a: %q", errAll)
	}
}

func TestListScopedToOneCloud(t *testing.T) {
	t.Parallel()
	out, _ := mustRun(t, "--infra", "aws", "-a")
	for _, want := range []string{"\nA100\t8\n", "\nV100\t1, 4, 8\n", "\nT4g\t1, 2\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "GOOGLE_TPU") || strings.Contains(out, "MI300X") {
		t.Errorf("accelerators AWS does not offer:\n%s", out)
	}
}

func TestOffersOfAnAccelerator(t *testing.T) {
	t.Parallel()
	out, _ := mustRun(t, "A100:8")
	if !strings.HasPrefix(out, "GPU\tQTY\tCLOUD\tINSTANCE_TYPE\tDEVICE_MEM\tvCPUs\tHOST_MEM\tHOURLY_PRICE\tHOURLY_SPOT_PRICE\tREGION\n") {
		t.Errorf("header:\n%s", out)
	}
	// Clouds are ordered by their cheapest offer: Lambda's before AWS's.
	want := []string{
		"A100\t8\tLambda\tgpu_8x_a100\t40GB\t124\t1800GB\t$ 10.320\t-\tasia-northeast-1",
		"A100\t8\tAWS\tp4d.24xlarge\t40GB\t96\t1152GB\t$ 32.773\t$ 5.093\tus-east-1",
	}
	if got := rows(out, "A100"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("A100:8 rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Names containing the one asked get their own tables, as in SkyPilot.
	if got := rows(out, "A100-80GB"); len(got) != 3 || !strings.Contains(out, "\n\nGPU\tQTY") {
		t.Errorf("A100-80GB table:\n%s", out)
	}

	t4, _ := mustRun(t, "T4")
	if !strings.Contains(t4, "T4\t1\tAWS\tg4dn.xlarge\t16GB\t4\t16GB\t$ 0.526\t$ 0.176\tus-east-2\n") ||
		!strings.Contains(t4, "T4\t1\tGCP\tn1-standard-8\t") {
		t.Errorf("T4 must list AWS and GCP:\n%s", t4)
	}
}

func TestOffersFilteredAndPerRegion(t *testing.T) {
	t.Parallel()
	aws, _ := mustRun(t, "--infra", "aws", "H100")
	for _, r := range rows(aws, "H100") {
		if strings.Split(r, "\t")[2] != "AWS" {
			t.Errorf("--infra aws shows %q", r)
		}
	}
	if len(rows(aws, "H100")) == 0 {
		t.Errorf("--infra aws H100:\n%s", aws)
	}
	cheapest, _ := mustRun(t, "H100:8")
	every, _ := mustRun(t, "H100:8", "--all-regions")
	n, m := len(rows(cheapest, "H100")), len(rows(every, "H100"))
	if n == 0 || m <= n {
		t.Errorf("H100:8 has %d rows, with --all-regions %d: want more per region", n, m)
	}
	if !strings.Contains(every, "H100\t8\tAWS\tp5.48xlarge\t80GB\t192\t2048GB\t$ 98.320\t$ 20.993\tus-east-1\n") {
		t.Errorf("--all-regions lacks AWS us-east-1:\n%s", every)
	}
	region, _ := mustRun(t, "--infra", "aws/us-west-2", "H100:8")
	if got := rows(region, "H100"); len(got) != 1 || !strings.HasSuffix(got[0], "\tus-west-2") {
		t.Errorf("--infra aws/us-west-2: %q", got)
	}
}

func TestOffersAsJSON(t *testing.T) {
	t.Parallel()
	out, _ := mustRun(t, "A100:8", "-o", "json")
	var offers []api.Offer
	if err := json.Unmarshal([]byte(out), &offers); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	var p4d *api.Offer
	for i := range offers {
		if offers[i].InstanceType == "p4d.24xlarge" {
			p4d = &offers[i]
		}
		if offers[i].Cloud == "lambda" && offers[i].HourlySpotPrice != nil {
			t.Errorf("Lambda has no spot price: %+v", offers[i])
		}
	}
	if p4d == nil || p4d.HourlyPrice == nil || *p4d.HourlyPrice != 32.7726 || p4d.Region != "us-east-1" || p4d.Count != 8 {
		t.Errorf("p4d.24xlarge offer = %+v", p4d)
	}

	list, _ := mustRun(t, "-o", "json")
	var counts []api.AcceleratorCounts
	if err := json.Unmarshal([]byte(list), &counts); err != nil || len(counts) == 0 || counts[0].Group != api.GroupCommonGPU {
		t.Errorf("listing JSON: %v %+v", err, counts)
	}
}

func TestShowGPUsErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"A10O"}, `accelerator "A10O" is not in the catalog; did you mean: A10, A100`},
		{[]string{"A100:3"}, "no instance offers A100:3; counts on offer: A100: 1, 2, 4, 8"},
		{[]string{"--infra", "aws", "MI300X"}, "AWS does not offer MI300X; SkyPilot's catalog lists it on RunPod"},
		{[]string{"--infra", "k8s"}, "kubernetes infra: no kubeconfig"},
		{[]string{"--infra", "aws/us-east-9", "A100"}, `invalid region "us-east-9" for AWS; did you mean`},
		{[]string{"--infra", "*/mars-1"}, "no cloud in the catalog has mars-1"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			out, _, err := run(t, false, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
			var fe *cli.FlagError
			if errors.As(err, &fe) {
				t.Errorf("%v is a usage error; want exit 1", err)
			}
			if out != "" {
				t.Errorf("stdout = %q", out)
			}
		})
	}
	if _, _, err := run(t, false, "--infra", "nocloud"); err == nil || !strings.Contains(err.Error(), "--infra") {
		t.Errorf("bad --infra: %v", err)
	} else if fe := (*cli.FlagError)(nil); !errors.As(err, &fe) {
		t.Errorf("bad --infra is not a usage error: %v", err)
	}
}

func TestAlignedOnATerminal(t *testing.T) {
	t.Parallel()
	out, _, err := run(t, true, "--infra", "aws", "A100:8")
	if err != nil {
		t.Fatal(err)
	}
	want := "GPU   QTY  CLOUD  INSTANCE_TYPE  DEVICE_MEM  vCPUs  HOST_MEM  HOURLY_PRICE  HOURLY_SPOT_PRICE  REGION\n" +
		"A100  8    AWS    p4d.24xlarge   40GB        96     1152GB    $ 32.773      $ 5.093            us-east-1\n"
	if !strings.HasPrefix(out, want) {
		t.Errorf("got:\n%s\nwant it to start with:\n%s", out, want)
	}
}

// TestOnlyEnabledCloudsCount: without -a or a cloud in --infra, show-gpus counts only the clouds `stix check`
// enabled; -a counts every cloud in the catalog; with none enabled it says how to get one.
func TestOnlyEnabledCloudsCount(t *testing.T) {
	t.Parallel()
	awsOnly := []string{"aws", "local"}
	list, _, err := runEnabled(t, false, awsOnly, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var counts []api.AcceleratorCounts
	if err := json.Unmarshal([]byte(list), &counts); err != nil {
		t.Fatal(err)
	}
	for _, r := range counts {
		if !slices.Equal(r.Clouds, []string{"aws"}) {
			t.Errorf("%s is counted on %v; only AWS is enabled", r.Name, r.Clouds)
		}
	}
	all, _, err := runEnabled(t, false, awsOnly, "-a", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(all, `"runpod"`) {
		t.Errorf("-a must count every catalog cloud:\n%s", all)
	}
	offers, _, err := runEnabled(t, false, awsOnly, "H100:8")
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(offers, "H100"); len(got) == 0 || slices.ContainsFunc(got, func(l string) bool { return !strings.Contains(l, "\tAWS\t") }) {
		t.Errorf("offers of a disabled cloud shown:\n%s", offers)
	}
	if named, _, err := runEnabled(t, false, awsOnly, "--infra", "lambda", "H100:8"); err != nil || !strings.Contains(named, "\tLambda\t") {
		t.Errorf("a cloud named with --infra is shown even when disabled: %v\n%s", err, named)
	}
	for _, args := range [][]string{nil, {"A100"}} {
		out, _, err := runEnabled(t, false, []string{"local"}, args...)
		want := "add -a/--all"
		if len(args) > 0 {
			want = "--infra"
		}
		if err == nil || !strings.Contains(err.Error(), "no enabled infra has a catalog of accelerators (enabled: Local)") ||
			!strings.Contains(err.Error(), want) || out != "" {
			t.Errorf("show-gpus %v with only Local enabled: err = %v, stdout %q", args, err, out)
		}
	}
}
