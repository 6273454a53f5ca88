package credentials

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixture is a fake machine: files under a temporary root (home/..., sys/..., stix/...) and environment
// variables, in which "$ROOT" stands for the root.
type fixture struct {
	files map[string]string // path relative to the root -> content; a mode suffix "|x" makes it executable
	vars  map[string]string
}

// env writes the fixture's files and returns an Env rooted in it: Home=root/home, StixHome=root/stix,
// SystemRoot=root/sys.
func (fx fixture) env(t *testing.T) (Env, string) {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"home", "stix", "sys"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for rel, content := range fx.files {
		mode := os.FileMode(0o600)
		if c, ok := strings.CutSuffix(content, "|x"); ok {
			content, mode = c, 0o755
		}
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	vars := map[string]string{}
	for k, v := range fx.vars {
		vars[k] = strings.ReplaceAll(v, "$ROOT", root)
	}
	return Env{
		Home:       filepath.Join(root, "home"),
		StixHome:   filepath.Join(root, "stix"),
		SystemRoot: filepath.Join(root, "sys"),
		Getenv:     func(k string) string { return vars[k] },
	}, root
}

// checkCase is one infra checked on one fake machine.
type checkCase struct {
	name        string
	fx          fixture
	enabled     bool
	want        string   // a substring of Detail when enabled, of Reason when not
	contexts    []string // exact Contexts when not nil
	notInReason string   // a substring the reason must not contain
}

func runChecks(t *testing.T, infra string, cases []checkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, _ := tc.fx.env(t)
			rs := Check(context.Background(), e, infra)
			if len(rs) != 1 || rs[0].Infra != infra {
				t.Fatalf("Check(%s) = %+v, want one result for it", infra, rs)
			}
			r := rs[0]
			got := r.Reason
			if r.Enabled {
				got = r.Detail
			}
			if r.Enabled != tc.enabled || !strings.Contains(got, tc.want) {
				t.Errorf("enabled=%v detail=%q reason=%q; want enabled=%v and %q", r.Enabled, r.Detail, r.Reason,
					tc.enabled, tc.want)
			}
			if tc.contexts != nil && !slices.Equal(r.Contexts, tc.contexts) {
				t.Errorf("contexts = %q, want %q", r.Contexts, tc.contexts)
			}
			if tc.notInReason != "" && strings.Contains(r.Reason, tc.notInReason) {
				t.Errorf("reason %q contains %q", r.Reason, tc.notInReason)
			}
		})
	}
}

