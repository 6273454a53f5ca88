package azure

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/stix-run/stix/internal/cloud"
)

// The cluster's managed identity. A VM that powers itself off stays allocated and billed on Azure; only
// Resource Manager's deallocate or delete ends that, and the user's token would expire on the head within the
// hour. So, as SkyPilot does, each cluster gets a user-assigned managed identity in its resource group, with the
// Contributor role on that group only, attached to every VM: the head gets a token for it from the instance
// metadata service and deallocates (autostop) or deletes (autodown) the cluster itself (autostop.go).
//
// The identity and its role assignment are made through the SDK's generic pipeline rather than the
// armmsi and armauthorization modules, which would add their start-up cost to every stix command.
const (
	// IMDSEnv overrides the instance metadata service's token endpoint the head asks, for tests.
	IMDSEnv = "STIX_AZURE_IMDS_ENDPOINT"
	// imdsToken is the token endpoint of Azure's instance metadata service, reached from inside a VM.
	imdsToken = "http://169.254.169.254/metadata/identity/oauth2/token"
	imdsAPI   = "2018-02-01"

	identityAPI = "2023-01-31" // Microsoft.ManagedIdentity/userAssignedIdentities
	roleAPI     = "2022-04-01" // Microsoft.Authorization/roleAssignments
	computeAPI  = "2025-04-01" // Microsoft.Compute/virtualMachines, as the SDK's client asks
	groupAPI    = "2021-04-01" // resource groups, as the SDK's client asks

	// contributorRole is the id of Azure's built-in Contributor role definition.
	contributorRole = "b24988ac-6180-42a0-ab88-20f7382dd24c"
)

// identityName is the name of the cluster's managed identity.
func identityName(cluster string) string { return resourceName(cluster) + "-identity" }

func groupPath(sub, group string) string {
	return "/subscriptions/" + url.PathEscape(sub) + "/resourceGroups/" + url.PathEscape(group)
}

func identityPath(sub, group, cluster string) string {
	return groupPath(sub, group) + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + identityName(cluster)
}

// roleAssignmentPath is the identity's role assignment on the group: its name is a GUID derived from the group
// and the identity, so that down finds it without stix's state.
func roleAssignmentPath(sub, group, cluster string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(groupPath(sub, group) + "/" + identityName(cluster))))
	sum[6] = sum[6]&0x0f | 0x40 // version 4 form
	sum[8] = sum[8]&0x3f | 0x80
	guid := fmt.Sprintf("%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	return groupPath(sub, group) + "/providers/Microsoft.Authorization/roleAssignments/" + guid
}

// armCall sends one request to Resource Manager through the SDK's pipeline (the credential, retries) and decodes
// the JSON answer into out (when not nil). A status outside ok is the SDK's *azcore.ResponseError.
func (c *clients) armCall(ctx context.Context, method, path, api string, body, out any, ok ...int) error {
	req, err := runtime.NewRequest(ctx, method, runtime.JoinPaths(c.raw.Endpoint(), path))
	if err != nil {
		return err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", api)
	req.Raw().URL.RawQuery = q.Encode()
	req.Raw().Header.Set("Accept", "application/json")
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			return err
		}
	}
	resp, err := c.raw.Pipeline().Do(req)
	if err != nil {
		return err
	}
	if !runtime.HasStatusCode(resp, ok...) {
		return runtime.NewResponseError(resp)
	}
	if out == nil {
		return nil
	}
	return runtime.UnmarshalAsJSON(resp, out)
}

// clusterIdentity is the cluster's managed identity: its resource id and client id.
type clusterIdentity struct{ id, clientID string }

// makeIdentity makes the cluster's user-assigned managed identity in group and gives it the Contributor role on
// the group, so that the head can deallocate or delete the cluster.
func (p *Provider) makeIdentity(ctx context.Context, c *clients, place cloud.Place, group, cluster string) (clusterIdentity, error) {
	name := identityName(cluster)
	var made struct {
		ID         string `json:"id"`
		Properties struct {
			ClientID    string `json:"clientId"`
			PrincipalID string `json:"principalId"`
		} `json:"properties"`
	}
	body := map[string]any{"location": place.Region, "tags": tags(cluster)}
	if err := c.armCall(ctx, http.MethodPut, identityPath(c.sub, group, cluster), identityAPI, body, &made, 200, 201); err != nil {
		return clusterIdentity{}, classify("create managed identity "+name, place, err)
	}
	if made.ID == "" || made.Properties.ClientID == "" || made.Properties.PrincipalID == "" {
		return clusterIdentity{}, fmt.Errorf("create managed identity %s in %s: Azure returned no client or principal id", name, place)
	}
	role := map[string]any{"properties": map[string]any{
		"roleDefinitionId": "/subscriptions/" + c.sub + "/providers/Microsoft.Authorization/roleDefinitions/" + contributorRole,
		"principalId":      made.Properties.PrincipalID,
		// The principal's type spares Azure the directory lookup that fails while a new identity replicates.
		"principalType": "ServicePrincipal"}}
	var err error
	for try := 1; ; try++ {
		err = c.armCall(ctx, http.MethodPut, roleAssignmentPath(c.sub, group, cluster), roleAPI, role, nil, 200, 201)
		var re *azcore.ResponseError
		if err == nil || !errors.As(err, &re) || re.ErrorCode != "PrincipalNotFound" || try == c.principalTries {
			break
		}
		select {
		case <-ctx.Done():
			return clusterIdentity{}, ctx.Err()
		case <-time.After(c.principalWait):
		}
	}
	if err != nil {
		return clusterIdentity{}, fmt.Errorf("give managed identity %s the Contributor role on resource group %s "+
			"(stix needs permission to create role assignments there, as Owner or User Access Administrator have): %w",
			name, group, classify("create role assignment", place, err))
	}
	return clusterIdentity{id: made.ID, clientID: made.Properties.ClientID}, nil
}

// deleteIdentity deletes the identity's role assignment and the identity; what is gone already is fine.
func (p *Provider) deleteIdentity(ctx context.Context, c *clients, place cloud.Place, group, cluster string) error {
	err := c.armCall(ctx, http.MethodDelete, roleAssignmentPath(c.sub, group, cluster), roleAPI, nil, nil, 200, 204)
	if err != nil && !isNotFound(err) {
		return classify("delete the role assignment of managed identity "+identityName(cluster), place, err)
	}
	err = c.armCall(ctx, http.MethodDelete, identityPath(c.sub, group, cluster), identityAPI, nil, nil, 200, 204)
	if err != nil && !isNotFound(err) {
		return classify("delete managed identity "+identityName(cluster), place, err)
	}
	return nil
}
