package kube

import (
	"context"
	"encoding/json"
	"fmt"
)

// GetDeploymentRaw returns a Deployment's JSON as the API server sent it: fields newer than this
// client's k8s.io/api types included, which a typed Get drops on decoding. `up` and `down` plan on
// these bytes so that they keep such fields and restore them exactly.
func (c *Client) GetDeploymentRaw(ctx context.Context, name string) ([]byte, error) {
	if c.config == nil {
		// a clientset given to NewForClientset (the tests' fakes) holds typed objects only and has no
		// REST client to ask for bytes: their JSON is all there is to send
		d, err := c.GetDeployment(ctx, name)
		if err != nil {
			return nil, err
		}
		return json.Marshal(d)
	}
	// JSON, not the protobuf a clientset may negotiate: the plan reads and patches JSON
	raw, err := c.cs.AppsV1().RESTClient().Get().Namespace(c.Namespace).Resource("deployments").Name(name).
		SetHeader("Accept", "application/json").DoRaw(ctx)
	if err != nil {
		return nil, Explain(err, "get", "deployments", c.Namespace)
	}
	return raw, nil
}

// RawPlanFunc plans the JSON patch for a Deployment from its JSON as the API server sent it; a nil
// patch means there is nothing to do. Its errors are returned as they are.
type RawPlanFunc func(raw []byte) ([]byte, error)

// PatchPlannedRaw reads Deployment name with GetDeploymentRaw and applies the patch plan returns for
// it. When the patch fails because the Deployment changed after it was read (see isStale), it reads
// and plans again, up to staleRetries times. An error of the API is wrapped as "<verb> deployment
// NAME: ...", e.g. verb "patching" or "restoring".
func (c *Client) PatchPlannedRaw(ctx context.Context, name, verb string, plan RawPlanFunc) error {
	for attempt := 0; ; attempt++ {
		raw, err := c.GetDeploymentRaw(ctx, name)
		if err != nil {
			return fmt.Errorf("%s deployment %q: %w", verb, name, err)
		}
		patch, err := plan(raw)
		if err != nil || patch == nil {
			return err
		}
		_, err = c.PatchDeployment(ctx, name, patch)
		if err == nil {
			return nil
		}
		if attempt < staleRetries && isStale(err) {
			continue
		}
		return fmt.Errorf("%s deployment %q: %w", verb, name, err)
	}
}