func TestAWS(t *testing.T) {
	t.Parallel()
	keys := "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cret\n"
	runChecks(t, "aws", []checkCase{
		{name: "nothing", enabled: false, want: "aws configure"},
		{name: "environment keys", fx: fixture{vars: map[string]string{"AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "x"}},
			enabled: true, want: "environment variables"},
		{name: "only the key id", fx: fixture{vars: map[string]string{"AWS_ACCESS_KEY_ID": "AKIA"}},
			want: "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"},
		{name: "default profile keys", fx: fixture{files: map[string]string{"home/.aws/credentials": keys}},
			enabled: true, want: "profile default: access keys in ~/.aws/credentials"},
		{name: "keys with CRLF, comments and a nested block", fx: fixture{files: map[string]string{
			"home/.aws/config": "# mine\r\n[default]\r\nregion = us-east-1\r\ns3 =\r\n  max_concurrent_requests = 20\r\n" +
				"aws_access_key_id=AKIA\r\naws_secret_access_key=x\r\n"}},
			enabled: true, want: "access keys in ~/.aws/config"},
		{name: "SSO profile selected by AWS_PROFILE", fx: fixture{
			files: map[string]string{"home/.aws/config": "[profile dev]\nsso_session = corp\nsso_account_id = 1\n[sso-session corp]\nsso_start_url = https://x\n"},
			vars:  map[string]string{"AWS_PROFILE": "dev"}},
			enabled: true, want: "profile dev: AWS SSO session corp"},
		{name: "legacy SSO", fx: fixture{files: map[string]string{"home/.aws/config": "[default]\nsso_start_url = https://corp.awsapps.com/start\n"}},
			enabled: true, want: "AWS SSO at https://corp.awsapps.com/start"},
		{name: "credential_process", fx: fixture{files: map[string]string{"home/.aws/config": "[default]\ncredential_process = /bin/creds\n"}},
			enabled: true, want: "credential_process in ~/.aws/config"},
		{name: "role from a source profile", fx: fixture{
			files: map[string]string{"home/.aws/credentials": "[base]\naws_access_key_id = A\naws_secret_access_key = B\n",
				"home/.aws/config": "[profile ops]\nrole_arn = arn:aws:iam::123:role/ops\nsource_profile = base\n"},
			vars: map[string]string{"AWS_PROFILE": "ops"}},
			enabled: true, want: "role arn:aws:iam::123:role/ops assumed from profile base"},
		{name: "role cycle", fx: fixture{
			files: map[string]string{"home/.aws/config": "[profile a]\nrole_arn = r\nsource_profile = b\n[profile b]\nrole_arn = r\nsource_profile = a\n"},
			vars:  map[string]string{"AWS_PROFILE": "a"}},
			want: `profile "a" in ~/.aws/credentials or ~/.aws/config has no access keys`},
		{name: "AWS_PROFILE names a missing profile", fx: fixture{
			files: map[string]string{"home/.aws/credentials": keys}, vars: map[string]string{"AWS_PROFILE": "prod"}},
			want: `AWS_PROFILE selects profile "prod"`},
		{name: "shared credentials file from the environment", fx: fixture{
			files: map[string]string{"elsewhere/creds": keys},
			vars:  map[string]string{"AWS_SHARED_CREDENTIALS_FILE": "$ROOT/elsewhere/creds"}},
			enabled: true, want: "elsewhere/creds"},
		{name: "web identity", fx: fixture{vars: map[string]string{"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": "arn:r"}},
			enabled: true, want: "web identity role arn:r"},
		{name: "unreadable credentials file", fx: fixture{files: map[string]string{"home/.aws/credentials/oops": "dir, not file"}},
			want: "cannot read ~/.aws/credentials"},
	})
}

func TestGCP(t *testing.T) {
	t.Parallel()
	adc := `{"type": "authorized_user", "client_id": "x", "refresh_token": "y"}`
	sa := `{"type": "service_account", "project_id": "sa-proj", "client_email": "bot@sa-proj.iam.gserviceaccount.com"}`
	runChecks(t, "gcp", []checkCase{
		{name: "nothing", want: "gcloud auth application-default login"},
		{name: "ADC and gcloud project", fx: fixture{files: map[string]string{
			"home/.config/gcloud/application_default_credentials.json": adc,
			"home/.config/gcloud/configurations/config_default":        "[core]\naccount = me@example.com\nproject = my-proj\n"}},
			enabled: true, want: "project my-proj; authorized user credentials in ~/.config/gcloud/application_default_credentials.json (me@example.com)"},
		{name: "ADC without a project", fx: fixture{files: map[string]string{
			"home/.config/gcloud/application_default_credentials.json": adc}},
			want: "no project is set: run `gcloud config set project PROJECT_ID`"},
		{name: "active configuration", fx: fixture{files: map[string]string{
			"home/.config/gcloud/application_default_credentials.json": adc,
			"home/.config/gcloud/active_config":                        "work\n",
			"home/.config/gcloud/configurations/config_default":        "[core]\nproject = not-this\n",
			"home/.config/gcloud/configurations/config_work":           "[core]\nproject = work-proj\n"}},
			enabled: true, want: "project work-proj"},
		{name: "service account key with its project", fx: fixture{
			files: map[string]string{"keys/sa.json": sa},
			vars:  map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "$ROOT/keys/sa.json"}},
			enabled: true, want: "project sa-proj; service account credentials in"},
		{name: "project from the environment wins", fx: fixture{
			files: map[string]string{"keys/sa.json": sa},
			vars:  map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "$ROOT/keys/sa.json", "GOOGLE_CLOUD_PROJECT": "env-proj"}},
			enabled: true, want: "project env-proj"},
		{name: "GOOGLE_APPLICATION_CREDENTIALS names a missing file", fx: fixture{
			vars: map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "$ROOT/nope.json"}},
			want: "nope.json, which does not exist"},
		{name: "GOOGLE_APPLICATION_CREDENTIALS names a non-JSON file", fx: fixture{
			files: map[string]string{"keys/sa.json": "not json"},
			vars:  map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": "$ROOT/keys/sa.json"}},
			want: "not a Google credentials JSON file"},
		{name: "CLOUDSDK_CONFIG", fx: fixture{
			files: map[string]string{"gc/application_default_credentials.json": adc, "gc/configurations/config_default": "[core]\nproject = p2\n"},
			vars:  map[string]string{"CLOUDSDK_CONFIG": "$ROOT/gc"}},
			enabled: true, want: "project p2"},
	})
}

