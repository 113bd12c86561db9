package kube

import (
	"context"

	corev1 "k8s.io/api/core/v1"
)

// SubscribePods follows the pods matching selector through an informer of this call's own, for a
// process with one consumer per selector (`logs`); see PodInformers.SubscribePods for the calls made.
// `up`, where several consumers follow the same pods, uses a SharingClient instead.
func (c *Client) SubscribePods(ctx context.Context, selector string, onPod func(pod *corev1.Pod, gone bool), onErr func(error)) error {
	return NewPodInformers(c.cs, c.Namespace).SubscribePods(ctx, selector, onPod, onErr)
}

// SharingClient is a Client whose SubscribePods shares one informer per selector among all its
// callers: `up` hands the same one to the dev loop, the live view and the log follower, so each
// Deployment's pods are listed and watched once.
type SharingClient struct {
	*Client
	informers *PodInformers
}

// Sharing returns c with one pod informer per selector shared among every subscriber.
func (c *Client) Sharing() *SharingClient {
	return &SharingClient{Client: c, informers: NewPodInformers(c.cs, c.Namespace)}
}

// SubscribePods is PodInformers.SubscribePods on the shared informers.
func (s *SharingClient) SubscribePods(ctx context.Context, selector string, onPod func(pod *corev1.Pod, gone bool), onErr func(error)) error {
	return s.informers.SubscribePods(ctx, selector, onPod, onErr)
}
