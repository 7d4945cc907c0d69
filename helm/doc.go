// Package helm tests the interopgate chart with the Helm SDK. It is a module of its own so that
// the product's module does not carry Kubernetes' dependencies.
package helm