func TestAzure(t *testing.T) {
	t.Parallel()
	profile := "\ufeff" + `{"installationId": "i", "subscriptions": [
		{"id": "sub-1", "name": "Dev", "isDefault": false, "user": {"name": "a@x.com", "type": "user"}},
		{"id": "sub-2", "name": "Prod", "isDefault": true, "user": {"name": "b@x.com", "type": "user"}}]}`
	sp := map[string]string{"AZURE_CLIENT_ID": "app", "AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s"}
	runChecks(t, "azure", []checkCase{
		{name: "nothing", want: "run `az login`"},
		{name: "az login", fx: fixture{files: map[string]string{"home/.azure/azureProfile.json": profile, "home/.azure/msal_token_cache.json": "{}"}},
			enabled: true, want: "subscription Prod (sub-2); az login as b@x.com"},
		{name: "profile without a token cache", fx: fixture{files: map[string]string{"home/.azure/azureProfile.json": profile}},
			want: "no Azure login found in ~/.azure"},
		{name: "service principal with a subscription", fx: fixture{vars: map[string]string{"AZURE_CLIENT_ID": "app",
			"AZURE_TENANT_ID": "t", "AZURE_CLIENT_SECRET": "s", "AZURE_SUBSCRIPTION_ID": "sub-9"}},
			enabled: true, want: "subscription sub-9; service principal app"},
		{name: "service principal without a subscription", fx: fixture{vars: sp}, want: "no Azure subscription selected"},
		{name: "corrupt profile", fx: fixture{files: map[string]string{"home/.azure/azureProfile.json": "{", "home/.azure/msal_token_cache.bin": "x"}},
			want: "is not valid JSON"},
	})
}

func TestAPIKeyClouds(t *testing.T) {
	t.Parallel()
	t.Run("lambda", func(t *testing.T) {
		t.Parallel()
		runChecks(t, "lambda", []checkCase{
			{name: "nothing", want: "lambda_keys does not exist"},
			{name: "environment", fx: fixture{vars: map[string]string{"LAMBDA_API_KEY": "k"}}, enabled: true, want: "LAMBDA_API_KEY"},
			{name: "key file", fx: fixture{files: map[string]string{"home/.lambda_cloud/lambda_keys": "api_key = secret_abc\n"}},
				enabled: true, want: "API key in ~/.lambda_cloud/lambda_keys"},
			{name: "key file without a key", fx: fixture{files: map[string]string{"home/.lambda_cloud/lambda_keys": "# empty\n"}},
				want: "has no api_key line"},
		})
	})
	t.Run("runpod", func(t *testing.T) {
		t.Parallel()
		runChecks(t, "runpod", []checkCase{
			{name: "nothing", want: "~/.runpod/config.toml does not exist"},
			{name: "environment", fx: fixture{vars: map[string]string{"RUNPOD_API_KEY": "k"}}, enabled: true, want: "RUNPOD_API_KEY"},
			{name: "runpod config profile", fx: fixture{files: map[string]string{"home/.runpod/config.toml": "[default]\napi_key = \"rp_x\" # mine\n"}},
				enabled: true, want: "~/.runpod/config.toml"},
			{name: "runpodctl top-level key", fx: fixture{files: map[string]string{"home/.runpod/config.toml": "apikey = 'rp_y'\napiurl = \"https://x\"\n"}},
				enabled: true, want: "~/.runpod/config.toml"},
			{name: "no key", fx: fixture{files: map[string]string{"home/.runpod/config.toml": "[other]\napi_key = \"k\"\n"}},
				want: "has no API key"},
		})
	})
	t.Run("paperspace", func(t *testing.T) {
		t.Parallel()
		runChecks(t, "paperspace", []checkCase{
			{name: "nothing", want: "~/.paperspace/config.json does not exist"},
			{name: "environment", fx: fixture{vars: map[string]string{"PAPERSPACE_API_KEY": "k"}}, enabled: true, want: "PAPERSPACE_API_KEY"},
			{name: "config file", fx: fixture{files: map[string]string{"home/.paperspace/config.json": `{"apiKey": "ps_abc"}`}},
				enabled: true, want: "API key in ~/.paperspace/config.json"},
			{name: "no apiKey", fx: fixture{files: map[string]string{"home/.paperspace/config.json": `{"team": "x"}`}},
				want: "~/.paperspace/config.json: no apiKey"},
			{name: "not JSON", fx: fixture{files: map[string]string{"home/.paperspace/config.json": "apiKey = x"}},
				want: "~/.paperspace/config.json: not JSON"},
		})
	})
	t.Run("nebius", func(t *testing.T) {
		t.Parallel()
		runChecks(t, "nebius", []checkCase{
			{name: "nothing", want: "no Nebius credentials"},
			{name: "environment", fx: fixture{vars: map[string]string{"NEBIUS_IAM_TOKEN": "ne1"}}, enabled: true, want: "IAM token in NEBIUS_IAM_TOKEN"},
			{name: "token file and tenant", fx: fixture{files: map[string]string{"home/.nebius/NEBIUS_IAM_TOKEN.txt": "ne1\n",
				"home/.nebius/NEBIUS_TENANT_ID.txt": "tenant-e00x\n"}}, enabled: true, want: "~/.nebius/NEBIUS_IAM_TOKEN.txt, tenant tenant-e00x"},
			{name: "key without kid", fx: fixture{files: map[string]string{"home/.nebius/credentials.json": `{"subject-credentials": {"sub": "x"}}`}},
				want: "no subject-credentials with private-key, kid and sub"},
		})
	})
}

