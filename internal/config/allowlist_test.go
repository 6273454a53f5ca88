package config

import (
	"strings"
	"testing"
)

func TestAllowList(t *testing.T) {
	t.Parallel()
	load := func(args ...string) *Config {
		t.Helper()
		cfg, err := Load(Inputs{CLI: args})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	unset := load().AllowedList("allowed_clouds", true)
	if !unset.Allows("aws") || unset.Check("infra", "aws") != nil {
		t.Errorf("an unset list must allow everything: %+v", unset)
	}
	clouds := load("allowed_clouds=[AWS]").AllowedList("allowed_clouds", true)
	if !clouds.Allows("aws") || !clouds.Allows("") || clouds.Allows("gcp") {
		t.Errorf("allowed_clouds [AWS]: %+v", clouds)
	}
	err := clouds.Check("infra", "gcp")
	if err == nil || !strings.Contains(err.Error(), "infra gcp is not allowed by allowed_clouds [AWS] (set at --config): add gcp to allowed_clouds") {
		t.Errorf("Check = %v", err)
	}
	pools := load("ssh.allowed_node_pools=[Pool1]").AllowedList("ssh.allowed_node_pools", false)
	if pools.Allows("pool1") || !pools.Allows("Pool1") {
		t.Errorf("pool names are exact: %+v", pools)
	}
	if none := load("allowed_clouds=[]").AllowedList("allowed_clouds", true); none.Allows("aws") {
		t.Errorf("an empty list allows nothing: %+v", none)
	}
}
