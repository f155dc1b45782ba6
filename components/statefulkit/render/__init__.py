"""Pure functions from validated specs to Kubernetes manifests and application files. No Pulumi import."""