func TestOwnedInfra(t *testing.T) {
	t.Parallel()
	kube := "apiVersion: v1\nkind: Config\ncurrent-context: prod\ncontexts:\n- name: dev\n  context: {cluster: c1, user: u}\n- name: prod\n  context: {cluster: c2, user: u}\n"
	t.Run("kubernetes", func(t *testing.T) {
		t.Parallel()
		runChecks(t, "kubernetes", []checkCase{
			{name: "nothing", want: "~/.kube/config does not exist"},
			{name: "default kubeconfig", fx: fixture{files: map[string]string{"home/.kube/config": kube}},
				enabled: true, want: "kubeconfig ~/.kube/config; current context prod", contexts: []string{"dev", "prod"}},
			{name: "KUBECONFIG list merges and skips missing files", fx: fixture{
				files: map[string]string{"k/a": "contexts:\n- name: a1\n", "k/b": kube},
				vars:  map[string]string{"KUBECONFIG": "$ROOT/k/missing:$ROOT/k/a:$ROOT/k/b"}},
				enabled: true, want: "current context prod", contexts: []string{"a1", "dev", "prod"}},
			{name: "no contexts", fx: fixture{files: map[string]string{"home/.kube/config": "apiVersion: v1\nclusters: []\n"}},
				want: "has no contexts"},
			{name: "bad YAML", fx: fixture{files: map[string]string{"home/.kube/config": "contexts: [\n"}},
				want: "is not valid YAML"},
		})
	})
	t.Run("ssh", func(t *testing.T) {
		t.Parallel()
		pools := "# my machines\ngpu-box:\n  user: me\n  hosts:\n    - 10.0.0.1\nlab:\n  hosts: [10.0.0.2, 10.0.0.3]\n"
		runChecks(t, "ssh", []checkCase{
			{name: "nothing", want: "describe your machines in"},
			{name: "pools", fx: fixture{files: map[string]string{"stix/ssh_node_pools.yaml": pools}},
				enabled: true, want: "node pools in", contexts: []string{"gpu-box", "lab"}},
			{name: "no pools", fx: fixture{files: map[string]string{"stix/ssh_node_pools.yaml": "# nothing yet\n"}},
				want: "no node pools"},
			{name: "a pool that is not a mapping", fx: fixture{files: map[string]string{"stix/ssh_node_pools.yaml": pools + "stray: 3\n"}},
				want: "ssh_node_pools.yaml:8:8: pool \"stray\": expected a mapping with `hosts`"},
			{name: "bad YAML", fx: fixture{files: map[string]string{"stix/ssh_node_pools.yaml": "a: [\n"}},
				want: "invalid YAML"},
		})
	})
	t.Run("slurm", func(t *testing.T) {
		t.Parallel()
		runChecks(t, "slurm", []checkCase{
			{name: "nothing", want: "no Slurm cluster"},
			{name: "SkyPilot's slurm config", fx: fixture{files: map[string]string{"home/.slurm/config": "Host hpc1 hpc2\n  HostName login.example.com\nHost *\n  User me\nHost=hpc3\n"}},
				enabled: true, want: "clusters from ~/.slurm/config", contexts: []string{"hpc1", "hpc2", "hpc3"}},
			{name: "system slurm.conf", fx: fixture{files: map[string]string{"sys/etc/slurm/slurm.conf": "# conf\nClusterName=campus\nSlurmctldHost=head\n"}},
				enabled: true, want: "slurm.conf", contexts: []string{"campus"}},
			{name: "SLURM_CONF", fx: fixture{files: map[string]string{"conf/slurm.conf": "ClusterName=lab\n"},
				vars: map[string]string{"SLURM_CONF": "$ROOT/conf/slurm.conf"}},
				enabled: true, contexts: []string{"lab"}},
			{name: "sinfo on PATH", fx: fixture{files: map[string]string{"bin/sinfo": "#!/bin/sh\n|x"},
				vars: map[string]string{"PATH": "$ROOT/nothing:$ROOT/bin"}},
				enabled: true, want: "sinfo at ", contexts: []string{"local"}},
			{name: "a non-executable sinfo does not count", fx: fixture{files: map[string]string{"bin/sinfo": "text"},
				vars: map[string]string{"PATH": "$ROOT/bin"}},
				want: "no Slurm cluster"},
		})
	})
}

func TestLocalIsAlwaysEnabled(t *testing.T) {
	t.Parallel()
	rs := Check(context.Background(), Env{}, "local")
	if len(rs) != 1 || !rs[0].Enabled {
		t.Fatalf("got %+v", rs)
	}
}

func TestCheckSelectsAndOrders(t *testing.T) {
	t.Parallel()
	e, _ := fixture{}.env(t)
	all := Check(context.Background(), e)
	var names []string
	for _, r := range all {
		names = append(names, r.Infra)
	}
	if !slices.Equal(names, Names()) {
		t.Errorf("Check() order = %v, want %v", names, Names())
	}
	if got := Enabled(all); !slices.Equal(got, []string{"local"}) {
		t.Errorf("on an empty machine enabled = %v, want only local", got)
	}
	some := Check(context.Background(), e, "LOCAL", "k8s", "nonsense", "aws")
	names = nil
	for _, r := range some {
		names = append(names, r.Infra)
	}
	if want := []string{"aws", "kubernetes", "local"}; !slices.Equal(names, want) {
		t.Errorf("Check(LOCAL, k8s, nonsense, aws) = %v, want %v in check order", names, want)
	}
}

func TestNamesAndKinds(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"AWS": "aws", " k8s ": "kubernetes", "Kubernetes": "kubernetes", "ssh": "ssh"} {
		if got, ok := Canonical(in); !ok || got != want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	if _, ok := Canonical("cudo"); ok {
		t.Error("Canonical(cudo) is ok; stix does not check cudo")
	}
	tests := []struct {
		enabled []string
		free    bool
	}{
		{nil, true},
		{[]string{"local", "docker"}, true},
		{[]string{"kubernetes", "local"}, true},
		{[]string{"aws", "local"}, false},
		{[]string{"nebius"}, false}, // any catalog cloud is priced
	}
	for _, tt := range tests {
		if got := FreeAllowed(tt.enabled); got != tt.free {
			t.Errorf("FreeAllowed(%v) = %v, want %v", tt.enabled, got, tt.free)
		}
	}
	if KindOf("ssh") != Owned || KindOf("docker") != Free || KindOf("gcp") != Priced {
		t.Error("KindOf: wrong kinds")
	}
}
